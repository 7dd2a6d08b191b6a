"""Exact top-k similarity search, tiled over corpus and queries, streaming a store shard by shard.

Torch path, per tile: scores = q @ c.T (on the CPU through the faster BLAS, into a reused buffer), then a chunk-max
pre-selection (the top k chunks of B columns by their maximum hold the top k entries: each entry above the k-th
value lies in a chunk whose max is above it), a top-k over the gathered chunks, and a merge with the running
result. On CUDA the fused kernel (kernels/topk_triton.py) replaces the score tile by per-chunk best / column /
runner-up (see _kernel_topk). Ties: lower corpus index first, enforced by a stable sort wherever a tie could
straddle a cut. Candidates from fp16/bf16/tf32 scores (on the CPU: bf16 where it multiplies faster) are re-scored
in fp32 and the margin to the k-th score is checked against the rounding bound, so the result is always the fp32
exact search.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from spacekit import backend, kernels
from spacekit.ops.similarity import (
    as_tensor,
    check_metric,
    check_search,
    corpus_dtype,
    corpus_tiles,
    cpu_candidates,
    normalize,
    scores,
)

CHUNK = 32  # columns per chunk for the chunk-max pre-selection
KERNEL_MAX_K = 1024  # the fused kernel serves k up to this; larger k takes the torch path
EXACT_BLOCK = 65536  # fp16/bf16 corpus rows converted to fp32 at a time for an exact pass
_KERNEL_BROKEN: list[bool] = []  # set once when a kernel fails to build on this machine
log = logging.getLogger("spacekit")
# unit roundoff of the reduced-precision matmul inputs (tf32 keeps 10 mantissa bits, like fp16)
_UNIT_ROUNDOFF = {"fp16": 2.0**-11, "bf16": 2.0**-8, "tf32": 2.0**-11, "fp32": 2.0**-11}  # fp32: tf32 products


def topk(queries, corpus, k: int, *, metric: str = "cosine", device=None, dtype: str | None = None,
         budget: int | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k corpus rows per query -> (scores (nq, k) float32, indices (nq, k) int64), both on the CPU.

    queries: (nq, d) array/tensor; corpus: (n, d) array/tensor or a spacekit Store (streamed tile by tile).
    metric: "cosine" or "dot". Exact: float32 scores, equal scores by lower index. k is clipped to n.
    """
    check_metric(metric)
    dev = backend.device(device)
    backend.dtype(dtype, dev)                                               # validates the name
    q = as_tensor(queries, "queries").to(dev, torch.float32)
    nq, d = q.shape
    n = check_search(q, corpus, k)
    k = min(k, n)
    if metric == "cosine":
        q = normalize(q)
    limit = backend.budget(dev, budget)
    reduced = _candidate_precision(dtype, metric, dev)
    low = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(reduced or "", torch.float32)
    fused = k <= KERNEL_MAX_K and _kernels_usable(dev)
    sub = _kernel_chunk(k, low, dev) if fused else 0
    c_rows, q_rows = _tile_sizes(limit, nq, n, d, cpu=dev.type == "cpu", fused_sub=sub, k=k)
    best_s = torch.full((nq, k), -math.inf, device=dev)
    best_i = torch.full((nq, k), -1, dtype=torch.long, device=dev)
    scratch = _Scratch.on_cpu(q_rows * c_rows, low if reduced else None) if dev.type == "cpu" else None
    native = fused and low != torch.float32 and corpus_dtype(corpus) == low   # fp16/bf16 rows searched as given
    for start, c in corpus_tiles(corpus, c_rows, dev, dtype=low if native else torch.float32):
        tile = _corpus_tile(c, metric, low, reduced is not None or fused)
        use_kernel = fused and _kernel_candidates(k) < c.shape[0] // sub   # enough chunks
        for lo in range(0, nq, q_rows):
            s, i = _tile_topk(q[lo:lo + q_rows], tile, k, reduced, use_kernel, limit, scratch)
            if start == 0 and s.shape[1] == k:                             # the first corpus tile: nothing to merge
                best_s[lo:lo + q_rows], best_i[lo:lo + q_rows] = s, i
            else:
                best_s[lo:lo + q_rows], best_i[lo:lo + q_rows] = _merge(best_s[lo:lo + q_rows],
                                                                         best_i[lo:lo + q_rows], s, i + start, k)
    return best_s.cpu(), best_i.cpu()


