"""Tie sensitivity: each model's main metric with its exactly tied scores ordered worst-first and best-first
(spacekit.metrics.judged.tie_bounds; trec_eval's id order lies between), the queries whose value depends on the
order, and the interval of the paired change over tie orders (after's worst minus before's best, after's best minus
before's worst); flagged when the change's sign depends on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spacekit.compare.holes import HoleInputs
from spacekit.metrics.judged import tie_bounds

MOVED = 1e-12   # a query's value depends on tie order when its bounds differ by more


@dataclass(frozen=True)
class TieSensitivity:
    """The main metric over tie orders: each model's mean worst-first and best-first, the change's interval over
    them, the queries whose value depends on the order (per model, and their ids), and whether the change's sign
    depends on it."""

    metric: str
    before_low: float
    before_high: float
    after_low: float
    after_high: float
    delta_low: float
    delta_high: float
    tied_before: int
    tied_after: int
    queries: tuple[str, ...]
    sign_depends: bool


def tie_sensitivity(data: HoleInputs, metric: str) -> TieSensitivity:
    """Both runs' tie bounds for `metric` over the items."""
    ids = data.item_ids
    (bw, bb), (aw, ab) = (tie_bounds(run, data.qrels, metric, ids) for run in (data.before, data.after))
    low, high = float(np.mean(aw - bb)), float(np.mean(ab - bw))
    moved_b, moved_a = bb - bw > MOVED, ab - aw > MOVED
    return TieSensitivity(metric=metric, before_low=float(bw.mean()), before_high=float(bb.mean()),
                          after_low=float(aw.mean()), after_high=float(ab.mean()), delta_low=low, delta_high=high,
                          tied_before=int(moved_b.sum()), tied_after=int(moved_a.sum()),
                          queries=tuple(q for q, m in zip(ids, moved_b | moved_a, strict=True) if m),
                          sign_depends=low < 0 < high)
