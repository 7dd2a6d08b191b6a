"""Threshold transfer: a similarity cut-off used with the before model ("show matches above 0.65"), judged on a
task's scored pairs (spacekit.metrics.threshold): its precision, recall and F1 before, what it gives if reused
unchanged with the after model, the after model's cut-off at equal precision and at equal recall, and each model's
best-F1 cut-off and how far it moved, each cut-off with a paired bootstrap interval over the task's items."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

import numpy as np

from spacekit.metrics.threshold import (
    BOOTSTRAP_CHUNK,
    Curve,
    ScoredPairs,
    at_precision,
    at_recall,
    best_f1,
    curve,
    operating_point,
    resample_weights,
)
from spacekit.records import Json

MAX_RESAMPLES = 2000     # a cut-off's interval needs fewer resamples than a p-value; each one sorts every pair
BINS = 40                # the score histograms' bins, over both models' scores


@dataclass(frozen=True)
class ScoreHistogram:
    """Both models' scores binned on shared edges, positives and negatives apart (the report's overlaid plot)."""

    edges: tuple[float, ...]
    before_positive: tuple[int, ...]
    before_negative: tuple[int, ...]
    after_positive: tuple[int, ...]
    after_negative: tuple[int, ...]


@dataclass(frozen=True)
class Cutoff:
    """A cut-off and its bootstrap interval (None: too few resamples reached it)."""

    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Operating:
    """What a cut-off selects: precision (None when it keeps no pair), recall, F1."""

    precision: float | None
    recall: float
    f1: float


@dataclass(frozen=True)
class ThresholdTransfer:
    """A task's similarity cut-off under both models: with a given cut-off, its operating point before and reused
    after, and the after cut-offs at equal precision and equal recall; always each model's best-F1 cut-off and its
    shift (after - before, a paired interval). line: the plain sentence the report leads with."""

    positive: str
    pairs_before: int
    pairs_after: int
    resamples: int
    given: Annotated[float | None, Json(omit_none=True)]
    before: Annotated[Operating | None, Json(omit_none=True)]
    reused: Annotated[Operating | None, Json(omit_none=True)]
    equal_precision: Annotated[Cutoff | None, Json(omit_none=True)]
    equal_recall: Annotated[Cutoff | None, Json(omit_none=True)]
    best_f1_before: Cutoff
    best_f1_after: Cutoff
    best_f1_shift: Cutoff
    f1_best_before: float
    f1_best_after: float
    histogram: ScoreHistogram
    line: str


def threshold_transfer(before: ScoredPairs, after: ScoredPairs, given: float | None, positive: str, *,
                       resamples: int, seed: int, alpha: float) -> ThresholdTransfer:
    """The transfer of `given` (None: only the best-F1 cut-offs) from the before model's pairs to the after's,
    resampling the items (the same resamples for both models)."""
    if before.items != after.items:
        raise ValueError("threshold transfer needs both models' pairs over the same items")
    resamples = min(resamples, MAX_RESAMPLES)
    cb, ca = curve(before), curve(after)
    point = _transfer(cb, ca, given)
    draws: list[dict[str, np.ndarray]] = []
    weights = resample_weights(before.items, resamples, seed)
    for lo in range(0, resamples, BOOTSTRAP_CHUNK):
        w = weights[lo:lo + BOOTSTRAP_CHUNK]
        draws.append(_transfer(curve(before, w), curve(after, w), given))
    drawn = {k: np.concatenate([d[k] for d in draws]) for k in point}

    def cutoff(key: str) -> Cutoff:
        return Cutoff(_number(point[key][0]), *_interval(drawn[key], alpha))

    b_p, b_r = operating_point(cb, given) if given is not None else (None, None)
    a_p, a_r = operating_point(ca, given) if given is not None else (None, None)
    out = ThresholdTransfer(
        positive=positive, pairs_before=len(before.scores), pairs_after=len(after.scores), resamples=resamples,
        given=given, before=_operating(b_p, b_r), reused=_operating(a_p, a_r),
        equal_precision=cutoff("precision") if given is not None else None,
        equal_recall=cutoff("recall") if given is not None else None,
        best_f1_before=cutoff("best_before"), best_f1_after=cutoff("best_after"), best_f1_shift=cutoff("shift"),
        f1_best_before=float(best_f1(cb)[1][0]), f1_best_after=float(best_f1(ca)[1][0]),
        histogram=_histogram(before, after), line="")
    return _with_line(out)


def _histogram(before: ScoredPairs, after: ScoredPairs) -> ScoreHistogram:
    both = np.concatenate([before.scores, after.scores])
    edges = np.histogram_bin_edges(both, BINS) if len(both) else np.linspace(0, 1, BINS + 1)

    def counts(p: ScoredPairs, positive: bool) -> tuple[int, ...]:
        return tuple(int(x) for x in np.histogram(p.scores[p.positive == positive], edges)[0])

    return ScoreHistogram(tuple(float(x) for x in edges), counts(before, True), counts(before, False),
                          counts(after, True), counts(after, False))


def _transfer(cb: Curve, ca: Curve, given: float | None) -> dict[str, np.ndarray]:
    """Per resample row: the after cut-offs at the before's precision and recall at `given`, both best-F1 cut-offs
    and their shift."""
    best_b, best_a = best_f1(cb)[0], best_f1(ca)[0]
    out = {"best_before": best_b, "best_after": best_a, "shift": best_a - best_b}
    if given is not None:
        precision, recall = operating_point(cb, given)
        out |= {"precision": at_precision(ca, precision), "recall": at_recall(ca, recall)}
    return out


def _interval(values: np.ndarray, alpha: float) -> tuple[float | None, float | None]:
    """The percentile interval of the resampled values; None when under half the resamples have one."""
    found = values[np.isfinite(values)]
    if len(found) < max(1, len(values) / 2):
        return None, None
    low, high = np.quantile(found, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _number(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _operating(precision: np.ndarray | None, recall: np.ndarray | None) -> Operating | None:
    if precision is None or recall is None:
        return None
    p, r = _number(float(precision[0])), float(recall[0])
    f1 = 2 * p * r / (p + r) if p is not None and p + r > 0 else 0.0
    return Operating(p, r, f1)


def _at(c: Cutoff) -> str:
    """'0.58 [0.55, 0.61]' (an unreached cut-off: 'none reaches it')."""
    if c.value is None:
        return "none reaches it"
    band = f" [{c.low:.2f}, {c.high:.2f}]" if c.low is not None and c.high is not None else ""
    return f"{c.value:.2f}{band}"


def _with_line(t: ThresholdTransfer) -> ThresholdTransfer:
    """The record with its plain sentence."""
    from dataclasses import replace

    if t.given is not None and t.before is not None and t.reused is not None and t.equal_precision is not None \
            and t.equal_recall is not None:
        p0 = "–" if t.before.precision is None else f"{t.before.precision:.2f}"
        reused_p = "–" if t.reused.precision is None else f"{t.reused.precision:.2f}"
        line = (f"your {t.given:g} cut-off becomes {_at(t.equal_precision)} with the new model at equal precision "
                f"({p0}), {_at(t.equal_recall)} at equal recall ({t.before.recall:.2f}); reused unchanged it gives "
                f"precision {reused_p}, recall {t.reused.recall:.2f} (was {p0}, {t.before.recall:.2f})")
    else:
        shift = t.best_f1_shift
        moved = f"{shift.value:+.2f}" + (f" [{shift.low:+.2f}, {shift.high:+.2f}]" if shift.low is not None
                                         and shift.high is not None else "") if shift.value is not None else "–"
        line = (f"best-F1 cut-off {_at(t.best_f1_before)} before (F1 {t.f1_best_before:.2f}), "
                f"{_at(t.best_f1_after)} after (F1 {t.f1_best_after:.2f}): moved {moved}")
    return replace(t, line=line)
