"""Registers, spills and shared memory of each Triton kernel as ptxas builds it for Hopper / Ampere — no GPU needed.

    python benchmarks/kernel_resources.py [--out DIR]

Compiles the cases of tests/test_kernels_compile.py with Triton's compiler and runs its bundled ptxas -v on the PTX.
A memory-bound kernel needs occupancy (registers a thread x threads a program decide how many programs an SM holds);
spills go through local memory. A static view: speed itself is measured on a GPU (bench_kernel.py, bench_topk.py).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(ROOT.parent / "tests")]
from _common import print_table, write_results  # noqa: E402
from test_kernels_compile import CASES  # noqa: E402


def resources(capability: int, fn, signature: dict, constexprs: dict, options: dict) -> dict:
    """ptxas's registers, spill bytes and the kernel's shared memory for one compiled case."""
    signature = {**signature, **dict.fromkeys(constexprs, "constexpr")}
    compiled = triton.compile(ASTSource(fn=fn, signature=signature, constexprs=constexprs),
                              target=GPUTarget("cuda", capability, 32), options=options)
    ptxas = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas"
    with tempfile.TemporaryDirectory() as tmp:
        ptx = Path(tmp) / "kernel.ptx"
        ptx.write_text(compiled.asm["ptx"])
        arch = "sm_90a" if capability == 90 else f"sm_{capability}"
        info = subprocess.run([str(ptxas), f"-arch={arch}", "-v", str(ptx), "-o", os.devnull],
                              capture_output=True, text=True, check=True).stderr
    number = lambda pattern: int(m.group(1)) if (m := re.search(pattern, info)) else None
    return {"registers": number(r"Used (\d+) registers"), "spill_store_bytes": number(r"(\d+) bytes spill stores"),
            "shared_bytes": compiled.metadata.shared, "warps": options["num_warps"]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=None)
    args = p.parse_args()
    rows = [{"kernel": case, **resources(*CASES[case])} for case in CASES]
    print(f"triton {triton.__version__}; ptxas from its wheel")
    print_table(rows, ["kernel", "registers", "spill_store_bytes", "shared_bytes", "warps"])
    payload = {"triton": triton.__version__, "compiled_for": "sm_90a (Hopper) / sm_80 (Ampere) by ptxas", "rows": rows}
    print("wrote", write_results("kernel-resources", torch.device("cpu"), payload, args.out))


if __name__ == "__main__":
    main()
