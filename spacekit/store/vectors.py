"""A store's rows in one of three layouts, as the manifest's `layout` says (dense when absent):

- dense: an `embedding` fixed-size list per row; a numpy array in memory;
- csr (a sparse encoder's vectors): an `indices` list of int32 columns, ascending, and a `values` list of float32
  per row; a scipy CSR matrix in memory;
- tokens (a multi-vector model's): an `embedding` list of fixed-size lists per row, one vector per token; a
  TokenVectors in memory.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias, TypeGuard

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    import scipy.sparse as sp

LAYOUTS = ("dense", "csr", "tokens")
LAYOUTS_OF_KINDS = {"dense": "dense", "sparse": "csr", "multi-vector": "tokens"}   # a model's kind -> its layout


@dataclass(frozen=True)
class TokenVectors:
    """Rows of token vectors: row i's are values[offsets[i]:offsets[i + 1]], each of dimension dim."""

    values: np.ndarray     # (tokens, dim) float32
    offsets: np.ndarray    # (rows + 1,) int64, from 0

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, dimension of each token vector)."""
        return len(self.offsets) - 1, int(self.values.shape[1])

    @property
    def lengths(self) -> np.ndarray:
        """Token vectors per row."""
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        """Row i's (tokens, dim) vectors."""
        return self.values[self.offsets[i]:self.offsets[i + 1]]

    def __getitem__(self, rows: slice | list[int] | np.ndarray) -> TokenVectors:
        """The rows selected (a slice, or positions), in that order."""
        picked = np.arange(self.shape[0])[rows]
        lengths = self.lengths[picked]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        if not len(picked):
            return TokenVectors(self.values[:0], offsets)
        starts = self.offsets[picked]
        index = np.repeat(starts - offsets[:-1], lengths) + np.arange(int(offsets[-1]))
        return TokenVectors(self.values[index], offsets)

    def pooled(self) -> np.ndarray:
        """(rows, dim) the mean of each row's token vectors (0 for a row without any)."""
        sums = np.add.reduceat(self.values.astype(np.float64), self.offsets[:-1], axis=0) if len(self.values) else \
            np.zeros((self.shape[0], self.shape[1]))
        sums[self.lengths == 0] = 0
        return (sums / np.maximum(self.lengths, 1)[:, None]).astype(np.float32)


Vectors: TypeAlias = "np.ndarray | sp.csr_matrix | TokenVectors"


def is_sparse(x: object) -> TypeGuard[sp.csr_matrix]:
    """Whether x is a sparse matrix (a sparse encoder's vectors); scipy is not imported for it (none can exist before
    it is)."""
    return "scipy.sparse" in sys.modules and bool(sys.modules["scipy.sparse"].issparse(x))


def layout_of(x: Vectors) -> str:
    """"csr" for sparse vectors, "tokens" for token vectors, else "dense"."""
    return "csr" if is_sparse(x) else "tokens" if isinstance(x, TokenVectors) else "dense"


def pooled(x: Vectors) -> Vectors:
    """One vector per row: token vectors mean-pooled, anything else as it is (the near-duplicate checks' view)."""
    return x.pooled() if isinstance(x, TokenVectors) else x


def dense(x: Vectors) -> np.ndarray:
    """x as the dense array it must be (a task or analysis of dense vectors only; check_vectors refused the rest)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"dense vectors expected, got {layout_of(x)} vectors")
    return x


def flat(x: Vectors) -> np.ndarray | sp.csr_matrix:
    """x as one vector per row, dense or sparse (a task that takes both); token vectors are not."""
    if isinstance(x, TokenVectors):
        raise TypeError("one vector per row expected, got token vectors")
    return x


def empty(dim: int, layout: str) -> Vectors:
    """No rows."""
    import scipy.sparse as sp

    if layout == "tokens":
        return TokenVectors(np.zeros((0, dim), np.float32), np.zeros(1, np.int64))
    return sp.csr_matrix((0, dim), dtype=np.float32) if layout == "csr" else np.zeros((0, dim), np.float32)


def concat(parts: list, dim: int, layout: str) -> Vectors:
    """The parts' rows, one after another, as float32."""
    import scipy.sparse as sp

    if not parts:
        return empty(dim, layout)
    if layout == "csr":
        return sp.vstack(parts, format="csr", dtype=np.float32)
    if layout == "tokens":
        starts = np.cumsum([0] + [int(p.offsets[-1]) for p in parts[:-1]])
        offsets = np.concatenate([[0], *[p.offsets[1:] + s for p, s in zip(parts, starts, strict=True)]])
        return TokenVectors(np.concatenate([p.values for p in parts]).astype(np.float32, copy=False),
                            offsets.astype(np.int64))
    return np.concatenate([np.asarray(p, np.float32) for p in parts])


