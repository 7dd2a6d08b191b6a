"""fp32 re-scoring and the proof that a top-k picked from reduced-precision scores is the fp32 exact search.

Candidates are re-scored in fp32 (each score the fp32 rounding of a float64 dot product, or a kernel's fp32 sum).
A column outside the candidates cannot beat the `ceiling` its route proves (its reduced-precision score plus
rounding_bound); rows whose k-th exact score does not clear the ceiling are redone over the whole tile, and rows
with equal scores are ordered by lower column: so the result never depends on the candidate precision.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from spacekit import backend
from spacekit.ops.topk_rescore import gathered_scores
from spacekit.ops.topk_select import lower_column_first, select
from spacekit.ops.topk_tile import CorpusTile, exact_scores

log = logging.getLogger("spacekit")


@dataclass
class SearchCounters:
    """What a search did, for a caller that asks (topk(counters=...)): query rows settled from reduced-precision
    candidates (per corpus tile; a row the fused route widens passes again), and the rows too close to call, redone
    over the whole tile in fp32."""

    settled: int = 0
    redone: int = 0


# unit roundoff of the reduced-precision matmul inputs (tf32 keeps 10 mantissa bits, like fp16)
UNIT_ROUNDOFF = {"fp16": 2.0**-11, "bf16": 2.0**-8, "tf32": 2.0**-11, "fp32": 2.0**-11}  # fp32: tf32 products


def settle(q: torch.Tensor, tile: CorpusTile, k: int, cand_s: torch.Tensor, cand_c: torch.Tensor, ceiling: torch.Tensor,
            limit: backend.Budget, more: torch.Tensor | None = None,
            widen: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
            counters: SearchCounters | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact fp32 top-k among each row's candidates (exact scores cand_s at distinct columns cand_c, in any order;
    missing ones -inf), proven complete with one wait for the device: ceiling (b,) is the highest exact score a
    column outside the candidates can have, and rows reaching their k-th score redo over the whole tile in fp32;
    rows flagged in `more` (their candidates are incomplete) are settled by widen(rows); rows with equal scores in
    their top k + 1 are ordered by lower column."""
    vals, pos = torch.topk(cand_s, k + 1, dim=1)                          # sorted; the (k+1)-th shows a cut tie
    s, idx = vals[:, :k], cand_c.gather(1, pos[:, :k])
    reach = (ceiling >= s[:, -1]) & (ceiling > -math.inf)                # -inf: no column outside can enter
    tied = ((vals[:, 1:] == vals[:, :-1]) & (vals[:, 1:] > -math.inf)).any(1)  # missing candidates do not tie
    code = reach.to(torch.int8) * 4 + tied.to(torch.int8)
    if more is not None:
        code += more.to(torch.int8) * 2
    flagged = torch.nonzero(code).flatten()                               # the one wait
    if counters is not None:
        counters.settled += q.shape[0]
    if not flagged.numel():
        return s, idx
    kind = code[flagged]                                                  # redo first, then more, then ties only
    ties, wide, exact = flagged[kind == 1], flagged[(kind == 2) | (kind == 3)], flagged[kind >= 4]
    if ties.numel():
        s[ties], idx[ties] = lower_column_first(cand_s[ties], cand_c[ties], k)
    if wide.numel():
        if widen is None:
            raise ValueError("rows flagged in `more` need a widen callback")
        s[wide], idx[wide] = widen(wide)
    if exact.numel():
        log.debug("top-k: %d of %d rows too close to call in reduced precision, redone in fp32", exact.numel(),
                  q.shape[0])
        if counters is not None:
            counters.redone += exact.numel()
        s[exact], idx[exact] = exact_rows(q[exact], tile, k, limit)
    return s, idx


