"""Exact late-interaction (MaxSim) search over token vectors: a query's score for a document is the sum, over the
query's token vectors, of the largest dot product with any of the document's token vectors (ColBERT; sentence-
transformers' maxsim). Every document is scored (no candidate generation, no PLAID): products in float32 on the
device, each query's sum in float64, rounded to float32; the top k by the dense search's rule (equal scores by
lower index). A document without token vectors scores 0.
"""

from __future__ import annotations

import numpy as np
import torch

from spacekit.errors import InputError
from spacekit.ops.topk_select import select
from spacekit.store.vectors import TokenVectors

CELLS = 1 << 24          # query-token x document-token products (float32) held at once
SCORES = 1 << 23         # query x document scores (float64) held at once
PAD = 1e30               # a padded document token's product with any query token: -PAD


def padded(x: TokenVectors, rows: np.ndarray, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(len(rows), longest, dim) float32 token vectors of the rows, zero-padded, and their (len(rows), longest) mask."""
    lengths = x.lengths[rows]
    width = max(1, int(lengths.max()) if len(rows) else 1)
    out = np.zeros((len(rows), width, x.shape[1]), np.float32)
    mask = np.arange(width)[None, :] < lengths[:, None]
    picked = x[rows]
    out[mask] = picked.values
    return torch.from_numpy(out).to(dev), torch.from_numpy(mask).to(dev)


def maxsim_scores(queries: TokenVectors, docs: TokenVectors, device: torch.device | str | None = None) -> torch.Tensor:
    """(queries, documents) float64 MaxSim scores on the CPU (every pair; for a small corpus and the tests)."""
    _check(queries, docs)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    out = torch.zeros((queries.shape[0], docs.shape[0]), dtype=torch.float64)
    doc_order = _longest_first(docs)
    q_rows = np.arange(queries.shape[0])
    for q_lo in range(0, len(q_rows), _query_rows(queries, docs)):
        q, q_mask = padded(queries, q_rows[q_lo:q_lo + _query_rows(queries, docs)], dev)
        out[q_lo:q_lo + len(q)] = _block_scores(q, q_mask, docs, doc_order, dev).cpu()
    return out


def maxsim_topk(queries: TokenVectors, docs: TokenVectors, k: int,
                device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k documents per query by MaxSim -> (scores (nq, k) float32, indices (nq, k) int64) on the CPU: exact,
    equal scores by lower index, k clipped to the corpus."""
    _check(queries, docs)
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    k = min(k, docs.shape[0])
    dev = torch.device(device) if device is not None else torch.device("cpu")
    doc_order = _longest_first(docs)
    step = _query_rows(queries, docs)
    vals, idx = [], []
    for q_lo in range(0, queries.shape[0], step):
        q, q_mask = padded(queries, np.arange(q_lo, min(q_lo + step, queries.shape[0])), dev)
        v, i = select(_block_scores(q, q_mask, docs, doc_order, dev).to(torch.float32), k)
        vals.append(v.cpu())
        idx.append(i.cpu())
    if not vals:
        return torch.zeros((0, k)), torch.zeros((0, k), dtype=torch.long)
    return torch.cat(vals), torch.cat(idx)


def _block_scores(q: torch.Tensor, q_mask: torch.Tensor, docs: TokenVectors, doc_order: np.ndarray,
                  dev: torch.device) -> torch.Tensor:
    """(queries of the slice, documents) float64 scores, the documents taken in blocks of doc_order (longest
    first: a block's first document is its longest, so a block's products fit CELLS)."""
    out = torch.zeros((q.shape[0], docs.shape[0]), dtype=torch.float64, device=dev)
    q1 = torch.cat([q, torch.ones((*q.shape[:2], 1), device=dev)], dim=-1)      # the padding coordinate
    lo = 0
    while lo < len(doc_order):
        longest = max(1, int(docs.lengths[doc_order[min(len(doc_order) - 1, lo)]]))
        per_doc = q.shape[0] * q.shape[1] * longest
        size = max(1, CELLS // per_doc)
        rows = doc_order[lo:lo + size]
        d, d_mask = padded(docs, rows, dev)                                      # (b, Ld, dim)
        # one more coordinate: 1 on every query token, 0 on a real document token, -PAD on padding, so a padded
        # position's product is -PAD and never the max (no masking pass over the products)
        d = torch.cat([d, torch.where(d_mask, 0.0, -PAD).unsqueeze(-1)], dim=-1)
        sim = (q1.reshape(-1, q1.shape[-1]) @ d.reshape(-1, d.shape[-1]).T).view(q.shape[0], q.shape[1], len(rows),
                                                                                   -1)   # (nq, Lq, b, Ld)
        best = sim.amax(dim=3)                                                    # (nq, Lq, b)
        best = torch.where(best > -PAD / 2, best, torch.zeros((), device=dev))   # a document without tokens: 0
        best = best.masked_fill(~q_mask[:, :, None], 0)
        out[:, torch.from_numpy(rows).to(dev)] = best.double().sum(dim=1)
        lo += len(rows)
    return out


def _longest_first(docs: TokenVectors) -> np.ndarray:
    """Document rows by descending length (similar lengths share a block: little padding)."""
    return np.argsort(-docs.lengths, kind="stable")


def _query_rows(queries: TokenVectors, docs: TokenVectors) -> int:
    """Queries scored at once: their scores against every document fit SCORES, their padded token vectors CELLS."""
    longest = max(1, int(queries.lengths.max()) if queries.shape[0] else 1)
    return max(1, min(SCORES // max(1, docs.shape[0]), CELLS // (longest * queries.shape[1])))


def _check(queries: TokenVectors, docs: TokenVectors) -> None:
    """Token vectors of one dimension on both sides, finite, and a corpus."""
    if queries.shape[1] != docs.shape[1]:
        raise InputError(f"queries have {queries.shape[1]}-dimensional token vectors, the corpus {docs.shape[1]}")
    if docs.shape[0] == 0:
        raise InputError("the corpus is empty")
    for name, x in (("queries", queries), ("corpus", docs)):
        if not np.isfinite(x.values).all():
            raise InputError(f"{name}: token vectors with NaN or inf values")
