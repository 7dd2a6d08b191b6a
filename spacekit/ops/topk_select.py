"""Exact top-k selection from score tiles, with the tie rule: equal scores come by lower column first.

The chunk-max pre-selection keeps selection exact: the top k chunks of CHUNK columns by their maximum hold the top
k entries (each entry above the k-th value lies in a chunk whose max is above it).
"""

from __future__ import annotations

import math

import torch

CHUNK = 32  # columns per chunk for the chunk-max pre-selection
THRESHOLD_K = 256  # from this k on, CPU candidates (any order among ties) are picked above a threshold


def select(scores: torch.Tensor, k: int, ties: bool = True, floor: torch.Tensor | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact top-k per row of a score tile, lower column first among ties (any order among ties: ties=False; then
    a large k on the CPU may also skip the scores below `floor` (b,): those rows are padded with -inf at column -1).

    The columns are cut into m chunks of CHUNK (on the CPU fewer for a large k: chunk_width): on a GPU chunk j
    holds the columns j, j + m, j + 2m, ... (the max is then a reduction over an outer dimension, read at full
    bandwidth), on the CPU the contiguous columns j * width ... (cache lines read once). Any partition keeps the
    pre-selection exact; only a tie among chunk maxima at the cut could drop a lower-index twin, so those rows
    (rare) are redone over the whole row.
    """
    b, nc = scores.shape
    strided = scores.device.type != "cpu"
    width = CHUNK if strided else chunk_width(nc, k)
    m = nc // width
    if not (ties or strided) and k >= THRESHOLD_K and m > 2 * k:
        found = above_threshold(scores, k, width, floor)
        if found is not None:
            return found
    if m < 4 * k:  # pre-selection would not pay: top-k over the whole row
        return topk_lower_index(scores, k) if ties else torch.topk(scores, k, dim=1)
    body = scores[:, :m * width]
    maxima = body.view(b, width, m).amax(dim=1) if strided else body.view(b, m, width).amax(dim=2)   # (b, m)
    top_max, chunk = torch.topk(maxima, k + 1, dim=1)                      # (b, k + 1); the extra one sees ties
    chunk = chunk[:, :k].sort(dim=1).values
    offsets = torch.arange(width, device=scores.device)
    if strided:
        cols = (offsets.view(1, width, 1) * m + chunk.unsqueeze(1)).view(b, -1)     # (b, width * k), ascending
    else:
        cols = (chunk.unsqueeze(2) * width + offsets.view(1, 1, width)).view(b, -1)
    if nc > m * width:                                                     # the ragged tail always competes
        tail = torch.arange(m * width, nc, device=scores.device).expand(b, -1)
        cols = torch.cat([cols, tail], dim=1)
    if not ties:
        vals, pos = torch.topk(scores.gather(1, cols), k, dim=1)
        return vals, cols.gather(1, pos)
    vals, pos = topk_lower_index(scores.gather(1, cols), k)
    idx = cols.gather(1, pos)
    rows = torch.nonzero(top_max[:, k] == top_max[:, k - 1]).flatten()   # a tie at the cut among maxima
    if rows.numel():
        vals[rows], idx[rows] = topk_lower_index(scores[rows], k)
    return vals, idx


def above_threshold(scores: torch.Tensor, k: int, width: int, floor: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Top-k per row in any order among ties, for a large k on the CPU: the k-th largest of the chunk maxima is at
    most the row's k-th score (k chunks hold a score at least as high), so only the scores at or above it compete;
    they are packed into a (b, most such per row) tile for one top-k. ~1.6x as fast as the chunk route at k = 1,516
    of 100,000 columns (1,815 scores compete, not the 24,256 of 1,516 chunks). With a floor (b,), scores below it
    do not compete either, and where few reach it the chunk maxima are skipped; rows with fewer than k are padded
    with -inf at column -1. None where fewer than k scores reach the threshold without a floor (NaN scores)."""
    b, nc = scores.shape
    if floor is not None:                                                       # few compete: no chunk maxima
        found = _packed_topk(scores, scores >= floor.unsqueeze(1), k, most=4 * k)
        if found is not None:
            return found
    m = nc // width
    maxima = scores[:, :m * width].view(b, m, width).amax(dim=2)                # (b, m)
    level = torch.topk(maxima, k, dim=1, sorted=False).values.amin(dim=1, keepdim=True)
    if floor is not None:
        return _packed_topk(scores, scores >= torch.maximum(level, floor.unsqueeze(1)), k)
    return _packed_topk(scores, scores >= level, k, least=k)


def _packed_topk(scores: torch.Tensor, above: torch.Tensor, k: int, most: int | None = None,
                 least: int | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Top-k of each row's scores where `above` holds, packed into one (b, most such per row) tile; None where a
    row has more than `most` or fewer than `least` of them."""
    row, col = torch.nonzero(above, as_tuple=True)                               # row-major: rows in order
    counts = torch.bincount(row, minlength=scores.shape[0])
    if (most is not None and int(counts.max()) > most) or (least is not None and int(counts.min()) < least):
        return None
    pos = torch.arange(row.numel(), device=scores.device) - (torch.cumsum(counts, 0) - counts)[row]
    packed = scores.new_full((scores.shape[0], max(k, int(counts.max()))), -math.inf)
    packed_cols = torch.full(packed.shape, -1, dtype=torch.long, device=scores.device)
    packed[row, pos], packed_cols[row, pos] = scores[row, col], col
    vals, at = torch.topk(packed, k, dim=1)
    return vals, packed_cols.gather(1, at)


def chunk_width(nc: int, k: int) -> int:
    """Columns per chunk on the CPU: CHUNK, halved (down to 4) while the row holds fewer than 4k chunks, so that a
    large k (1,000 of 100,000 columns) still pre-selects instead of running top-k over the whole row."""
    width = CHUNK
    while width > 4 and nc // width < 4 * k:
        width //= 2
    return width


def topk_lower_index(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.topk, then equal scores put in index order: among the k found (a sort of those k) for the rows with a
    tie inside them, and over the whole row (a stable sort) only for the rows where a tie straddles the cut, whose
    lower-index twins may lie beyond the k found (rare)."""
    extra = x.shape[1] > k
    vals, idx = torch.topk(x, k + extra, dim=1, sorted=True)               # the (k+1)-th shows a straddling tie
    straddle = (vals[:, k] == vals[:, k - 1]) if extra else torch.zeros_like(vals[:, 0], dtype=torch.bool)
    inner = (vals[:, 1:k] == vals[:, :k - 1]).any(1) & ~straddle
    vals, idx = vals[:, :k], idx[:, :k]
    rows = torch.nonzero(inner).flatten()
    if rows.numel():                                                       # reorder the k found
        vals[rows], idx[rows] = lower_column_first(vals[rows], idx[rows], k)
    rows = torch.nonzero(straddle).flatten()
    if rows.numel():
        s_vals, s_idx = torch.sort(x[rows], dim=1, descending=True, stable=True)
        vals[rows], idx[rows] = s_vals[:, :k], s_idx[:, :k]
    return vals, idx


def lower_column_first(cand_s: torch.Tensor, cand_c: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k of candidate scores with equal scores by lower column (columns distinct per row)."""
    order = cand_c.argsort(dim=1)
    s, pos = torch.sort(cand_s.gather(1, order), dim=1, descending=True, stable=True)
    return s[:, :k], cand_c.gather(1, order.gather(1, pos[:, :k]))


def merge(s1, i1, s2, i2, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge two (score desc, index asc) lists; all of i1 < all of i2, so a stable sort keeps the tie rule."""
    s, i = torch.cat([s1, s2], dim=1), torch.cat([i1, i2], dim=1)
    s, order = torch.sort(s, dim=1, descending=True, stable=True)
    return s[:, :k], i.gather(1, order)[:, :k]
