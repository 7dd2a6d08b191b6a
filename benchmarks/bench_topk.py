"""Exact top-k: spacekit vs bare matmul vs torch matmul+topk vs sentence-transformers semantic_search vs faiss.

    python benchmarks/bench_topk.py [--nq 10000] [--n 200000] [--d 384] [--k 10[,100,...]] [--dtypes fp32]

Random unit vectors (drawn on the device), given to spacekit in fp32 (spacekit_s: it makes its own fp16/bf16
copies) and, for fp16/bf16, also as the very tensors the bare matmul multiplies (spacekit_lowin_s: the exact search
over their fp32 values). Every method is checked against spacekit's ids (agreement %), and spacekit's ids are
checked against a float64 re-score of a query sample. Ratios are against the bare matmul of the same size. On a
GPU, spacekit is also timed with the fused kernel switched off (SPACEKIT_KERNELS=0: the torch path); on the CPU,
SPACEKIT_CPU_CANDIDATES=fp32 times the route without bf16 candidates.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # before numpy loads, as the spacekit CLI sets it
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_name, print_table, timed, write_results

from spacekit import backend, kernels
from spacekit.ops import topk
from spacekit.ops.similarity import cpu_blas, cpu_candidates

TORCH_DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def chunked(q, c, fn, rows=2048):
    """Run fn over query chunks (the usual torch way to bound memory)."""
    return [fn(q[lo:lo + rows], c) for lo in range(0, q.shape[0], rows)]


def check_exact(q, c, idx, k, sample=200) -> float:
    """Max |float64 cosine of returned id - float64 k-best cosine| over a query sample."""
    unit = torch.nn.functional.normalize
    qs = unit(q[:sample].double(), dim=1)
    ref = torch.cat([qs @ unit(c[lo:lo + 100_000].double(), dim=1).T for lo in range(0, c.shape[0], 100_000)], dim=1)
    best = ref.topk(k, dim=1).values
    got = ref.gather(1, idx[:sample].to(ref.device))
    return float((got - best).abs().max())


def bench_dtype(name: str, q, c, k: int, dev, repeat: int, peers: set[str]) -> dict:
    """One row: bare matmul, spacekit, and the peers at one precision."""
    td = TORCH_DTYPES[name]
    qd, cd = q.to(td), c.to(td)
    torch.backends.cuda.matmul.allow_tf32 = name == "tf32"
    row = {"dtype": name, "size": f"{q.shape[0]}x{c.shape[0]}x{q.shape[1]}", "k": k}
    row["bare_matmul_s"] = timed(lambda: chunked(qd, cd, lambda a, b: a @ b.T), dev, repeat, warmup=1)
    out = {}
    search = lambda qq, cc: topk(qq, cc, k, device=dev, candidate_precision=name)
    row["spacekit_s"] = timed(lambda: out.setdefault("r", search(q, c)), dev, repeat, warmup=1)
    s_idx = out["r"][1]
    row["spacekit_max_err_f64"] = check_exact(q, c, s_idx, k)
    if td in (torch.float16, torch.bfloat16):                  # the same vectors given in fp16/bf16, as the matmul
        row["spacekit_lowin_s"] = timed(lambda: out.__setitem__("low", search(qd, cd)), dev, repeat, warmup=1)
        row["spacekit_lowin_max_err_f64"] = check_exact(qd, cd, out["low"][1], k)
    if dev.type == "cuda" and kernels.available(dev):
        os.environ["SPACEKIT_KERNELS"] = "0"
        try:
            row["spacekit_torch_path_s"] = timed(lambda: out.setdefault("t", search(q, c)), dev, repeat, warmup=1)
        finally:
            del os.environ["SPACEKIT_KERNELS"]
        row["torch_path_agree_%"] = 100 * float((out["t"][1] == s_idx).float().mean())
    if "torch" in peers:
        res = {}
        row["torch_mm_topk_s"] = timed(lambda: res.__setitem__("r", chunked(
            qd, cd, lambda a, b: torch.topk(a @ b.T, k, dim=1))), dev, repeat, warmup=1)
        t_idx = torch.cat([r.indices for r in res["r"]]).cpu()
        row["torch_agree_%"] = 100 * float((t_idx == s_idx).float().mean())
    if "st" in peers and k <= 100:
        from sentence_transformers.util import semantic_search

        row["semantic_search_s"] = timed(lambda: semantic_search(qd, cd, top_k=k), dev, 1,
                                         warmup=1 if dev.type == "cuda" else 0)
    if "faiss" in peers and name == "fp32":
        try:
            import faiss
        except ImportError:
            faiss = None
        if faiss is not None:
            index = faiss.IndexFlatIP(q.shape[1])
            index.add(c.cpu().numpy())
            qn, res = q.cpu().numpy(), {}
            row["faiss_cpu_s"] = timed(lambda: res.__setitem__("r", index.search(qn, k)), torch.device("cpu"),
                                       repeat, warmup=1)
            row["faiss_agree_%"] = 100 * float((torch.from_numpy(res["r"][1]) == s_idx).float().mean())
    for key in ["spacekit_s", "spacekit_lowin_s", "spacekit_torch_path_s", "torch_mm_topk_s", "semantic_search_s",
                "faiss_cpu_s"]:
        if key in row:
            row[key[:-2] + "_x_matmul"] = row[key] / row["bare_matmul_s"]
    print(row, flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nq", type=int, default=10_000)
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--d", type=int, default=384)
    p.add_argument("--k", default="10", help="one k or several, comma-separated")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtypes", default=None, help="default fp32 on CPU; fp32,tf32,fp16 on GPU")
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--peers", default="torch,st,faiss")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    dev = backend.device(args.device)
    dtypes = (args.dtypes or ("fp32" if dev.type == "cpu" else "fp32,tf32,fp16")).split(",")
    repeat = args.repeat or (1 if dev.type == "cpu" else 5)
    peers = set(args.peers.split(","))
    g = torch.Generator(device=dev).manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(args.nq, args.d, generator=g, device=dev), dim=1)
    c = torch.nn.functional.normalize(torch.randn(args.n, args.d, generator=g, device=dev), dim=1)
    ks = [int(k) for k in args.k.split(",")]
    rows = [bench_dtype(name, q, c, k, dev, repeat, peers) for k in ks for name in dtypes]
    cpu = {"cpu_blas": cpu_blas(), "cpu_candidates": cpu_candidates() or "fp32"} if dev.type == "cpu" else {}
    print(f"device: {device_name(dev)}; spacekit on the CPU: {cpu or '-'}")
    print_table(rows, ["dtype", "size", "k", "bare_matmul_s", "spacekit_s", "spacekit_x_matmul", "spacekit_lowin_s",
                       "spacekit_lowin_x_matmul", "spacekit_torch_path_s", "torch_mm_topk_s", "semantic_search_s",
                       "faiss_cpu_s", "spacekit_max_err_f64"])
    name = f"topk-{args.nq}x{args.n}-d{args.d}-k{args.k.replace(',', '_')}"
    print("wrote", write_results(name, dev, {"rows": rows, **cpu}, args.out))


if __name__ == "__main__":
    main()
