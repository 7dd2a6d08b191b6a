"""Per-item analysis of a before/after pair of task results: win/tie/loss and the most changed items."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from spacekit.tasks import TaskResult


def per_item_quality(result: TaskResult, main_metric: str | None) -> np.ndarray:
    """One higher-is-better number per item that moves with the task's main metric."""
    if result.kind == "retrieval":
        return result.per_item[main_metric]
    if result.kind == "sts":  # how far each pair's similarity rank is from its gold rank (negated)
        sim, gold = result.per_item["similarity"], result.extra["gold"]
        return -np.abs(rankdata(sim) - rankdata(gold)) / len(sim)
    if result.kind == "classification":
        return result.per_item["accuracy"]
    return result.per_item["purity"]


def item_changes(before: TaskResult, after: TaskResult, main_metric: str | None, top: int = 5) -> dict:
    """Win/tie/loss counts and the `top` most improved and most regressed items with their texts."""
    qb, qa = per_item_quality(before, main_metric), per_item_quality(after, main_metric)
    delta = qa - qb
    eps = 1e-12
    out = {"win_tie_loss": {"win": int((delta > eps).sum()), "tie": int((np.abs(delta) <= eps).sum()),
                            "loss": int((delta < -eps).sum())}}
    texts = before.extra.get("item_texts", {})
    ranks_b, ranks_a = before.extra.get("first_relevant_rank"), after.extra.get("first_relevant_rank")

    def row(i: int) -> dict:
        item = {"id": before.item_ids[i], "text": " ⟷ ".join(texts.get(before.item_ids[i], [])),
                "before": float(qb[i]), "after": float(qa[i]), "delta": float(delta[i])}
        if ranks_b is not None:  # first relevant document's rank, None when beyond the retrieved depth
            item["rank_before"] = int(ranks_b[i]) or None
            item["rank_after"] = int(ranks_a[i]) or None
        return item

    order = np.argsort(delta, kind="stable")
    out["most_improved"] = [row(i) for i in order[::-1][:top] if delta[i] > eps]
    out["most_regressed"] = [row(i) for i in order[:top] if delta[i] < -eps]
    out["delta_histogram"] = delta.tolist() if len(delta) <= 5000 else np.histogram(delta, 50)[0].tolist()
    return out


def overfitting(tasks: list[dict]) -> dict:
    """In-domain vs holdout: the verdicts of each tag's main metrics, and the over-specialisation flag."""
    summary = {}
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
