"""Approximate indexes the user's system may search with (faiss, the `faiss` extra), built over one model's corpus
vectors, and how much of the exact top-k each returns (k-NN recall).

- hnsw: faiss IndexHNSWFlat, M = 32 links a node, efConstruction = 40, efSearch = 64 (faiss searches max(efSearch,
  k) candidates), inner product; built with faiss's default threads.
- ivf: faiss IndexIVFFlat, nlist = 4 x sqrt(n) inverted lists (at most n / 39, faiss's minimum of training points
  a list), trained by faiss's k-means on the corpus (its seed 1234), nprobe = 10 lists searched a query.

Cosine similarity is searched as the inner product of unit vectors. Scores are float32 as faiss computes them;
a row faiss fills with fewer than k results is padded with code -1 and score -inf.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from spacekit.errors import InputError

INDEXES = ("hnsw", "ivf")
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 40, 64
IVF_LISTS_PER_SQRT_N, IVF_NPROBE, IVF_MIN_POINTS_PER_LIST = 4, 10, 39
EXTRA = "pip install 'spacekit[faiss]'"


def check_available() -> None:
    """An InputError naming the extra when faiss is not installed."""
    import importlib.util

    if importlib.util.find_spec("faiss") is None:
        raise InputError(f"the index check needs faiss (not installed): {EXTRA}")


def ivf_lists(n: int) -> int:
    """The inverted lists of an IVF index over n vectors: 4 x sqrt(n), at most n / 39, at least 1."""
    return max(1, min(round(IVF_LISTS_PER_SQRT_N * math.sqrt(n)), n // IVF_MIN_POINTS_PER_LIST))


class AnnIndex:
    """One approximate index (INDEXES) over a corpus's vectors; search(queries, k) ranks its rows."""

    def __init__(self, kind: str, corpus: np.ndarray, similarity: str = "cosine") -> None:
        if kind not in INDEXES:
            raise InputError(f"index must be one of {', '.join(INDEXES)}, got {kind!r}")
        check_available()
        import faiss

        self.kind, self.cosine, self.size = kind, similarity == "cosine", len(corpus)
        vectors = self._prepared(corpus)
        d = vectors.shape[1]
        index: Any
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, ivf_lists(len(vectors)), faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = 1234
            index.train(vectors)
            index.nprobe = IVF_NPROBE
        index.add(vectors)
        self._index = index

    def _prepared(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.cosine:
            norms = np.linalg.norm(x, axis=1, keepdims=True)
            x = x / np.where(norms == 0, 1, norms)
        return x

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores (nq, k) float64, -inf = not found; codes (nq, k) int64, -1 = not found), best first, equal scores
        by the lower code."""
        k = min(k, self.size)
        scores, codes = self._index.search(self._prepared(queries), k)
        scores = np.where(codes < 0, -np.inf, scores.astype(np.float64))
        order = np.lexsort((np.where(codes < 0, np.iinfo(np.int64).max, codes), -scores), axis=1)
        return np.take_along_axis(scores, order, 1), np.take_along_axis(codes, order, 1)


def knn_recall(found: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Per query, the share of the exact top-k's rows (exact: (nq, k) codes, -1 = none) that `found` (nq, m) codes
    hold: 1 when they are all found (a query with no exact result counts 1)."""
    hits = np.array([len(set(e[e >= 0].tolist()) & set(f.tolist())) for e, f in zip(exact, found, strict=True)],
                    np.float64)
    wanted = (exact >= 0).sum(axis=1)
    return np.where(wanted > 0, hits / np.maximum(wanted, 1), 1.0)
