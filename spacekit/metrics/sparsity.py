"""How sparse a sparse encoder's vectors are, as sentence-transformers' SparseInformationRetrievalEvaluator reports
it: the mean active (non-zero) dimensions of queries and of documents, their sparsity ratios, and the FLOPs per
query-document pair (Paria et al. 2020): the dot product of the share of queries and the share of documents in
which each dimension is active."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp


@dataclass(frozen=True)
class SparsityStats:
    """A sparse retrieval run's sparsity: mean active dimensions and sparsity ratio of queries and of documents,
    and the expected FLOPs per query-document pair."""

    query_active_dims: float
    query_sparsity_ratio: float
    corpus_active_dims: float
    corpus_sparsity_ratio: float
    avg_flops: float


def active_dims(x: sp.spmatrix) -> tuple[float, float]:
    """(mean active dimensions per row, mean sparsity ratio) as SparseEncoder.sparsity gives them."""
    if x.shape[0] == 0 or x.shape[1] == 0:
        return 0.0, 1.0
    m = _clean(x)
    active = float(np.mean(np.diff(m.indptr)))
    return active, 1.0 - active / m.shape[1]


def column_counts(x: sp.spmatrix) -> np.ndarray:
    """(dim,) how many rows have each dimension active (sentence-transformers' compute_count_vector)."""
    m = _clean(x)
    return np.bincount(m.indices, minlength=m.shape[1])


def flops(queries: sp.spmatrix, corpus: sp.spmatrix) -> float:
    """Expected multiply-adds per query-document pair: the mean query's activation of each dimension times the mean
    document's, summed."""
    if queries.shape[0] == 0 or corpus.shape[0] == 0:
        return 0.0
    return float((column_counts(queries) / queries.shape[0]) @ (column_counts(corpus) / corpus.shape[0]))


def sparsity_stats(queries: sp.spmatrix, corpus: sp.spmatrix) -> SparsityStats:
    """The run's SparsityStats."""
    return SparsityStats(*active_dims(queries), *active_dims(corpus), flops(queries, corpus))


def _clean(x: sp.spmatrix) -> sp.csr_matrix:
    """x as CSR without stored zeros (a stored zero is not an active dimension)."""
    import scipy.sparse as sp

    m = sp.csr_matrix(x, copy=True)
    m.eliminate_zeros()
    return m
