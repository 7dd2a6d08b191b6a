"""Per-item analysis of a before/after pair of task results: win/tie/loss and the most changed items."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spacekit.compare.entry import DeltaHistogram, ItemChange, WinTieLoss
from spacekit.tasks import TaskResult

TIE = 1e-12  # per-item changes this small count as ties


@dataclass(frozen=True)
class ItemChanges:
    """What the per-item analysis gives a task entry."""

    win_tie_loss: WinTieLoss
    most_improved: tuple[ItemChange, ...]
    most_regressed: tuple[ItemChange, ...]
    delta_histogram: DeltaHistogram


def item_changes(before: TaskResult, after: TaskResult, main_metric: str, top: int = 5) -> ItemChanges:
    """Win/tie/loss counts and the `top` most improved and most regressed items with their texts."""
    qb, qa = before.quality(main_metric), after.quality(main_metric)
    delta = qa - qb

    def row(i: int) -> ItemChange:
        facts: dict = {}
        facts_after = after.item_facts(i)
        for name, value in before.item_facts(i).items():
            facts[f"{name}_before"], facts[f"{name}_after"] = value, facts_after[name]
        return ItemChange(before.item_ids[i], " ⟷ ".join(before.item_texts.get(before.item_ids[i], [])),
                          float(qb[i]), float(qa[i]), float(delta[i]), facts)

    order = np.argsort(delta, kind="stable")
    return ItemChanges(
        WinTieLoss(int((delta > TIE).sum()), int((np.abs(delta) <= TIE).sum()), int((delta < -TIE).sum())),
        tuple(row(i) for i in order[::-1][:top] if delta[i] > TIE),
        tuple(row(i) for i in order[:top] if delta[i] < -TIE),
        delta_histogram(delta))


def delta_histogram(delta: np.ndarray, bins: int = 30) -> DeltaHistogram:
    """The per-item changes as a histogram with the zero bin split off: n, ties (|delta| <= TIE, counted, not
    binned), undefined, counts, edges (symmetric about 0, over the changed items)."""
    finite = delta[np.isfinite(delta)]
    changed = finite[np.abs(finite) > TIE]
    reach = float(np.abs(changed).max()) if len(changed) else 1.0
    counts, edges = np.histogram(changed, bins=bins, range=(-reach, reach))
    return DeltaHistogram(len(delta), int(len(finite) - len(changed)), int(len(delta) - len(finite)),
                          tuple(int(c) for c in counts), tuple(float(e) for e in edges))
