"""The fused route of top-k on CUDA: the Triton kernel (kernels/src/topk_triton.py) reduces each tile of
tensor-core scores to per-chunk best score, column and runner-up — the score matrix is never written — and the best
chunks' candidates are re-scored in fp32 (topk_settle proves the result exact)."""

from __future__ import annotations

import torch

from spacekit import backend
from spacekit.ops.topk_select import select
from spacekit.ops.topk_settle import SearchCounters, rounding_bound, settle
from spacekit.ops.topk_tile import CorpusTile

KERNEL_MAX_K = 1024  # the fused kernel serves k up to this; larger k takes the torch route


def chunk_width(k: int) -> int:
    """Columns per chunk for the fused kernel: wide for small k (fewer maxima to store and select from), narrow for
    large k and for neighbours stored side by side (fewer chunks holding two of the top k, each of which is
    re-scored in full)."""
    return 128 if k <= 16 else 64 if k <= 64 else 32 if k <= 256 else 16


def kernel_chunk(k: int, low: torch.dtype, dev: torch.device) -> int:
    """chunk_width(k), narrowed to the widest chunk the kernel takes for these inputs."""
    from spacekit.kernels.topk_triton import max_chunk

    return min(chunk_width(k), max_chunk(low == torch.float32, dev))


def kernel_candidates(k: int) -> int:
    """Chunks taken per query by the fused path: k plus a margin, so the next chunk's maximum sits far enough
    below the k-th score that the rounding bound rarely leaves a row undecided."""
    return max(2 * k, k + 32)


def expansion_slots(sub: int) -> int:
    """Chunks per query re-scored in full in the first pass (a query with more takes a second pass)."""
    return max(2, 512 // sub)


def candidate_width(k: int, sub: int) -> int:
    """Candidate columns per query in the first pass: the chunks' best columns and the expansion slots."""
    return kernel_candidates(k) + expansion_slots(sub) * sub


def kernel_topk(q: torch.Tensor, tile: CorpusTile, k: int, mode: str, limit: backend.Budget,
                counters: SearchCounters | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k through the fused kernel, proven exact, with one wait for the GPU.

    The kernel gives per chunk its best reduced-precision score, that column and the runner-up score. The best
    kc > k chunks by best score are taken; their best columns are distinct candidates, k of them score >= kth (the
    k-th best chunk maximum), so the k-th exact score is >= kth - bound. A chunk's other columns score <= runner-up
    + bound, so only chunks with runner-up + 2 bound >= kth are expanded (all their columns re-scored); the others
    give their best column. Rows where an unselected chunk (<= the next chunk maximum + bound) could still reach
    the k-th exact score redo in fp32. Needs more than kc chunks (topk checks it).
    """
    from spacekit.kernels.topk_triton import chunk_top2

    sub, kc = kernel_chunk(k, tile.low.dtype, q.device), kernel_candidates(k)
    best, col, runner_up = chunk_top2(q.to(tile.low.dtype), tile.low, sub, tile.low_scale)   # (b, m) each
    top, chunk = select(best, kc + 1, ties=False)                        # sorted, descending; via chunk maxima
    chunk = chunk[:, :kc]
    bound = rounding_bound(q, tile, mode)
    expand = runner_up.gather(1, chunk) + 2 * bound[:, None] >= top[:, k - 1:k]     # (b, kc)
    cols = torch.where(expand, -1, col.gather(1, chunk))                  # expanded chunks: all columns, below
    return rescore_chunks(q, tile, k, cols, chunk, expand, top[:, kc] + bound, sub, expansion_slots(sub), limit,
                          counters)


def rescore_chunks(q: torch.Tensor, tile: CorpusTile, k: int, cols: torch.Tensor, chunk: torch.Tensor,
                    expand: torch.Tensor, ceiling: torch.Tensor, sub: int, slots: int,
                    limit: backend.Budget, counters: SearchCounters | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact fp32 top-k among each row's candidate columns `cols` (-1: none) and every column of its expanded
    chunks (chunk[expand]), the first `slots` of them in this pass, settled by settle (ceiling (b,): the highest
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
        parts = [rescore_chunks(q[r], tile, k, cols[r], chunk[r], expand[r], ceiling[r], sub, n_exp, limit,
                                counters) for r in rows.split(per)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    return settle(q, tile, k, cand_s, cand_c, ceiling, limit, rank[:, -1] >= slots, widen, counters)
