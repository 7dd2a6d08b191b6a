"""Exact uniformity and kNN overlap: spacekit (tiled) vs the naive torch.pdist reference where it fits.

    python benchmarks/bench_geometry.py [--n 100000] [--d 768] [--knn-n 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_name, print_table, timed, write_results  # noqa: E402

from spacekit import backend  # noqa: E402
from spacekit.ops import geometry  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=None, help="uniformity N (default 100k CPU, 1M GPU)")
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--knn-n", type=int, default=None, help="kNN overlap N (default 20k CPU, 1M GPU)")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default=None, help="uniformity tile dtype: fp32 (CPU default) or fp16")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    dev = backend.device(args.device)
    gpu = dev.type == "cuda"
    n, knn_n = args.n or (1_000_000 if gpu else 100_000), args.knn_n or (1_000_000 if gpu else 20_000)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype or "fp32"]
    g = torch.Generator(device=dev).manual_seed(0)
    full = torch.nn.functional.normalize(torch.randn(max(n, knn_n), args.d, generator=g, device=dev), dim=1)
    x = full[:n]
    rows = []
    out = {}
    geometry.uniformity(x[:50_000], device=dev, dtype=dtype)  # warm-up (compiles the fused reduction on a GPU)
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    t = timed(lambda: out.setdefault("u", geometry.uniformity(x, device=dev, dtype=dtype)), dev, 1)
    peak = torch.cuda.max_memory_allocated() / 2**30 if gpu else None
    row = {"what": f"uniformity exact, N={n:,}, d={args.d}, {dtype}".replace("torch.", ""), "spacekit_s": t,
           "value": out["u"], "peak_gib": peak}
    m = min(n, 20_000)                                    # pdist reference on a prefix that fits
    xs = x[:m].double()
    ref = {}
    t_ref = timed(lambda: ref.setdefault("u", float(torch.log(torch.exp(-2 * torch.pdist(xs).square()).mean()))),
                  dev, 1)
    t_ours_m = timed(lambda: geometry.uniformity(x[:m], device=dev), dev, 1)
    rows.append(row)
    rows.append({"what": f"uniformity N={m:,}: pdist fp64 reference", "spacekit_s": t_ours_m, "pdist_s": t_ref,
                 "rel_err": abs(geometry.uniformity(x[:m], device=dev) - ref["u"]) / abs(ref["u"])})
    y = torch.nn.functional.normalize(full[:knn_n] + 0.2 * torch.randn_like(full[:knn_n]), dim=1)
    t0 = time.perf_counter()
    overlap = geometry.knn_overlap(full[:knn_n], y, k=10, device=dev)
    backend.sync(dev)
    rows.append({"what": f"knn_overlap k=10, N={knn_n:,}, d={args.d}", "spacekit_s": time.perf_counter() - t0,
                 "value": float(overlap.mean())})
    print(f"device: {device_name(dev)}")
    print_table(rows, ["what", "spacekit_s", "pdist_s", "value", "rel_err", "peak_gib"])
    print("wrote", write_results("geometry", dev, {"rows": rows}, args.out))


if __name__ == "__main__":
    main()
