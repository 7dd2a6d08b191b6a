"""The torch route of top-k: a score tile per query slice, fp32 throughout (a GPU's dot search) or candidates
re-scored in fp32 (topk_settle proves the result exact)."""

from __future__ import annotations

import math

import torch

from spacekit import backend
from spacekit.ops.topk_rescore import gathered_scores
from spacekit.ops.topk_select import CHUNK, select
from spacekit.ops.topk_settle import SearchCounters, candidate_ceiling, candidate_floor, exact_rows, settle, tf32
from spacekit.ops.topk_tile import CorpusTile, Scratch, exact_scores


def torch_slices(qt: torch.Tensor, tile: CorpusTile, k: int, reduced: str | None, limit: backend.Budget,
                 scratch: Scratch | None = None, counters: SearchCounters | None = None,
                 floor: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """torch_topk over query slices whose score tile fits the budget (a query tile sized for the fused route has
    no score tile in its budget, and the fused kernel may fall back to this). On the CPU (a scratch) the slices are
    the scratch's score buffer, each only picks candidates, and the whole query tile is re-scored at once: each
    candidate row is then read once for all the queries that picked it (topk_rescore.sampled_scores); floor (b,),
    the k-th exact score of the corpus tiles before this one, spares the columns that cannot reach it."""
    n = tile.exact.shape[0]
    if scratch is not None and reduced is not None and k < n:
        rows = max(1, scratch.scores.numel() // n)
        picked = [candidates(qt[lo:lo + rows], tile, k, reduced, scratch, None if floor is None else
                             floor[lo:lo + rows]) for lo in range(0, qt.shape[0], rows)]
        cand, ceiling = (torch.cat([p[j] for p in picked]) for j in (0, 1))
        return rescored(qt, tile, k, cand, ceiling, limit, scratch, counters)
    rows = score_rows(limit, n)
    parts = [torch_topk(qt[lo:lo + rows], tile, k, reduced, limit, scratch, counters)
             for lo in range(0, qt.shape[0], rows)]
    if len(parts) == 1:
        return parts[0]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def score_rows(limit: backend.Budget, n: int) -> int:
    """Query rows whose (rows, n) score tile and chunk maxima fit the budget (twice: the selection's temporaries)."""
    return limit.rows(4 * (n + n // CHUNK) * 2, at_least=1, at_most=4096)


def torch_topk(qt: torch.Tensor, tile: CorpusTile, k: int, reduced: str | None, limit: backend.Budget,
               scratch: Scratch | None, counters: SearchCounters | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k from a score tile: fp32 (a GPU's dot search), or candidates (from fp16/bf16/tf32 scores, on the CPU from
    bf16 or fp32 products) re-scored in fp32. A tile of k rows or fewer under candidates is scored as a redone row
    is (exact_rows: each score the fp32 rounding of a float64 dot product), so its scores equal those the same rows
    get inside a larger tile (a sharded search's small shards)."""
    n = tile.exact.shape[0]
    if reduced is None:
        with tf32(False):                                                 # exact fp32, whatever the global flag
            return select(exact_scores(qt, tile, scratch), min(k, n))
    if k >= n:
        return exact_rows(qt, tile, n, limit)
    return reduced_precision_topk(qt, tile, k, reduced, limit, scratch, counters)


def candidate_count(k: int, mode: str, dev: torch.device) -> int:
    """Candidates picked per row before re-scoring: a margin over k that the rounding bound rarely eats, so that
    few rows redo: bf16's bound is 8x fp16's; on the CPU, IEEE fp32 products are off by ~d 2^-23 at most, and bf16
    tiles measure their rounding (candidate_ceiling: about a third of the elementwise bound)."""
    if dev.type == "cpu" and mode in ("fp32", "bf16"):
        return k + 16 + (k // 8 if mode == "fp32" else k // 2)
    return max(2 * k, k + (64 if mode == "bf16" else 32))


def reduced_precision_topk(q: torch.Tensor, tile: CorpusTile, k: int, mode: str, limit: backend.Budget,
                           scratch: Scratch | None = None, counters: SearchCounters | None = None
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidates from fp16/bf16/tf32 scores, re-scored in fp32; rows whose margin is too thin redo in fp32.

    q: (b, d) fp32; tile.low: the corpus tile in the reduced dtype (fp32 for tf32). |fp32 score - reduced
    score| <= rounding_bound (both inputs rounded, the output rounded, fp32 accumulation). A corpus row outside the
    candidates has a reduced score <= the last candidate's, so its fp32 score is at most that plus the bound: the
    row is exact when that stays below the k-th fp32 score.
    """
    cand, ceiling = candidates(q, tile, k, mode, scratch)
    return rescored(q, tile, k, cand, ceiling, limit, scratch, counters)


def candidates(q: torch.Tensor, tile: CorpusTile, k: int, mode: str, scratch: Scratch | None = None,
               floor: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(cand (b, extra) columns picked from reduced-precision scores, ceiling (b,): the highest exact score a column
    outside them can have; -inf when every column is a candidate, or none outside can reach `floor` (b,), the k-th
    exact score so far: a large k on the CPU then skips the columns that cannot (cand -1 where fewer are left)."""
    nc = tile.exact.shape[0]
    extra = min(nc, candidate_count(k, mode, q.device))
    q_low = q.to(tile.low.dtype)
    with tf32(mode == "tf32"):
        if scratch is None:
            approx = q_low @ tile.low.T                                    # (b, nc): fp16/bf16, or tf32 inputs
            if tile.low_scale is not None:                                 # rows given in fp16/bf16: scaled in fp32
                approx = approx.float().mul_(tile.low_scale)
        elif scratch.low is None:                                          # the CPU's fp32 products
            approx = exact_scores(q, tile, scratch)
        else:                                                              # the CPU: bf16 products, reduced in fp32
            shape, size = (q.shape[0], nc), q.shape[0] * nc                # (its bf16 reductions are ~8x slower)
            products = torch.matmul(q_low, tile.low.T, out=scratch.low[:size].view(shape))
            approx = scratch.scores[:size].view(shape).copy_(products)
    lowest = None if floor is None else candidate_floor(q, q_low, tile, floor, mode)
    cand_s, cand = select(approx, extra, ties=False, floor=lowest)       # (b, extra); the bound covers ties
    del approx
    if extra == nc:
        return cand, torch.full_like(q[:, 0], -math.inf)
    last = cand_s[:, -1].float()
    ceiling = candidate_ceiling(q, q_low, tile, last, mode)
    if floor is not None:                                                 # nothing outside reaches the floor
        ceiling = torch.where((last == -math.inf) | (ceiling < floor), -math.inf, ceiling)
    return cand, ceiling


def rescored(q: torch.Tensor, tile: CorpusTile, k: int, cand: torch.Tensor, ceiling: torch.Tensor,
             limit: backend.Budget, scratch: Scratch | None = None, counters: SearchCounters | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact top-k of q's rows from their candidates, re-scored and proven complete (topk_settle.settle)."""
    exact = gathered_scores(q, tile.exact, cand, limit, scratch)
    if tile.scale is not None:
        exact.mul_(tile.scale[cand])
    exact.masked_fill_(cand < 0, -math.inf)                               # no candidate there (a floor's padding)
    return settle(q, tile, k, exact, cand, ceiling, limit, counters=counters)
