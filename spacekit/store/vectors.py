"""A store's rows in either layout: dense (an `embedding` fixed-size list per row: a numpy array in memory) or csr
(a sparse encoder's vectors: an `indices` list of int32 columns, ascending, and a `values` list of float32 per row:
a scipy CSR matrix in memory). The manifest's `layout` says which (dense when absent)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TypeAlias, TypeGuard

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    import scipy.sparse as sp

Vectors: TypeAlias = "np.ndarray | sp.csr_matrix"
LAYOUTS = ("dense", "csr")


def is_sparse(x: object) -> TypeGuard[sp.csr_matrix]:
    """Whether x is a sparse matrix (a sparse encoder's vectors); scipy is not imported for it (none can exist before
    it is)."""
    return "scipy.sparse" in sys.modules and bool(sys.modules["scipy.sparse"].issparse(x))


def layout_of(x: Vectors) -> str:
    """"csr" for sparse vectors, else "dense"."""
    return "csr" if is_sparse(x) else "dense"


def empty(dim: int, layout: str) -> Vectors:
    """No rows."""
    import scipy.sparse as sp

    return sp.csr_matrix((0, dim), dtype=np.float32) if layout == "csr" else np.zeros((0, dim), np.float32)


def concat(parts: list, dim: int, layout: str) -> Vectors:
    """The parts' rows, one after another, as float32."""
    import scipy.sparse as sp

    if not parts:
        return empty(dim, layout)
    if layout == "csr":
        return sp.vstack(parts, format="csr", dtype=np.float32)
    return np.concatenate([np.asarray(p, np.float32) for p in parts])


def bad_row(x: Vectors) -> int | None:
    """The first row holding a NaN or inf value, None when every value is finite."""
    if is_sparse(x):
        finite = np.isfinite(x.data)
        if finite.all():
            return None
        return int(np.searchsorted(x.indptr, int(np.flatnonzero(~finite)[0]), side="right") - 1)
    finite_rows = np.isfinite(x).all(1)
    return None if finite_rows.all() else int(np.flatnonzero(~finite_rows)[0])


def schema(layout: str, dim: int, value_type: pa.DataType) -> pa.Schema:
    """The Parquet schema of a shard."""
    if layout == "csr":
        return pa.schema([("id", pa.string()), ("indices", pa.list_(pa.int32())), ("values", pa.list_(value_type))])
    return pa.schema([("id", pa.string()), ("embedding", pa.list_(value_type, dim))])


def columns(layout: str) -> list[str]:
    """The vector columns of a shard."""
    return ["indices", "values"] if layout == "csr" else ["embedding"]


def to_arrays(x: Vectors, np_dtype: type) -> list[pa.Array]:
    """The vector columns of rows x."""
    import scipy.sparse as sp

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
