"""Per-item analysis of a before/after pair of task results (win/tie/loss, the most changed items), and the
in-domain vs holdout summary."""

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
    out["delta_histogram"] = delta.tolist() if len(delta) <= 5000 else np.histogram(delta, 50)[0].tolist()
    return out


def overfitting(tasks: list[dict]) -> dict:
    """In-domain vs holdout: the verdicts of each tag's main metrics, and the over-specialisation flag."""
    summary: dict[str, Any] = {}
    for tag in ("in-domain", "holdout"):
        entries = [t for t in tasks if t["tag"] == tag and t["main_metric"]]
        verdicts = [t["metrics"][t["main_metric"]]["verdict"] for t in entries]
        summary[tag] = {"tasks": len(entries), "improved": verdicts.count("improved"),
                        "regressed": verdicts.count("regressed"),
                        "mean_delta": float(np.mean([t["metrics"][t["main_metric"]]["delta"] for t in entries]))
                        if entries else None}
    flag = summary["in-domain"]["improved"] > 0 and summary["holdout"]["regressed"] > 0
    summary["over_specialised"] = flag
    summary["note"] = ("in-domain improved while holdout regressed significantly: the model over-specialised"
                       if flag else "no sign of over-specialisation")
    return summary
