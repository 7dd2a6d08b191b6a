"""The fused chunk top-2 kernel alone, over a few tile configurations, against the bare fp16 matmul (GPU only).

    python benchmarks/bench_kernel.py [--nq 10000] [--n 1000000] [--d 768] [--sub 128] [--best-to FILE]

Checks each configuration's chunk maxima against torch on a slice first; --best-to writes the fastest
configuration as "BLOCK_M,BLOCK_N,BLOCK_K,stages,warps,tma" (for SPACEKIT_TOPK_KERNEL_CONFIG).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_name, print_table, timed, write_results

from spacekit import backend

CONFIGS = ["128,256,64,3,8,0", "128,256,64,4,8,0", "128,128,32,4,8,0",   # pointer loads (the last: no spills, ptxas)
           "128,256,64,3,8,1", "128,256,64,4,8,1", "128,128,64,4,8,1", "256,128,64,3,8,1"]  # persistent, TMA


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nq", type=int, default=10_000)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--sub", type=int, default=128)
    p.add_argument("--best-to", default=None)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    from spacekit.kernels.topk_triton import chunk_top2

    dev = backend.device("cuda")
    g = torch.Generator(device=dev).manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(args.nq, args.d, device=dev, generator=g), dim=1).half()
    c = torch.nn.functional.normalize(torch.randn(args.n, args.d, device=dev, generator=g), dim=1).half()
    def bare_matmul():
        for i in range(0, args.nq, 2048):                               # as bench_topk: 2,048 queries at a time
            q[i:i + 2048] @ c.T

    bare = timed(bare_matmul, dev, 5, warmup=1)
    ref = (q[:256].float() @ c[:65536].float().T).view(256, -1, args.sub).amax(2)
    rows = []
    for cfg in CONFIGS:
        os.environ["SPACEKIT_TOPK_KERNEL_CONFIG"] = cfg
        try:
            best, _, _ = chunk_top2(q[:256], c[:65536], args.sub)
            err = float((best - ref).abs().max())
            t = timed(lambda: chunk_top2(q, c, args.sub), dev, 5, warmup=1)
        except Exception as e:  # a configuration that does not fit this GPU (shared memory, registers)
            rows.append({"config": cfg, "error": f"{type(e).__name__}: {str(e)[:80]}"})
            continue
        tflops = 2 * args.nq * args.n * args.d / t / 1e12
        rows.append({"config": cfg, "kernel_s": t, "x_bare_matmul": t / bare, "tflops": tflops, "max_err": err})
        print(rows[-1], flush=True)
    good = [r for r in rows if "kernel_s" in r and r["max_err"] < 1e-3]
    if good:                                           # the fastest configuration with one chunk per column block
        cfg = min(good, key=lambda r: r["kernel_s"])["config"]
        os.environ["SPACEKIT_TOPK_KERNEL_CONFIG"] = cfg
        block_n = int(cfg.split(",")[1])
        t = timed(lambda: chunk_top2(q, c, block_n), dev, 5, warmup=1)
        rows.append({"config": f"{cfg} chunk {block_n}", "kernel_s": t, "x_bare_matmul": t / bare,
                     "tflops": 2 * args.nq * args.n * args.d / t / 1e12})
    os.environ.pop("SPACEKIT_TOPK_KERNEL_CONFIG", None)
    print(f"device: {device_name(dev)}; {args.nq}x{args.n}x{args.d} fp16, chunk {args.sub}; bare matmul {bare:.4f} s")
    print_table(rows, ["config", "kernel_s", "x_bare_matmul", "tflops", "max_err", "error"])
    if good and args.best_to:
        Path(args.best_to).write_text(min(good, key=lambda r: r["kernel_s"])["config"])
    print("wrote", write_results("kernel", dev, {"bare_matmul_s": bare, "rows": rows}, args.out))


if __name__ == "__main__":
    main()
