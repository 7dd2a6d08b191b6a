"""Exact uniformity and kNN overlap: spacekit (tiled) vs the naive torch.pdist reference where it fits; anisotropy,
effective rank and linear CKA (tiled, float64) at the same N vs the whole-matrix float64 formulas on a prefix.

    python benchmarks/bench_geometry.py [--n 100000] [--d 768] [--knn-n 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_name, print_table, timed, write_results

from spacekit import backend
from spacekit.ops import geometry


def noisy(x: torch.Tensor) -> torch.Tensor:
    """x moved by noise of half its norm, renormalised: a fine-tuned model's space (kNN overlap around 0.3)."""
    return torch.nn.functional.normalize(x + 0.5 * torch.randn_like(x) / x.shape[1] ** 0.5, dim=1)


def whole_matrix(x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """The textbook float64 formulas over whole matrices (the reference; memory grows with N)."""
    x, y = x.double(), y.double()
    u = torch.nn.functional.normalize(x, dim=1)
    s = u.sum(0)
    sv = torch.linalg.svdvals(x)
    p = sv / sv.sum()
    xc, yc = x - x.mean(0), y - y.mean(0)
    return {"anisotropy": float((s @ s - x.shape[0]) / (x.shape[0] * (x.shape[0] - 1))),
            "effective_rank": float(torch.exp(-(p * p.log()).sum())),
            "linear_cka": float((yc.T @ xc).square().sum() / ((xc.T @ xc).norm() * (yc.T @ yc).norm()))}


def space_statistics(x: torch.Tensor, y: torch.Tensor | None, dev: torch.device) -> list[dict]:
    """Anisotropy, effective rank and CKA (x vs y, a noisy copy) over all of x, timed, and their relative error
    against whole_matrix on a 20,000-row prefix."""
    y = y if y is not None else noisy(x)
    fns = {"anisotropy": lambda a, b: geometry.anisotropy(a, device=dev),
           "effective_rank": lambda a, b: geometry.effective_rank(a, device=dev),
           "linear_cka": lambda a, b: geometry.linear_cka(a, b, device=dev)}
    m = min(x.shape[0], 20_000)
    ref = {}
    t_ref = timed(lambda: ref.update(whole_matrix(x[:m], y[:m])), dev, 1)
    t_ours = timed(lambda: [f(x[:m], y[:m]) for f in fns.values()], dev, 1)
    rows = [{"what": f"the three at N={m:,}: whole-matrix float64 formulas (reference_s) vs tiled",
             "spacekit_s": t_ours, "reference_s": t_ref}]
    for name, fn in fns.items():
        out = {}
        t = timed(lambda f=fn, o=out: o.setdefault("v", f(x, y)), dev, 1)
        rows.append({"what": f"{name} (float64, tiled), N={x.shape[0]:,}, d={x.shape[1]}", "spacekit_s": t,
                     "value": out["v"], "rel_err": abs(fn(x[:m], y[:m]) - ref[name]) / abs(ref[name])})
    return rows


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
    y = noisy(full[:knn_n])
    t0 = time.perf_counter()
    overlap = geometry.knn_overlap(full[:knn_n], y, k=10, device=dev)
    backend.sync(dev)
    rows.append({"what": f"knn_overlap k=10, N={knn_n:,}, d={args.d}", "spacekit_s": time.perf_counter() - t0,
                 "value": float(overlap.mean())})
    rows += space_statistics(x, y[:n] if knn_n >= n else None, dev)
    print(f"device: {device_name(dev)}")
    print_table(rows, ["what", "spacekit_s", "pdist_s", "reference_s", "value", "rel_err", "peak_gib"])
    print("wrote", write_results("geometry", dev, {"rows": rows}, args.out))


if __name__ == "__main__":
    main()
