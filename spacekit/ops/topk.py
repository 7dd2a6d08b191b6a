"""Exact top-k similarity search, tiled over corpus and queries, streaming a store shard by shard.

Per tile: scores = q @ c.T on the device, then a chunk-max pre-selection (the top k chunks of B columns by their
maximum hold the top k entries: each entry above the k-th value lies in a chunk whose max is above it), then a
top-k over the gathered chunks, then a merge with the running result. Ties: lower corpus index first, enforced
by a stable sort wherever a tie could straddle a cut. With fp16/bf16 inputs, candidates are re-scored in fp32 and
the margin between the last candidate and the k-th score is checked against the rounding bound, so the result is
the fp32 exact search.
"""

from __future__ import annotations

import logging
import math

import torch

from spacekit import backend, kernels
from spacekit.errors import InputError
from spacekit.ops.similarity import as_tensor, check_metric, normalize

CHUNK = 32  # columns per chunk for the chunk-max pre-selection
KERNEL_MAX_K = 64  # the fused kernel serves k up to this; larger k takes the torch path
_KERNEL_BROKEN: list[bool] = []  # set once when the kernel fails to build on this machine
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
    compute = backend.dtype(dtype, dev)
    q = as_tensor(queries, "queries").to(dev, torch.float32)
    nq, d = q.shape
    n, cd = _corpus_shape(corpus)
    if cd != d:
        raise InputError(f"dimension mismatch: queries have d={d}, corpus has d={cd}")
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    k = min(k, n)
    if metric == "cosine":
        q = normalize(q)
    limit = backend.budget(dev, budget)
    c_rows, q_rows = _tile_sizes(limit, nq, n, d, cap=65536 if dev.type == "cpu" else None)
    best_s = torch.full((nq, k), -math.inf, device=dev)
    best_i = torch.full((nq, k), -1, dtype=torch.long, device=dev)
    reduced = (dtype or "fp32").lower() if dev.type == "cuda" and (dtype or "fp32").lower() != "fp32" else None
    fused = dev.type == "cuda" and k <= KERNEL_MAX_K and not _KERNEL_BROKEN and kernels.available(dev)
    for start, c in _corpus_tiles(corpus, c_rows, dev):
        if metric == "cosine":
            c = normalize(c)
        c_low = c.to(compute) if reduced in ("fp16", "bf16") else c     # converted once per corpus tile
        for lo in range(0, nq, q_rows):
            s, i = _tile_topk(q[lo:lo + q_rows], c, c_low, k, reduced, fused and k < c.shape[0], limit)
            best_s[lo:lo + q_rows], best_i[lo:lo + q_rows] = _merge(best_s[lo:lo + q_rows],
                                                                     best_i[lo:lo + q_rows], s, i + start, k)
    return best_s.cpu(), best_i.cpu()


def _tile_topk(qt: torch.Tensor, c: torch.Tensor, c_low: torch.Tensor, k: int, reduced: str | None, fused: bool,
               limit: backend.Budget) -> tuple[torch.Tensor, torch.Tensor]:
    """One query tile against one corpus tile: the fused kernel, reduced-precision torch, or fp32 torch."""
    if fused and not _KERNEL_BROKEN:
        try:
            return _kernel_topk(qt, c, c_low, k, reduced or "fp32", limit)
        except Exception as e:  # a kernel that fails to build on this machine must not break search
            log.warning("fused top-k kernel unavailable (%s: %s); using the torch path", type(e).__name__,
                        (str(e).splitlines() or [""])[0])
            _KERNEL_BROKEN.append(True)
    if reduced is None or k >= c.shape[0]:
        return _select(qt @ c.T, min(k, c.shape[0]))
    return _reduced_precision_topk(qt, c, c_low, k, reduced, limit)


def _corpus_shape(corpus) -> tuple[int, int]:
    if hasattr(corpus, "manifest"):
        return corpus.count, corpus.dim
    c = as_tensor(corpus, "corpus")
    return c.shape[0], c.shape[1]


def _corpus_tiles(corpus, rows: int, dev: torch.device):
    """(start, (rows, d) float32 tile on dev) over the corpus; a store streams shard by shard."""
    if hasattr(corpus, "manifest"):
        yield from corpus.tiles(rows, device=dev)
        return
    c = as_tensor(corpus, "corpus")
    for start in range(0, c.shape[0], rows):
        yield start, c[start:start + rows].to(dev, torch.float32)


