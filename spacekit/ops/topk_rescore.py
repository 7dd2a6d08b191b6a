"""Re-scoring candidates: each score the fp32 rounding of a float64 dot product, computed the same way whatever the
number of candidates, queries or corpus rows (so equal rows in two tiles or shards get equal scores).

On CUDA one fused gather-dot kernel; on the CPU a sampled product over the (query, row) pairs sorted by corpus row,
so that each candidate row is read from memory once for all the queries that picked it (at k = 1000 a 2,000-query
tile picks each of 100,000 rows ~30 times: gathering rows per query read 4.6 GB at random, 3-4x slower).
"""

from __future__ import annotations

import math
import warnings

import torch

from spacekit import backend
from spacekit.ops.kernel_guard import kernels_usable, with_kernel
from spacekit.ops.topk_tile import Scratch, tile_buffer

ROW_BLOCK = 16384  # candidate rows converted to float64 at a time on the CPU (a reused buffer, ~50 MB at d = 384)


def gathered_scores(q: torch.Tensor, c: torch.Tensor, cols: torch.Tensor, limit: backend.Budget,
                    scratch: Scratch | None = None) -> torch.Tensor:
    """(b, kc) fp32 scores of q's rows against c's rows at cols (clamped into range), each the fp32 rounding of a
    float64 dot product: on CUDA the gather-dot kernel (else gathered rows times q, in budget-sized slices), on the
    CPU the sampled product (sampled_scores). A float32 product would round differently for different numbers of
    candidates, and equal rows in two corpus tiles then came in the wrong order."""
    if c.device.type == "cpu":
        return sampled_scores(q, c, cols.clamp(max=c.shape[0] - 1), scratch)
    cols = cols.clamp(0, c.shape[0] - 1)
    if kernels_usable(c.device):
        return with_kernel("gather-dot", lambda: _kernel_gathered_scores(q, c, cols),
                           lambda: _gathered_scores(q, c, cols, limit))
    return _gathered_scores(q, c, cols, limit)


def _kernel_gathered_scores(q: torch.Tensor, c: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """gathered_scores by the fused gather-dot kernel."""
    from spacekit.kernels.topk_triton import gather_dot

    return gather_dot(q, c, cols)


def _gathered_scores(q: torch.Tensor, c: torch.Tensor, cols: torch.Tensor, limit: backend.Budget) -> torch.Tensor:
    """gathered_scores on a GPU without the kernel: gathered rows in float64 times q in float64, slice by slice."""
    (b, d), kc = q.shape, cols.shape[1]
    exact = torch.empty(cols.shape, dtype=torch.float32, device=q.device)
    row_bytes = 4 * kc * d
    rows_per = min(b, max(1, limit.rows(row_bytes, at_most=b) // 4))
    flat = torch.empty(rows_per * kc * d, dtype=c.dtype, device=q.device)
    flat64 = torch.empty(rows_per * kc * d, dtype=torch.float64, device=q.device)
    q64 = q.double().unsqueeze(2)                                           # (b, d, 1)
    for lo in range(0, b, rows_per):
        r = min(rows_per, b - lo)
        rows = torch.index_select(c, 0, cols[lo:lo + r].reshape(-1), out=flat[:r * kc * d].view(r * kc, d))
        rows64 = flat64[:r * kc * d].view(r, kc, d).copy_(rows.view(r, kc, d))
        exact[lo:lo + r] = torch.bmm(rows64, q64[lo:lo + r]).squeeze(2)
    return exact


def sampled_scores(q: torch.Tensor, c: torch.Tensor, cols: torch.Tensor, scratch: Scratch | None = None
                   ) -> torch.Tensor:
    """gathered_scores on the CPU: the (query, row) pairs sorted by corpus row, the rows they name converted to
    float64 a block at a time (into the scratch's buffers), and torch.sparse.sampled_addmm's float64 dot product per
    pair (one vectorised reduction over d, the same for every pair: no dependence on how many pairs there are).
    A negative column is no candidate: -inf."""
    b, kc = cols.shape
    key, order = torch.sort(cols.reshape(-1) * b + torch.arange(b).repeat_interleave(kc))  # by row, then query
    out = torch.empty(b * kc, dtype=torch.float32)
    none = int(torch.searchsorted(key, 0))                                 # the negative columns sort first
    out[order[:none]] = -math.inf
    key, order = key[none:], order[none:]
    again = None
    if bool((key[1:] == key[:-1]).any()):             # a column twice in a row: the sampled product takes it once
        key, again = torch.unique_consecutive(key, return_inverse=True)
    dots = _dots_by_row(key, q, c, scratch)
    out[order] = dots if again is None else dots[again]
    return out.view(b, kc)


def _dots_by_row(key: torch.Tensor, q: torch.Tensor, c: torch.Tensor, scratch: Scratch | None) -> torch.Tensor:
    """fp32 roundings of c[row] . q[query] in float64 for the distinct sorted pairs key = row * len(q) + query."""
    b, d = q.shape
    row = key.div(b, rounding_mode="floor")
    query = key - row * b
    picked, counts = torch.unique_consecutive(row, return_counts=True)     # the rows read, and pairs per row
    ends = torch.cumsum(counts, 0)
    q64 = q.double()
    dots = torch.empty(key.numel(), dtype=torch.float32)
    for lo in range(0, picked.numel(), ROW_BLOCK):
        hi = min(lo + ROW_BLOCK, picked.numel())
        first, last = (int(ends[lo - 1]) if lo else 0), int(ends[hi - 1])
        rows = torch.index_select(c, 0, picked[lo:hi], out=tile_buffer(scratch, "candidate rows", (hi - lo, d),
                                                                        c.dtype))
        rows64 = tile_buffer(scratch, "candidate rows, float64", (hi - lo, d), torch.float64).copy_(rows)
        crow = torch.cat([ends.new_zeros(1), ends[lo:hi] - first])
        dots[first:last] = _pair_dots(crow, query[first:last], rows64, q64)
    return dots


def _pair_dots(crow: torch.Tensor, query: torch.Tensor, rows64: torch.Tensor, q64: torch.Tensor) -> torch.Tensor:
    """rows64[i] . q64[query[p]] for every pair p of row i (crow: the CSR row offsets), in float64."""
    with warnings.catch_warnings():                      # "sparse CSR support is in beta": the op we use is stable
        warnings.simplefilter("ignore", UserWarning)
        pairs = torch.sparse_csr_tensor(crow, query, torch.zeros(query.numel(), dtype=torch.float64),
                                        size=(rows64.shape[0], q64.shape[0]), check_invariants=False)
        return torch.sparse.sampled_addmm(pairs, rows64, q64.T, beta=0.0).values()