def bad_row(x: Vectors) -> int | None:
    """The first row holding a NaN or inf value, None when every value is finite."""
    if is_sparse(x) or isinstance(x, TokenVectors):
        values, starts = (x.data, x.indptr) if is_sparse(x) else (x.values, x.offsets)
        finite = np.isfinite(values) if values.ndim == 1 else np.isfinite(values).all(1)
        if finite.all():
            return None
        return int(np.searchsorted(starts, int(np.flatnonzero(~finite)[0]), side="right") - 1)
    finite_rows = np.isfinite(x).all(1)
    return None if finite_rows.all() else int(np.flatnonzero(~finite_rows)[0])


def schema(layout: str, dim: int, value_type: pa.DataType) -> pa.Schema:
    """The Parquet schema of a shard."""
    if layout == "csr":
        return pa.schema([("id", pa.string()), ("indices", pa.list_(pa.int32())), ("values", pa.list_(value_type))])
    if layout == "tokens":
        return pa.schema([("id", pa.string()), ("embedding", pa.list_(pa.list_(value_type, dim)))])
    return pa.schema([("id", pa.string()), ("embedding", pa.list_(value_type, dim))])


def columns(layout: str) -> list[str]:
    """The vector columns of a shard."""
    return ["indices", "values"] if layout == "csr" else ["embedding"]


def to_arrays(x: Vectors, np_dtype: type) -> list[pa.Array]:
    """The vector columns of rows x."""
    import scipy.sparse as sp

    if isinstance(x, TokenVectors):
        tokens = pa.FixedSizeListArray.from_arrays(pa.array(x.values.astype(np_dtype).reshape(-1)), x.shape[1])
        return [pa.ListArray.from_arrays(pa.array(x.offsets.astype(np.int32)), tokens)]
    if is_sparse(x):
        x = sp.csr_matrix(x)
        x.sort_indices()
        offsets = pa.array(x.indptr.astype(np.int32))
        return [pa.ListArray.from_arrays(offsets, pa.array(x.indices.astype(np.int32))),
                pa.ListArray.from_arrays(offsets, pa.array(x.data.astype(np_dtype)))]
    flat = pa.array(x.astype(np_dtype, copy=False).reshape(-1))
    return [pa.FixedSizeListArray.from_arrays(flat, x.shape[1])]


def from_arrays(arrays: list[pa.Array], dim: int, layout: str) -> tuple[Vectors, str | None]:
    """(rows, what is wrong with them or None) from a batch's vector columns: a csr row's columns must be in
    range and ascending, and as many as its values."""
    import scipy.sparse as sp

    if layout == "tokens":
        offsets = arrays[0].offsets.to_numpy().astype(np.int64)
        tokens = arrays[0].flatten().flatten().to_numpy(zero_copy_only=False, writable=True).reshape(-1, dim)
        return TokenVectors(tokens, offsets - offsets[0]), None
    if layout != "csr":
        return arrays[0].values.to_numpy(zero_copy_only=False, writable=True).reshape(-1, dim), None
    indices, values = arrays
    offsets = indices.offsets.to_numpy()
    if not np.array_equal(offsets, values.offsets.to_numpy()):
        return empty(dim, layout), "indices and values differ in length"
    cols = indices.values.to_numpy(zero_copy_only=False).astype(np.int64)[offsets[0]:offsets[-1]]
    data = values.values.to_numpy(zero_copy_only=False, writable=True)[offsets[0]:offsets[-1]]
    indptr = offsets - offsets[0]
    if len(cols) and (cols.min() < 0 or cols.max() >= dim):
        return empty(dim, layout), f"a column index outside 0..{dim - 1}"
    step = np.diff(cols)
    starts = indptr[1:-1]
    step[starts[(starts > 0) & (starts < len(cols))] - 1] = 1          # a new row may start lower
    if (step <= 0).any():
        return empty(dim, layout), "column indices not ascending within a row"
    return sp.csr_matrix((data, cols, indptr), shape=(len(indptr) - 1, dim)), None