def _tile_sizes(limit: backend.Budget, nq: int, n: int, d: int, cap: int | None = 65536) -> tuple[int, int]:
    """(corpus rows, query rows) per tile so a score tile plus its corpus tile fit the budget (corpus tiles are
    capped on the CPU, where a tile that stays near the caches selects faster)."""
    c_rows = limit.rows(4 * d * 8, at_most=cap) // CHUNK * CHUNK          # corpus tile at most 1/8 of the budget
    c_rows = min(n, max(CHUNK, c_rows))                                    # a multiple of CHUNK: no ragged tail
    q_rows = min(nq, limit.rows(4 * (c_rows + c_rows // CHUNK) * 2, at_least=1, at_most=4096))
    return c_rows, q_rows


def _select(scores: torch.Tensor, k: int, ties: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact top-k per row of a score tile, lower column first among ties (any order among ties: ties=False).

    Chunk j holds the CHUNK columns j, j + m, j + 2m, ... (m = number of chunks): strided chunks make the max a
    reduction over an outer dimension, which reads the tile at full memory bandwidth. Any partition keeps the
    pre-selection exact; only a tie among chunk maxima at the cut could drop a lower-index twin, so those rows
    (rare) are redone over the whole row.
    """
    b, nc = scores.shape
    m = nc // CHUNK
    if m < 4 * k:  # pre-selection would not pay: top-k over the whole row
        return _topk_lower_index(scores, k) if ties else torch.topk(scores, k, dim=1)
    maxima = scores[:, :m * CHUNK].view(b, CHUNK, m).amax(dim=1)          # (b, m)
    kth_max, chunk = torch.topk(maxima, k, dim=1)                          # (b, k)
    chunk = chunk.sort(dim=1).values
    offsets = torch.arange(CHUNK, device=scores.device) * m               # (CHUNK,)
    cols = (offsets.view(1, CHUNK, 1) + chunk.unsqueeze(1)).view(b, -1)    # (b, CHUNK * k), ascending
    if nc > m * CHUNK:                                                     # the ragged tail always competes
        tail = torch.arange(m * CHUNK, nc, device=scores.device).expand(b, -1)
        cols = torch.cat([cols, tail], dim=1)
    if not ties:
        vals, pos = torch.topk(scores.gather(1, cols), k, dim=1)
        return vals, cols.gather(1, pos)
    vals, pos = _topk_lower_index(scores.gather(1, cols), k)
    idx = cols.gather(1, pos)
    rows = torch.nonzero((maxima >= kth_max[:, -1:]).sum(1) > k).flatten()  # a tie at the cut among maxima
    if rows.numel():
        vals[rows], idx[rows] = _topk_lower_index(scores[rows], k)
    return vals, idx


def _topk_lower_index(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.topk, then a stable sort for the rows where a tie straddles the cut or the order (rare)."""
    vals, idx = torch.topk(x, k, dim=1, sorted=True)
    kth = vals[:, -1:]
    straddle = (x >= kth).sum(1) > k                                       # a tie at the k-th value
    inner_tie = (vals[:, 1:] == vals[:, :-1]).any(1)                       # ties inside: fix their order
    rows = torch.nonzero(straddle | inner_tie).flatten()
    if rows.numel():
        s_vals, s_idx = torch.sort(x[rows], dim=1, descending=True, stable=True)
        vals[rows], idx[rows] = s_vals[:, :k], s_idx[:, :k]
    return vals, idx


def _merge(s1, i1, s2, i2, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge two (score desc, index asc) lists; all of i1 < all of i2, so a stable sort keeps the tie rule."""
    s, i = torch.cat([s1, s2], dim=1), torch.cat([i1, i2], dim=1)
    s, order = torch.sort(s, dim=1, descending=True, stable=True)
    return s[:, :k], i.gather(1, order)[:, :k]


def _reduced_precision_topk(q: torch.Tensor, c: torch.Tensor, c_low: torch.Tensor, k: int, mode: str,
                            limit: backend.Budget) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidates from fp16/bf16/tf32 scores, re-scored in fp32; rows whose margin is too thin redo in fp32.

    q: (b, d) fp32; c: (nc, d) fp32; c_low: c in the reduced dtype (c itself for tf32). |fp32 score - reduced
    score| <= 3u |q| |c| (both inputs rounded, the output rounded, fp32 accumulation). A corpus row outside the
    candidates has a reduced score <= the last candidate's, so its fp32 score is at most that plus the bound: the
    row is exact when that stays below the k-th fp32 score.
    """
    nc = c.shape[0]
    extra = min(nc, max(2 * k, k + 32))
    if mode == "tf32":
        with _tf32(True):
            approx = q @ c.T                                               # (b, nc) fp32 output, tf32 inputs
    else:
        approx = q.to(c_low.dtype) @ c_low.T                               # (b, nc) fp16/bf16
    cand_s, cand = _select(approx, extra, ties=False)                      # (b, extra); the bound covers ties
    del approx
    ceiling = cand_s[:, -1].float() if extra < nc else torch.full_like(q[:, 0], -math.inf)
    return _rescore(q, c, cand.sort(dim=1).values, None, ceiling, k, mode, limit)


def _rescore(q: torch.Tensor, c: torch.Tensor, cols: torch.Tensor, valid: torch.Tensor | None,
             ceiling: torch.Tensor, k: int, mode: str, limit: backend.Budget) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact fp32 top-k among candidate columns (ascending per row, so the tie rule holds), proven complete:
    ceiling (b,) is the highest reduced-precision score a non-candidate column can have; a row where
    ceiling + rounding bound reaches its k-th exact score is redone over the whole tile in fp32."""
    b, d = q.shape
    exact = torch.empty(cols.shape, dtype=torch.float32, device=q.device)
    cols_c = cols.clamp(max=c.shape[0] - 1)
    rows_per = max(1, limit.rows(4 * cols.shape[1] * d, at_most=b) // 4)
    with _tf32(False):
        for lo in range(0, b, rows_per):
            part = slice(lo, lo + rows_per)
            exact[part] = torch.bmm(c[cols_c[part]], q[part].unsqueeze(2)).squeeze(2)   # (rows, candidates)
    if valid is not None:
        exact.masked_fill_(~valid, -math.inf)
    s, pos = _topk_lower_index(exact, k)
    idx = cols.gather(1, pos)
    bound = 3 * _UNIT_ROUNDOFF[mode] * q.norm(dim=1) * c.norm(dim=1).max() + 1e-6   # (b,)
    rows = torch.nonzero(ceiling + bound >= s[:, -1]).flatten()
    if rows.numel():
        with _tf32(False):
            s[rows], idx[rows] = _select(q[rows] @ c.T, k)
    return s, idx


class _tf32:
    """Context: TF32 matmuls on or off (restored after)."""

    def __init__(self, on: bool):
        self.on = on

    def __enter__(self):
        self.prev = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = self.on

    def __exit__(self, *exc):
        torch.backends.cuda.matmul.allow_tf32 = self.prev


def _kernel_topk(q: torch.Tensor, c: torch.Tensor, c_low: torch.Tensor, k: int, mode: str,
                 limit: backend.Budget) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k through the fused chunk-max kernel: the best k chunks per query by their (reduced-precision) max,
    their columns re-scored in fp32; rows where a column outside those chunks could still reach the top k
    (next chunk's max + rounding bound >= k-th exact score) are redone in fp32."""
    from spacekit.kernels.topk_triton import BLOCK_N, chunk_max

    b = q.shape[0]
    nc = c.shape[0]
    maxima = chunk_max(q.to(c_low.dtype), c_low)                           # (b, m) fp32, never the (b, nc) scores
    m = maxima.shape[1]
    kc = min(k, m)
    top_max, chunk = torch.topk(maxima, min(kc + 1, m), dim=1)
    nxt = top_max[:, kc] if m > kc else torch.full((b,), -math.inf, device=q.device)
    chunk = chunk[:, :kc].sort(dim=1).values
    cols = (chunk.unsqueeze(-1) * BLOCK_N + torch.arange(BLOCK_N, device=q.device)).view(b, -1)  # ascending
    return _rescore(q, c, cols, cols < nc, nxt, k, mode, limit)