def rounding_bound(q: torch.Tensor, tile: CorpusTile, mode: str) -> torch.Tensor:
    """(b,) bound on |fp32 score - reduced-precision score| for each query row against any corpus row: inputs and
    output rounded (3u |q| |c|; on the CPU fp32 products are IEEE fp32, u = 2^-24), fp32 accumulation of d terms
    (d 2^-23 |q| |c|, twice the first-order bound, + 1e-6), and for fp16 the absolute error of subnormal inputs (at
    most 2^-25 per element: 2^-25 sqrt(d) (|q| + |c|) by Cauchy-Schwarz)."""
    qn = q.norm(dim=1)
    roundoff = 2.0**-24 if mode == "fp32" and q.device.type == "cpu" else UNIT_ROUNDOFF[mode]  # no tf32 on a CPU
    bound = (3 * roundoff + q.shape[1] * 2.0**-23) * qn * tile.max_norm + 1e-6
    if mode == "fp16":
        bound = bound + 2.0**-25 * math.sqrt(q.shape[1]) * (qn + tile.max_norm)
    return bound


def candidate_ceiling(q: torch.Tensor, q_low: torch.Tensor, tile: CorpusTile, last: torch.Tensor,
                      mode: str) -> torch.Tensor:
    """(b,) the highest exact score a column outside the candidates can have, whose reduced-precision score is at
    most `last` (the last candidate's). Where the tile measured its rounding (low_error, low_norm): the output
    rounding at that score, |last| u / (1 - u), plus the inputs' rounding, |q| |c - c~| + |q - q~| |c~| (q·c - q~·c~
    split in two, each by Cauchy-Schwarz), plus fp32 accumulation of d exact products, d 2^-23 |q~| |c~|, plus 1e-6
    for the fp32 rounding of the exact score; else last + rounding_bound."""
    relative, absolute = _ceiling_terms(q, q_low, tile, mode)
    return last + last.abs() * relative + absolute


def candidate_floor(q: torch.Tensor, q_low: torch.Tensor, tile: CorpusTile, floor: torch.Tensor,
                    mode: str) -> torch.Tensor:
    """(b,) the reduced-precision score below which a column's exact score is below `floor` (candidate_ceiling
    inverted, less a margin for the fp32 arithmetic): a later corpus tile need not pick a column that cannot reach
    the k-th exact score found so far."""
    relative, absolute = _ceiling_terms(q, q_low, tile, mode)
    below = floor - absolute
    lowest = torch.where(below >= 0, below / (1 + relative), below / (1 - relative))
    return lowest - 1e-6 * (1 + lowest.abs())


def _ceiling_terms(q: torch.Tensor, q_low: torch.Tensor, tile: CorpusTile, mode: str
                   ) -> tuple[float | torch.Tensor, torch.Tensor]:
    """(relative, absolute): candidate_ceiling(last) = last + |last| relative + absolute."""
    if tile.low_error is None or tile.low_norm is None or mode not in ("fp16", "bf16"):
        return 0.0, rounding_bound(q, tile, mode)
    u = UNIT_ROUNDOFF[mode]
    ql = q_low.float()
    inputs = q.norm(dim=1) * tile.low_error + (q - ql).norm(dim=1) * tile.low_norm
    accumulation = q.shape[1] * 2.0**-23 * ql.norm(dim=1) * tile.low_norm
    return u / (1 - u), inputs + accumulation + 1e-6


def exact_rows(q: torch.Tensor, tile: CorpusTile, k: int, limit: backend.Budget) -> tuple[torch.Tensor, torch.Tensor]:
    """fp32 top-k of q's rows over the whole tile (fp32 products, tf32 off), in slices whose score rows fit the
    budget; the k picked columns are then re-scored by gathered_scores, so a redone row's scores are those every
    other row and tile gets (equal rows tie exactly, lower column first)."""
    per = max(1, limit.rows(8 * tile.exact.shape[0]))
    parts = []
    for lo in range(0, q.shape[0], per):
        rows = q[lo:lo + per]
        with tf32(False):
            _, cols = select(exact_scores(rows, tile), k)                        # (rows, k)
        s = gathered_scores(rows, tile.exact, cols, limit)
        parts.append(lower_column_first(s if tile.scale is None else s.mul_(tile.scale[cols]), cols, k))
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


class tf32:
    """Context: TF32 matmuls on or off (restored after)."""

    def __init__(self, on: bool):
        self.on = on

    def __enter__(self):
        self.prev = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = self.on

    def __exit__(self, *exc):
        torch.backends.cuda.matmul.allow_tf32 = self.prev
