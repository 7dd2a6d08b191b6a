"""What one impression of a search log says, metric by metric, as a numerator and a denominator (a metric is the
ratio of their sums over an arm's units): success@k first (the verdict's metric), then the secondary ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spacekit.io.ab_columns import AbLog


@dataclass(frozen=True)
class Outcome:
    """One metric per impression: numerator / denominator (0/1 flags as bool, counts as integers: every sum of them
    is exact), which direction is better, what it means."""

    name: str
    numerator: np.ndarray
    denominator: np.ndarray
    higher_is_better: bool
    meaning: str


def outcomes(log: AbLog, k: int = 3, long_click_s: float = 30.0) -> list[Outcome]:
    """success@k (main), mrr (1/rank of the first click, 0 without one), ctr (clicks per shown result), clicks per
    impression, abandonment (no click), and, when the log has dwell times, long-click rate (a click >= long_click_s)."""
    ones = np.ones(len(log), dtype=np.int8)                 # counts and 0/1 flags stay narrow: sums are exact
    clicked = log.first_rank >= 0
    out = [Outcome(f"success@{k}", clicked & (log.best_rank < k), ones, True,
                   f"share of impressions with a click in the top {k}"),
           Outcome("mrr", np.where(clicked, 1 / (np.maximum(log.first_rank, 0) + 1.0), 0.0), ones, True,
                   "mean reciprocal rank of the first click (0 without a click)"),
           Outcome("ctr", log.clicks, log.shown, True, "clicks per result shown"),
           Outcome("clicks", log.clicks, ones, True, "clicks per impression"),
           Outcome("abandonment", ~clicked, ones, False, "share of impressions without a click")]
    if log.dwell is not None and not undwelled(log).any():       # a click without its dwell time: not measured
        out.append(Outcome("long_click", log.dwell >= long_click_s, ones, True,
                           f"share of impressions with a click of >= {long_click_s:g} s"))
    return out


def undwelled(log: AbLog) -> np.ndarray:
    """Per impression, whether it has a click whose dwell time the log lacks (dwell_s absent or null)."""
    if log.dwell is None:
        return np.zeros(len(log), dtype=bool)
    return np.isnan(log.dwell)


def not_measured(log: AbLog) -> list[str]:
    """The metrics the log cannot measure, each with why: long_click when some clicks lack dwell_s (never read as
    "no long click", which would make an arm whose logger drops the field look like a regression)."""
    missing = undwelled(log)
    if log.dwell is None or not missing.any():
        return []
    clicked = log.clicks > 0
    per_arm = ", ".join(f"{int((missing & (log.arm == a)).sum()):,} of {int((clicked & (log.arm == a)).sum()):,} in "
                        f"{name}" for a, name in enumerate(log.arms))
    return [f"long_click: not measured (impressions with a click but no dwell_s: {per_arm})"]