@dataclass
class _Tile:
    """One corpus tile: the rows exact scores are computed from (fp32, or fp16/bf16 rows given as such, read as
    their fp32 values), scaled by `scale` when set (exact scores are exact @ q * scale); the rows the candidates
    are scored on in the reduced dtype, scaled by `low_scale` when set; and their largest scaled norm (for the
    rounding bound)."""

    exact: torch.Tensor
    low: torch.Tensor
    max_norm: torch.Tensor | float | None
    scale: torch.Tensor | None = None
    low_scale: torch.Tensor | None = None


def _corpus_tile(c: torch.Tensor, metric: str, low: torch.dtype, bounded: bool) -> _Tile:
    """The tile's copies, made once. On CUDA with fp16/bf16 candidates: rows given in that dtype are used as they
    are (cosine: one read for the scales 1 / |row|, applied to both scores); fp32 cosine rows get one kernel that
    writes the unit rows in the reduced dtype and the scales (no normalised fp32 copy)."""
    unit_norm = 1 + 1e-5                                                   # a float: no copy to the device
    if c.dtype == low != torch.float32:                                    # the native route (topk checked it)
        try:
            from spacekit.kernels.topk_triton import unit_rows

            _, scale = unit_rows(c, None)
            if metric == "cosine":
                return _Tile(c, c, unit_norm, scale, scale)
            return _Tile(c, c, (1 / scale).max() * unit_norm if bounded else None)
        except Exception as e:  # a kernel that fails to build must not break search
            _kernel_failed("unit-rows", e)
            c = c.float()
    if metric == "cosine" and low != torch.float32 and _kernels_usable(c.device):
        try:
            from spacekit.kernels.topk_triton import unit_rows

            c_low, scale = unit_rows(c, low)
            return _Tile(c, c_low, unit_norm, scale)
        except Exception as e:  # a kernel that fails to build must not break search
            _kernel_failed("unit-rows", e)
    if metric == "cosine":
        c = normalize(c)
    max_norm = (unit_norm if metric == "cosine" else c.norm(dim=1).max()) if bounded else None
    return _Tile(c, c.to(low), max_norm)


@dataclass
class _Scratch:
    """Flat score buffers reused by every tile on the CPU, where a fresh multi-MB result costs page faults that can
    halve a product's speed: fp32 scores, and the bf16 products when candidates come from bf16."""

    scores: torch.Tensor
    low: torch.Tensor | None = None

    @classmethod
    def on_cpu(cls, elements: int, low: torch.dtype | None) -> _Scratch:
        """Buffers of `elements` fp32 scores (and as many `low` products)."""
        return cls(torch.empty(elements), torch.empty(elements, dtype=low) if low is not None else None)


def _exact_scores(q: torch.Tensor, tile: _Tile, scratch: _Scratch | None = None) -> torch.Tensor:
    """fp32 scores of q against every row of the tile (fp16/bf16 rows: converted block by block, no fp32 copy)."""
    c = tile.exact
    if c.dtype == torch.float32:
        out = scores(q, c, out=scratch.scores if scratch else None)
    else:
        out = torch.empty((q.shape[0], c.shape[0]), device=q.device)
        for lo in range(0, c.shape[0], EXACT_BLOCK):
            out[:, lo:lo + EXACT_BLOCK] = q @ c[lo:lo + EXACT_BLOCK].float().T
    return out if tile.scale is None else out.mul_(tile.scale)


