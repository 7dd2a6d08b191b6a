"""Sparse and multi-vector paths against their peers in one process: SPLADE encoding (spacekit vs
SparseEncoder.encode, same model and texts), exact sparse top-k (spacekit vs scipy's product + argsort and torch's
sparse product + topk), and exact MaxSim top-k (spacekit vs sentence-transformers' maxsim + topk).

    python benchmarks/bench_sparse.py --splade FOLDER [--n 256] [--docs 100000] [--active 200] [--queries 1000]

FOLDER: a SparseEncoder folder (e.g. scripts/train_scifact_splade.py's after model); without it the encoding row is
skipped. The search rows use random sparse data of SPLADE's shape (vocabulary 30522, `--active` active dimensions
per document, a fifth of that per query) and random token vectors (128 dimensions, 32 per query, 180 per document).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_name, print_table, write_results
from bench_encode import scifact_texts

from spacekit import backend


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    """(fastest seconds of `repeat` runs, the last result)."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def encode_row(folder: str, n: int) -> dict:
    """spacekit's SPLADE encoding against SparseEncoder.encode (batch 32, fp32, CPU), the same texts."""
    from sentence_transformers import SparseEncoder

    from spacekit.embed import load_model

    texts = scifact_texts(n)
    ours, theirs = load_model(folder), SparseEncoder(folder, device="cpu")
    ours.encode(texts[:16], progress=False)
    theirs.encode(texts[:16])
    t_sk, x = best_of(lambda: ours.encode(texts, progress=False), 1)
    t_st, y = best_of(lambda: theirs.encode_document(texts, batch_size=32), 1)
    diff = float(np.abs(x.toarray() - y.to_dense().numpy()).max())
    return {"what": f"SPLADE encode, {n} SciFact docs", "spacekit_s": t_sk, "peer": "SparseEncoder.encode",
            "peer_s": t_st, "peer_over_spacekit": t_st / t_sk, "check": f"max |diff| {diff:.1e}"}


def sparse_rows(docs: int, active: int, queries: int, k: int) -> list[dict]:
    """Exact sparse top-k: spacekit, scipy (product then argpartition + sort), torch (sparse product + topk)."""
    from spacekit.ops.sparse import sparse_topk

    rng = np.random.default_rng(0)

    def random_csr(rows: int, per_row: int) -> sp.csr_matrix:
        cols = np.sort(rng.choice(30522, (rows, per_row)), axis=1)
        m = sp.csr_matrix((rng.random(rows * per_row).astype(np.float32), cols.ravel(),
                           np.arange(0, rows * per_row + 1, per_row)), shape=(rows, 30522))
        m.sum_duplicates()
        return m

    d, q = random_csr(docs, active), random_csr(queries, max(1, active // 5))
    t_sk, (_scores, idx) = best_of(lambda: sparse_topk(q, d, k), 2)

    def scipy_topk():
        s = (q @ d.T).toarray()
        part = np.argpartition(-s, k, axis=1)[:, :k]
        return np.take_along_axis(part, np.argsort(-np.take_along_axis(s, part, 1), axis=1), 1)

    def torch_topk():
        dt = torch.sparse_csr_tensor(torch.from_numpy(d.indptr.astype(np.int64)),
                                     torch.from_numpy(d.indices.astype(np.int64)), torch.from_numpy(d.data),
                                     size=d.shape)
        return torch.topk((dt @ torch.from_numpy(q.toarray()).T).T, k, dim=1).indices

    t_scipy, ref = best_of(scipy_topk, 2)
    t_torch, _ = best_of(torch_topk, 2)
    agree = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(idx.numpy(), ref, strict=True)]))
    what = f"sparse top-{k}, {queries} q x {docs:,} docs, {active} active"
    return [{"what": what, "spacekit_s": t_sk, "peer": "scipy product + argpartition", "peer_s": t_scipy,
             "peer_over_spacekit": t_scipy / t_sk, "check": f"top-{k} overlap {agree:.4f}"},
            {"what": what, "spacekit_s": t_sk, "peer": "torch sparse product + topk", "peer_s": t_torch,
             "peer_over_spacekit": t_torch / t_sk, "check": ""}]


def maxsim_row(docs: int, queries: int, k: int) -> dict:
    """Exact MaxSim top-k: spacekit against sentence-transformers' maxsim (all scores) + torch.topk."""
    from sentence_transformers.util.similarity import maxsim

    from spacekit.ops.maxsim import maxsim_topk
    from spacekit.store.vectors import TokenVectors

    rng = np.random.default_rng(1)

    def tokens(rows: int, length: int) -> TokenVectors:
        x = rng.normal(size=(rows * length, 128)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return TokenVectors(x, np.arange(0, rows * length + 1, length, dtype=np.int64))

    q, d = tokens(queries, 32), tokens(docs, 180)
    t_sk, (_scores, idx) = best_of(lambda: maxsim_topk(q, d, k), 1)
    qt = torch.from_numpy(q.values.reshape(queries, 32, 128))
    dt = torch.from_numpy(d.values.reshape(docs, 180, 128))
    t_st, top = best_of(lambda: torch.topk(maxsim(qt, dt), k, dim=1).indices, 1)
    agree = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(idx.numpy(), top.numpy(), strict=True)]))
    return {"what": f"MaxSim top-{k}, {queries} q x {docs:,} docs (32 x 180 tokens, 128 d)", "spacekit_s": t_sk,
            "peer": "sentence-transformers maxsim + topk", "peer_s": t_st, "peer_over_spacekit": t_st / t_sk,
            "check": f"top-{k} overlap {agree:.4f}"}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--splade", default=None)
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--docs", type=int, default=100_000)
    p.add_argument("--active", type=int, default=200)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--maxsim-docs", type=int, default=5000)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    dev = backend.device("cpu")
    rows = [encode_row(args.splade, args.n)] if args.splade else []
    rows += sparse_rows(args.docs, args.active, args.queries, args.k)
    rows.append(maxsim_row(args.maxsim_docs, min(args.queries, 300), args.k))
    print(f"device: {device_name(dev)}")
    print_table(rows, ["what", "spacekit_s", "peer", "peer_s", "peer_over_spacekit", "check"])
    print("wrote", write_results("sparse", dev, {"rows": rows, "threads": torch.get_num_threads()}, args.out))


if __name__ == "__main__":
    main()
