"""Per-item analysis of a before/after pair of task results: win/tie/loss and the most changed items."""

from __future__ import annotations

from typing import Any

import numpy as np

from spacekit.tasks import TaskResult

TIE = 1e-12  # per-item changes this small count as ties


def item_changes(before: TaskResult, after: TaskResult, main_metric: str, top: int = 5) -> dict:
    """Win/tie/loss counts and the `top` most improved and most regressed items with their texts."""
    qb, qa = before.quality(main_metric), after.quality(main_metric)
    delta = qa - qb
    out: dict[str, Any] = {"win_tie_loss": {"win": int((delta > TIE).sum()), "tie": int((np.abs(delta) <= TIE).sum()),
                            "loss": int((delta < -TIE).sum())}}

    def row(i: int) -> dict:
        item = {"id": before.item_ids[i], "text": " ⟷ ".join(before.item_texts.get(before.item_ids[i], [])),
                "before": float(qb[i]), "after": float(qa[i]), "delta": float(delta[i])}
        facts_after = after.item_facts(i)
        for name, value in before.item_facts(i).items():
            item[f"{name}_before"], item[f"{name}_after"] = value, facts_after[name]
        return item

    order = np.argsort(delta, kind="stable")
    out["most_improved"] = [row(i) for i in order[::-1][:top] if delta[i] > TIE]
    out["most_regressed"] = [row(i) for i in order[:top] if delta[i] < -TIE]
    out["delta_histogram"] = delta_histogram(delta)
    return out


def delta_histogram(delta: np.ndarray, bins: int = 30) -> dict:
    """The per-item changes as a histogram with the zero bin split off: {n, ties (|delta| <= TIE, counted, not
    binned), undefined, counts, edges (symmetric about 0, over the changed items)}."""
    finite = delta[np.isfinite(delta)]
    changed = finite[np.abs(finite) > TIE]
    reach = float(np.abs(changed).max()) if len(changed) else 1.0
    counts, edges = np.histogram(changed, bins=bins, range=(-reach, reach))
    return {"n": len(delta), "ties": int(len(finite) - len(changed)), "undefined": int(len(delta) - len(finite)),
            "counts": counts.tolist(), "edges": edges.tolist()}
