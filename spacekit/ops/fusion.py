"""Fusion of two ranked lists per query (a dense and a lexical run), as hybrid search serves them: reciprocal rank
fusion (Cormack, Clarke and Buettcher 2009: score = sum over the lists of 1 / (k + rank)) or a weighted sum of
min-max normalised scores (each list's scores mapped to [0, 1] per query, (s - min) / max(max - min, 1e-9), as ranx
normalises; weight on the dense list, 1 - weight on the lexical one). A document missing from a list gains nothing
from it. Vectorised over a block of queries; equal fused scores are ordered by the lower corpus code."""

from __future__ import annotations

import numpy as np


def fuse(dense: tuple[np.ndarray, np.ndarray], lexical: tuple[np.ndarray, np.ndarray], depth: int, *,
         method: str = "rrf", k: int = 60, weight: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Two runs over one corpus, each (codes (nq, n_i) int, -1 = padding; scores (nq, n_i), rows best first) ->
    the fused run the same way (codes (nq, depth) int64, -1 = padding; scores (nq, depth) float64, -inf =
    padding), rows best first."""
    if method not in ("rrf", "weighted"):
        raise ValueError(f"fusion method must be rrf or weighted, got {method!r}")
    parts = [_contributions(codes, scores, method, k) for codes, scores in (dense, lexical)]
    if method == "weighted":
        parts = [(codes, share * value) for (codes, value), share in zip(parts, (weight, 1.0 - weight), strict=True)]
    codes = np.concatenate([c for c, _ in parts], axis=1).astype(np.int64)
    value = np.concatenate([v for _, v in parts], axis=1)
    order = np.argsort(np.where(codes >= 0, codes, np.iinfo(np.int64).max), axis=1, kind="stable")
    codes, value = np.take_along_axis(codes, order, 1), np.take_along_axis(value, order, 1)
    repeat = np.zeros(codes.shape, bool)
    repeat[:, 1:] = (codes[:, 1:] == codes[:, :-1]) & (codes[:, 1:] >= 0)     # a document in both lists
    total = value.copy()
    total[:, :-1] += np.where(repeat[:, 1:], value[:, 1:], 0.0)             # its two shares on its first entry
    total[repeat | (codes < 0)] = -np.inf
    best = np.lexsort((codes, -total), axis=1)[:, :depth]                  # fused score, then the lower code
    fused, scores = np.take_along_axis(codes, best, 1), np.take_along_axis(total, best, 1)
    fused[~np.isfinite(scores)] = -1
    return fused, scores


def _contributions(codes: np.ndarray, scores: np.ndarray, method: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each entry's share of its document's fused score: 1 / (k + rank) for rrf, the min-max normalised score for
    weighted; padding (code -1) gets 0."""
    present = codes >= 0
    if method == "rrf":
        value = 1.0 / (k + np.arange(1, codes.shape[1] + 1, dtype=np.float64))[None, :].repeat(len(codes), 0)
    else:
        s = np.asarray(scores, np.float64)
        low = np.where(present, s, np.inf).min(1, keepdims=True)
        high = np.where(present, s, -np.inf).max(1, keepdims=True)
        with np.errstate(invalid="ignore"):                                 # rows of padding only: never used
            value = (s - low) / np.maximum(high - low, 1e-9)
    return codes, np.where(present, value, 0.0)
