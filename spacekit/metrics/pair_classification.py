"""Pair classification as MTEB computes it: is each pair a duplicate (label 1) or not (0), judged by the cosine of
its two texts? Average precision (scikit-learn's), and the accuracy and F1 of the best threshold.

MTEB (PairClassificationEvaluator) sorts the pairs by similarity, descending (equal similarities keep their input
order), and tries a cut after each pair but the last: accuracy counts the positives above the cut and the
negatives below it, F1 the positives above it; the threshold is the midpoint of the two similarities around the
best cut (the first best). The weighted versions give the same numbers for unit weights, and score each bootstrap
resample (weights = how often each pair was drawn) without re-sorting.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import average_precision_score


def best_accuracy(sim: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(accuracy, threshold) of the best cut, as MTEB's find_best_acc_and_threshold (0 and -1 if no cut beats 0)."""
    s, y = _sorted(sim, labels)
    n = len(y)
    positives_so_far = np.cumsum(y)[:-1]
    remaining_negatives = (n - y.sum()) - np.cumsum(1 - y)[:-1]
    acc = (positives_so_far + remaining_negatives) / n                   # a cut after pair i, for i < n - 1
    if not len(acc) or acc.max() <= 0:
        return 0.0, -1.0
    i = int(np.argmax(acc))                                              # the first best, as MTEB's strict >
    return float(acc[i]), float((s[i] + s[i + 1]) / 2)


def best_f1(sim: np.ndarray, labels: np.ndarray) -> tuple[float, float, float, float]:
    """(f1, precision, recall, threshold) of the best cut, as MTEB's find_best_f1_and_threshold."""
    s, y = _sorted(sim, labels)
    correct = np.cumsum(y)[:-1]
    extracted = np.arange(1, len(y))
    total = y.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(correct > 0, 2 * correct / (extracted + total), 0.0)
    if not len(f1) or f1.max() <= 0:
        return 0.0, 0.0, 0.0, 0.0
    i = int(np.argmax(f1))
    return float(f1[i]), float(correct[i] / extracted[i]), float(correct[i] / total), float((s[i] + s[i + 1]) / 2)


def pair_scores(sim: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """{ap, accuracy, accuracy_threshold, f1, f1_threshold, precision, recall} of cosine similarities against 0/1
    labels (MTEB's cos_sim scores; AP is scikit-learn's average_precision_score, equal similarities as one step)."""
    sim, labels = np.asarray(sim, np.float64), np.asarray(labels, np.int64)
    acc, acc_threshold = best_accuracy(sim, labels)
    f1, precision, recall, f1_threshold = best_f1(sim, labels)
    return {"ap": float(average_precision_score(labels, sim)), "accuracy": acc, "accuracy_threshold": acc_threshold,
            "f1": f1, "f1_threshold": f1_threshold, "precision": precision, "recall": recall}


SCORING = ("dot", "euclidean", "manhattan")   # MTEB's other scoring functions, beside the cosine


def scoring_scores(a: np.ndarray, b: np.ndarray, labels: np.ndarray, cosine: np.ndarray) -> dict[str, float]:
    """MTEB's pair metrics under every scoring function: dot_ap, euclidean_f1, ... (the distances ranked small
    first), and max_ap / max_accuracy / max_f1, the best over them and the cosine (MTEB's main score is max_ap)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    similarity = {"dot": (a * b).sum(1), "euclidean": -np.linalg.norm(a - b, axis=1),
                  "manhattan": -np.abs(a - b).sum(1)}
    out: dict[str, float] = {}
    best = {k: v for k, v in pair_scores(cosine, labels).items() if k in ("ap", "accuracy", "f1")}
    for name in SCORING:
        scores = pair_scores(similarity[name], labels)
        for metric in ("ap", "accuracy", "f1"):
            out[f"{name}_{metric}"] = scores[metric]
            best[metric] = max(best[metric], scores[metric])
    return {**out, **{f"max_{k}": v for k, v in best.items()}}


def weighted_pair_scores(sim: np.ndarray, labels: np.ndarray, w: torch.Tensor) -> dict[str, torch.Tensor]:
    """{ap, accuracy, f1}, each (R,), of the multiset in which pair j appears w[r, j] times (w: (R, n) counts).

    AP groups equal similarities (scikit-learn's thresholds); accuracy and F1 take the best cut after any pair with
    weight, as MTEB does on the multiset, including its cut before the last copy (never after the last one).
    """
    order = np.argsort(-np.asarray(sim, np.float64), kind="stable")
    s = np.asarray(sim, np.float64)[order]
    y = torch.as_tensor(np.asarray(labels, np.float64)[order], device=w.device)          # (n,)
    ws = w[:, torch.as_tensor(order, device=w.device)]                                    # (R, n), sorted
    tp, extracted = (ws * y).cumsum(1), ws.cumsum(1)                                      # (R, n) each
    fp = extracted - tp
    total, pos = extracted[:, -1:], tp[:, -1:]                                            # (R, 1) each
    neg = total - pos
    return {"ap": _weighted_ap(s, tp, extracted, pos), **_best_cuts(ws, y, tp, fp, extracted, total, pos, neg)}


def _weighted_ap(s: np.ndarray, tp: torch.Tensor, extracted: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """sum over distinct similarities (descending) of the recall step times the precision there."""
    ends = torch.as_tensor(np.flatnonzero(np.append(s[1:] != s[:-1], True)), device=tp.device)  # each tie's last
    tp_g, ext_g = tp[:, ends], extracted[:, ends]                                         # (R, groups)
    step = torch.diff(tp_g, dim=1, prepend=torch.zeros_like(tp_g[:, :1])) / pos
    precision = torch.where(ext_g > 0, tp_g / ext_g.clamp(min=1e-300), 0.0)
    return (step * precision).sum(1)


def _best_cuts(ws, y, tp, fp, extracted, total, pos, neg) -> dict[str, torch.Tensor]:
    """Best accuracy and F1 over the cuts after each pair that leave some weight below, and the cut before the last
    copy of the last pair with weight."""
    allowed = extracted < total                                                           # (R, n)
    last = ws.shape[1] - 1 - (ws > 0).flip(1).int().argmax(1)                            # (R,) last pair drawn
    y_last = y[last].unsqueeze(1)                                                         # (R, 1)
    acc = torch.where(allowed, (tp + neg - fp) / total, 0.0).amax(1)
    acc_last = ((pos + 1 - 2 * y_last) / total).squeeze(1)                                # cut before the last copy
    f1 = torch.where(allowed & (tp > 0), 2 * tp / (extracted + pos), 0.0).amax(1)
    tp_last = pos - y_last
    f1_last = torch.where(tp_last > 0, 2 * tp_last / (total - 1 + pos), 0.0).squeeze(1)
    many = total.squeeze(1) > 1                                                           # a cut exists at all
    return {"accuracy": torch.where(many, torch.maximum(acc, acc_last), 0.0).clamp(min=0),
            "f1": torch.where(many, torch.maximum(f1, f1_last), 0.0).clamp(min=0)}


def _sorted(sim: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Similarities and labels by similarity descending, equal ones in input order (Python's stable sort)."""
    sim = np.asarray(sim, np.float64)
    order = np.argsort(-sim, kind="stable")
    return sim[order], np.asarray(labels, np.int64)[order]