def _tile_topk(qt: torch.Tensor, tile: _Tile, k: int, reduced: str | None, fused: bool, limit: backend.Budget,
               scratch: _Scratch | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One query tile against one corpus tile: the fused kernel, else the torch path in query slices whose score
    tile fits the budget (the fused path's tiles are sized without one, and a kernel may fail to build)."""
    if fused and not _KERNEL_BROKEN:
        try:
            return _kernel_topk(qt, tile, k, reduced or "fp32", limit)
        except Exception as e:  # a kernel that fails to build on this machine must not break search
            _kernel_failed("fused top-k", e)
    rows = _score_rows(limit, tile.exact.shape[0])
    parts = [_torch_topk(qt[lo:lo + rows], tile, k, reduced, limit, scratch) for lo in range(0, qt.shape[0], rows)]
    if len(parts) == 1:
        return parts[0]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _torch_topk(qt: torch.Tensor, tile: _Tile, k: int, reduced: str | None, limit: backend.Budget,
                scratch: _Scratch | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k from a score tile: fp32, or reduced-precision candidates re-scored in fp32."""
    n = tile.exact.shape[0]
    if reduced is None or k >= n:
        with _tf32(False):                                                 # exact fp32, whatever the global flag
            return _select(_exact_scores(qt, tile, scratch), min(k, n))
    return _reduced_precision_topk(qt, tile, k, reduced, limit, scratch)


def _kernels_usable(dev: torch.device) -> bool:
    """CUDA, Triton importable, kernels not switched off, none failed to build in this process."""
    return dev.type == "cuda" and not _KERNEL_BROKEN and kernels.available(dev)


def _kernel_failed(name: str, e: Exception) -> None:
    """Log once why a kernel could not run and use the torch paths from now on."""
    log.warning("%s kernel unavailable (%s: %s); using the torch path", name, type(e).__name__,
                (str(e).splitlines() or [""])[0])
    _KERNEL_BROKEN.append(True)


def _candidate_precision(dtype: str | None, metric: str, dev: torch.device) -> str | None:
    """Precision of the scores that pick candidates (always re-scored in fp32, so the result does not depend on it):
    on the CPU bf16 where its products run faster than fp32 ones (cpu_candidates), else None (fp32 throughout); on
    CUDA the dtype asked for, except that fp32/tf32 cosine search uses fp16 (unit vectors fit fp16's range, and its
    products round like tf32's at twice the speed)."""
    name = (dtype or "fp32").lower()
    if dev.type != "cuda":
        return cpu_candidates()
    if metric == "cosine" and name in ("fp32", "tf32"):
        return "fp16"
    return None if name == "fp32" else name


def _tile_sizes(limit: backend.Budget, nq: int, n: int, d: int, *, cpu: bool = False,
                fused_sub: int = 0, k: int = 1) -> tuple[int, int]:
    """(corpus rows, query rows) per tile within the budget. With a score tile (torch paths): corpus tile at most
    1/8 of the budget (capped at 65,536 rows on the CPU, where a tile near the caches selects faster) and the
    score tile in the rest. The fused kernel writes no score tile: the corpus takes half the budget (its fp32,
    normalised and reduced copies), each query its per-chunk results (12 bytes per fused_sub columns) and its
    candidates (12 bytes each, with the chunk bookkeeping), twice."""
    if fused_sub:
        c_rows = min(n, max(CHUNK, limit.rows(20 * d) // CHUNK * CHUNK))
        per_query = 12 * (c_rows // fused_sub + 1) + 32 * _kernel_candidates(k) + 12 * _candidate_width(k, fused_sub)
        q_rows = min(nq, limit.rows(2 * per_query, at_least=1, at_most=16384))
        return c_rows, q_rows
    c_rows = limit.rows(4 * d * 8, at_most=65536 if cpu else None) // CHUNK * CHUNK
    c_rows = min(n, max(CHUNK, c_rows))                                    # a multiple of CHUNK: no ragged tail
    return c_rows, min(nq, _score_rows(limit, c_rows))


def _score_rows(limit: backend.Budget, n: int) -> int:
    """Query rows whose (rows, n) score tile and chunk maxima fit the budget (twice: the selection's temporaries)."""
    return limit.rows(4 * (n + n // CHUNK) * 2, at_least=1, at_most=4096)


def _select(scores: torch.Tensor, k: int, ties: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact top-k per row of a score tile, lower column first among ties (any order among ties: ties=False).

    The columns are cut into m chunks of CHUNK: on a GPU chunk j holds the columns j, j + m, j + 2m, ... (the max
    is then a reduction over an outer dimension, read at full bandwidth), on the CPU the contiguous columns
    j * CHUNK ... (cache lines read once). Any partition keeps the pre-selection exact; only a tie among chunk
    maxima at the cut could drop a lower-index twin, so those rows (rare) are redone over the whole row.
    """
    b, nc = scores.shape
    m = nc // CHUNK
    if m < 4 * k:  # pre-selection would not pay: top-k over the whole row
        return _topk_lower_index(scores, k) if ties else torch.topk(scores, k, dim=1)
    strided = scores.device.type != "cpu"
    body = scores[:, :m * CHUNK]
    maxima = body.view(b, CHUNK, m).amax(dim=1) if strided else body.view(b, m, CHUNK).amax(dim=2)   # (b, m)
    top_max, chunk = torch.topk(maxima, k + 1, dim=1)                      # (b, k + 1); the extra one sees ties
    chunk = chunk[:, :k].sort(dim=1).values
    offsets = torch.arange(CHUNK, device=scores.device)
    if strided:
        cols = (offsets.view(1, CHUNK, 1) * m + chunk.unsqueeze(1)).view(b, -1)     # (b, CHUNK * k), ascending
    else:
        cols = (chunk.unsqueeze(2) * CHUNK + offsets.view(1, 1, CHUNK)).view(b, -1)
    if nc > m * CHUNK:                                                     # the ragged tail always competes
        tail = torch.arange(m * CHUNK, nc, device=scores.device).expand(b, -1)
        cols = torch.cat([cols, tail], dim=1)
    if not ties:
        vals, pos = torch.topk(scores.gather(1, cols), k, dim=1)
        return vals, cols.gather(1, pos)
    vals, pos = _topk_lower_index(scores.gather(1, cols), k)
    idx = cols.gather(1, pos)
    rows = torch.nonzero(top_max[:, k] == top_max[:, k - 1]).flatten()   # a tie at the cut among maxima
    if rows.numel():
        vals[rows], idx[rows] = _topk_lower_index(scores[rows], k)
    return vals, idx


def _topk_lower_index(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.topk, then a stable sort for the rows where a tie straddles the cut or the order (rare)."""
    extra = x.shape[1] > k
    vals, idx = torch.topk(x, k + extra, dim=1, sorted=True)               # the (k+1)-th shows a straddling tie
    inner_tie = (vals[:, 1:] == vals[:, :-1]).any(1)                       # ties inside (or at the cut)
    vals, idx = vals[:, :k], idx[:, :k]
    rows = torch.nonzero(inner_tie).flatten()
    if rows.numel():
        s_vals, s_idx = torch.sort(x[rows], dim=1, descending=True, stable=True)
        vals[rows], idx[rows] = s_vals[:, :k], s_idx[:, :k]
    return vals, idx


def _merge(s1, i1, s2, i2, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge two (score desc, index asc) lists; all of i1 < all of i2, so a stable sort keeps the tie rule."""
    s, i = torch.cat([s1, s2], dim=1), torch.cat([i1, i2], dim=1)
    s, order = torch.sort(s, dim=1, descending=True, stable=True)
    return s[:, :k], i.gather(1, order)[:, :k]


def _reduced_precision_topk(q: torch.Tensor, tile: _Tile, k: int, mode: str, limit: backend.Budget,
                            scratch: _Scratch | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidates from fp16/bf16/tf32 scores, re-scored in fp32; rows whose margin is too thin redo in fp32.

    q: (b, d) fp32; tile.low: the corpus tile in the reduced dtype (fp32 for tf32). |fp32 score - reduced
    score| <= _rounding_bound (both inputs rounded, the output rounded, fp32 accumulation). A corpus row outside the
    candidates has a reduced score <= the last candidate's, so its fp32 score is at most that plus the bound: the
    row is exact when that stays below the k-th fp32 score.
    """
    nc = tile.exact.shape[0]
    extra = min(nc, max(2 * k, k + (64 if mode == "bf16" else 32)))         # bf16's bound is 8x fp16's
    with _tf32(mode == "tf32"):
        if scratch is None:
            approx = q.to(tile.low.dtype) @ tile.low.T                     # (b, nc): fp16/bf16, or tf32 inputs
            if tile.low_scale is not None:                                 # rows given in fp16/bf16: scaled in fp32
                approx = approx.float().mul_(tile.low_scale)
        else:                                                              # the CPU: bf16 products, reduced in fp32
            shape, size = (q.shape[0], nc), q.shape[0] * nc                # (its bf16 reductions are ~8x slower)
            products = torch.matmul(q.to(tile.low.dtype), tile.low.T, out=scratch.low[:size].view(shape))
            approx = scratch.scores[:size].view(shape).copy_(products)
    cand_s, cand = _select(approx, extra, ties=False)                      # (b, extra); the bound covers ties
    del approx
    ceiling = cand_s[:, -1].float() if extra < nc else torch.full_like(q[:, 0], -math.inf)
    exact = _candidate_scores(q, tile.exact, cand, limit)
    if tile.scale is not None:
        exact.mul_(tile.scale[cand])
    return _settle(q, tile, k, exact, cand, ceiling + _rounding_bound(q, tile, mode), limit)


def _settle(q: torch.Tensor, tile: _Tile, k: int, cand_s: torch.Tensor, cand_c: torch.Tensor, ceiling: torch.Tensor,
            limit: backend.Budget, more: torch.Tensor | None = None,
            widen: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact fp32 top-k among each row's candidates (exact scores cand_s at distinct columns cand_c, in any order;
    missing ones -inf), proven complete with one wait for the device: ceiling (b,) is the highest exact score a
    column outside the candidates can have, and rows reaching their k-th score redo over the whole tile in fp32;
    rows flagged in `more` (their candidates are incomplete) are settled by widen(rows); rows with equal scores in
    their top k + 1 are ordered by lower column."""
    vals, pos = torch.topk(cand_s, k + 1, dim=1)                          # sorted; the (k+1)-th shows a cut tie
    s, idx = vals[:, :k], cand_c.gather(1, pos[:, :k])
    code = (ceiling >= s[:, -1]).to(torch.int8) * 4 + (vals[:, 1:] == vals[:, :-1]).any(1).to(torch.int8)
    if more is not None:
        code += more.to(torch.int8) * 2
    flagged = torch.nonzero(code).flatten()                               # the one wait
    if not flagged.numel():
        return s, idx
    kind = code[flagged]                                                  # redo first, then more, then ties only
    ties, wide, exact = flagged[kind == 1], flagged[(kind == 2) | (kind == 3)], flagged[kind >= 4]
    if ties.numel():
        s[ties], idx[ties] = _lower_column_first(cand_s[ties], cand_c[ties], k)
    if wide.numel():
        s[wide], idx[wide] = widen(wide)
    if exact.numel():
        log.debug("top-k: %d of %d rows too close to call in reduced precision, redone in fp32", exact.numel(),
                  q.shape[0])
        s[exact], idx[exact] = _exact_rows(q[exact], tile, k, limit)
    return s, idx


def _candidate_scores(q: torch.Tensor, c: torch.Tensor, cols: torch.Tensor, limit: backend.Budget) -> torch.Tensor:
    """(b, kc) fp32 scores of q's rows against c's rows at cols (clamped into range): one fused gather-dot kernel
    on CUDA, else gathered rows times q, slice by slice into one reused buffer (on the CPU ~4 MB: it stays in
    cache and costs no page faults; on a GPU as much as the budget allows), each the fp32 rounding of a float64
    dot product: the same value whatever the shape of the product (a float32 batched product rounds differently
    for different numbers of candidates, and equal rows in two corpus tiles then came in the wrong order)."""
    if _kernels_usable(c.device):
        try:
            from spacekit.kernels.topk_triton import gather_dot

            return gather_dot(q, c, cols)
        except Exception as e:  # a kernel that fails to build must not break search
            _kernel_failed("gather-dot", e)
    (b, d), kc = q.shape, cols.shape[1]
    exact = torch.empty(cols.shape, dtype=torch.float32, device=q.device)
    cols_c = cols.clamp(max=c.shape[0] - 1)
    row_bytes = 4 * kc * d
    rows_per = max(1, (4 << 20) // row_bytes if q.device.type == "cpu" else limit.rows(row_bytes, at_most=b) // 4)
    gathered = torch.empty((min(rows_per, b) * kc, d), dtype=c.dtype, device=q.device)
    for lo in range(0, b, rows_per):
        r = min(rows_per, b - lo)
        rows = torch.index_select(c, 0, cols_c[lo:lo + r].reshape(-1), out=gathered[:r * kc])
        exact[lo:lo + r] = torch.bmm(rows.view(r, kc, d).double(), q[lo:lo + r].double().unsqueeze(2)).squeeze(2)
    return exact


def _rounding_bound(q: torch.Tensor, tile: _Tile, mode: str) -> torch.Tensor:
    """(b,) bound on |fp32 score - reduced-precision score| for each query row against any corpus row: inputs and
    output rounded (3u |q| |c|), fp32 accumulation of d terms (d 2^-23 |q| |c|, twice the first-order bound, + 1e-6),
    and for fp16 the absolute error of subnormal inputs (at most 2^-25 per element: 2^-25 sqrt(d) (|q| + |c|) by
    Cauchy-Schwarz)."""
    qn = q.norm(dim=1)
    bound = (3 * _UNIT_ROUNDOFF[mode] + q.shape[1] * 2.0**-23) * qn * tile.max_norm + 1e-6
    if mode == "fp16":
        bound = bound + 2.0**-25 * math.sqrt(q.shape[1]) * (qn + tile.max_norm)
    return bound


class _tf32:
    """Context: TF32 matmuls on or off (restored after)."""

    def __init__(self, on: bool):
        self.on = on

    def __enter__(self):
        self.prev = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = self.on

    def __exit__(self, *exc):
        torch.backends.cuda.matmul.allow_tf32 = self.prev


def _chunk_width(k: int) -> int:
    """Columns per chunk for the fused kernel: wide for small k (fewer maxima to store and select from), narrow for
    large k and for neighbours stored side by side (fewer chunks holding two of the top k, each of which is
    re-scored in full)."""
    return 128 if k <= 16 else 64 if k <= 64 else 32 if k <= 256 else 16


def _kernel_chunk(k: int, low: torch.dtype, dev: torch.device) -> int:
    """_chunk_width(k), narrowed to the widest chunk the kernel takes for these inputs."""
    from spacekit.kernels.topk_triton import max_chunk

    return min(_chunk_width(k), max_chunk(low == torch.float32, dev))


def _kernel_candidates(k: int) -> int:
    """Chunks taken per query by the fused path: k plus a margin, so the next chunk's maximum sits far enough
    below the k-th score that the rounding bound rarely leaves a row undecided."""
    return max(2 * k, k + 32)


def _expansion_slots(sub: int) -> int:
    """Chunks per query re-scored in full in the first pass (a query with more takes a second pass)."""
    return max(2, 512 // sub)


def _candidate_width(k: int, sub: int) -> int:
    """Candidate columns per query in the first pass: the chunks' best columns and the expansion slots."""
    return _kernel_candidates(k) + _expansion_slots(sub) * sub


def _kernel_topk(q: torch.Tensor, tile: _Tile, k: int, mode: str,
                 limit: backend.Budget) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k through the fused kernel, proven exact, with one wait for the GPU.

    The kernel gives per chunk its best reduced-precision score, that column and the runner-up score. The best
    kc > k chunks by best score are taken; their best columns are distinct candidates, k of them score >= kth (the
    k-th best chunk maximum), so the k-th exact score is >= kth - bound. A chunk's other columns score <= runner-up
    + bound, so only chunks with runner-up + 2 bound >= kth are expanded (all their columns re-scored); the others
    give their best column. Rows where an unselected chunk (<= the next chunk maximum + bound) could still reach
    the k-th exact score redo in fp32. Needs more than kc chunks (topk checks it).
    """
    from spacekit.kernels.topk_triton import chunk_top2

    sub, kc = _kernel_chunk(k, tile.low.dtype, q.device), _kernel_candidates(k)
    best, col, runner_up = chunk_top2(q.to(tile.low.dtype), tile.low, sub, tile.low_scale)   # (b, m) each
    top, chunk = _select(best, kc + 1, ties=False)                        # sorted, descending; via chunk maxima
    chunk = chunk[:, :kc]
    bound = _rounding_bound(q, tile, mode)
    expand = runner_up.gather(1, chunk) + 2 * bound[:, None] >= top[:, k - 1:k]     # (b, kc)
    cols = torch.where(expand, -1, col.gather(1, chunk))                  # expanded chunks: all columns, below
    return _rescore_chunks(q, tile, k, cols, chunk, expand, top[:, kc] + bound, sub, _expansion_slots(sub), limit)


def _rescore_chunks(q: torch.Tensor, tile: _Tile, k: int, cols: torch.Tensor, chunk: torch.Tensor,
                    expand: torch.Tensor, ceiling: torch.Tensor, sub: int, slots: int,
                    limit: backend.Budget) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact fp32 top-k among each row's candidate columns `cols` (-1: none) and every column of its expanded
    chunks (chunk[expand]), the first `slots` of them in this pass, settled by _settle (ceiling (b,): the highest
    exact score a column outside the candidates can have); rows with more expanded chunks than slots take a pass
    with enough."""
    from spacekit.kernels.topk_triton import candidate_scores

    b = q.shape[0]
    rank = expand.cumsum(1) - 1                                           # each expanded chunk's slot
    slot = torch.where(expand & (rank < slots), rank, slots)              # slot `slots`: the bin for the rest
    spans = torch.full((b, slots + 1), -1, dtype=torch.long, device=q.device).scatter_(1, slot, chunk)[:, :slots]
    cand_s, cand_c = candidate_scores(q, tile.exact, cols, spans, sub, tile.scale)

    def widen(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows with more expanded chunks than slots: a pass with slots for all of them, in budget-sized parts."""
        n_exp = int(expand[rows].sum(1).max())
        per = max(1, limit.rows(2 * 12 * (cols.shape[1] + n_exp * sub)))
        parts = [_rescore_chunks(q[r], tile, k, cols[r], chunk[r], expand[r], ceiling[r], sub, n_exp, limit)
                 for r in rows.split(per)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    return _settle(q, tile, k, cand_s, cand_c, ceiling, limit, rank[:, -1] >= slots, widen)


def _lower_column_first(cand_s: torch.Tensor, cand_c: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k of candidate scores with equal scores by lower column (columns distinct per row)."""
    order = cand_c.argsort(dim=1)
    s, pos = torch.sort(cand_s.gather(1, order), dim=1, descending=True, stable=True)
    return s[:, :k], cand_c.gather(1, order.gather(1, pos[:, :k]))


def _exact_rows(q: torch.Tensor, tile: _Tile, k: int, limit: backend.Budget) -> tuple[torch.Tensor, torch.Tensor]:
    """fp32 top-k of q's rows over the whole tile, in slices whose score rows fit the budget; the scores are
    rounded from float64 products, as _candidate_scores' are, so a redone row agrees with the other tiles."""
    c = tile.exact
    per = max(1, limit.rows(4 * c.shape[0] + 8 * min(c.shape[0], EXACT_BLOCK)))
    parts = []
    for lo in range(0, q.shape[0], per):
        q64 = q[lo:lo + per].double()
        s = torch.empty((q64.shape[0], c.shape[0]), device=q.device)
        for c0 in range(0, c.shape[0], EXACT_BLOCK):
            s[:, c0:c0 + EXACT_BLOCK] = q64 @ c[c0:c0 + EXACT_BLOCK].double().T
        parts.append(_select(s if tile.scale is None else s.mul_(tile.scale), k))
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
