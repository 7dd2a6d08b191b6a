"""A similarity cut-off ("show matches above 0.65") as a classifier of scored pairs: its precision, recall and F1,
the cut-off of another model that keeps the same precision or recall, and the best-F1 cut-off, each with a
bootstrap interval over the items the pairs belong to (the same resamples for both models: paired).

Definitions (pairs scored >= t are predicted matches):
- precision(t) = matches that are positive / matches; recall(t) = positive matches / every positive, positives the
  scoring never reached included (`missed`: a relevant document beyond the retrieved depth).
- at equal precision: the lowest cut-off whose precision is at least the target (the most recall at that precision,
  as a precision-recall curve is read); at equal recall: the highest cut-off whose recall is at least the target.
- a cut-off is reported as the midpoint between the last score kept and the next one below it (any value between
  them selects the same pairs); best F1: the cut-off of the highest F1, the higher cut-off on a tie.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOOTSTRAP_CHUNK = 64    # resamples computed at once (memory: chunk x pairs x 8 bytes, a few times)


@dataclass(frozen=True)
class ScoredPairs:
    """Pairs a model scored: score, whether the pair is a positive (a match), the item it belongs to (the unit
    resampled: a query, a sentence pair), and per item its positives the scoring never reached."""

    scores: np.ndarray       # (m,) float
    positive: np.ndarray     # (m,) bool
    item: np.ndarray         # (m,) int, 0..items-1
    missed: np.ndarray       # (items,) int

    @property
    def items(self) -> int:
        """How many items the pairs belong to."""
        return len(self.missed)


@dataclass(frozen=True)
class Curve:
    """Precision and recall at each cut-off position of the sorted pairs (the last pair of each run of equal
    scores), under item weights; row b is resample b. A position is a choice in row b only where it adds weight
    (a resample that drew none of its pairs keeps the same pairs as the position above): its cut-off is the
    midpoint between its lowest score and the next chosen position's."""

    lowest: np.ndarray       # (c,) the lowest score each position keeps
    chosen: np.ndarray       # (b, c) bool
    cuts: np.ndarray         # (b, c) the cut-off midpoints (valid where chosen)
    precision: np.ndarray    # (b, c)
    recall: np.ndarray       # (b, c)

    def f1(self) -> np.ndarray:
        """(b, c) F1 at each cut-off."""
        p, r = self.precision, self.recall
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(p + r > 0, 2 * p * r / (p + r), 0.0)


def curve(pairs: ScoredPairs, weights: np.ndarray | None = None) -> Curve:
    """The precision-recall curve of the pairs (weights: (b, items) item weights, one row a resample; none: each
    item once)."""
    w = np.ones((1, pairs.items)) if weights is None else np.atleast_2d(weights).astype(np.float64)
    order = np.argsort(-pairs.scores, kind="stable")
    s = pairs.scores[order].astype(np.float64)
    pw = w[:, pairs.item[order]]                                       # (b, m) each pair's weight
    tp = np.cumsum(pw * pairs.positive[order], axis=1)
    kept = np.cumsum(pw, axis=1)
    total = (pw * pairs.positive[order]).sum(axis=1) + w @ pairs.missed.astype(np.float64)
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])                  # the last pair of each equal-score run
    lowest = s[ends]
    chosen = np.diff(kept[:, ends], axis=1, prepend=0.0) > 0
    n = len(ends)
    position = np.where(chosen, np.arange(n), n)
    after = np.minimum.accumulate(position[:, ::-1], axis=1)[:, ::-1]    # the first chosen position at or below
    below_at = np.concatenate([after[:, 1:], np.full((len(w), 1), n)], axis=1)
    below = np.where(below_at < n, np.r_[lowest, 0.0][below_at], lowest[-1] - 1.0) if n else np.empty((len(w), 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp[:, ends] / kept[:, ends]
        recall = tp[:, ends] / total[:, None]
    return Curve(lowest, chosen, (lowest + below) / 2, precision, recall)


def operating_point(c: Curve, t: float) -> tuple[np.ndarray, np.ndarray]:
    """(precision, recall) per row at cut-off t: the pairs scored >= t kept (nan precision when none is)."""
    i = int(np.searchsorted(-c.lowest, -t, side="right")) - 1          # the last position keeping only scores >= t
    b = c.precision.shape[0]
    if i < 0:
        return np.full(b, np.nan), np.zeros(b)
    return c.precision[:, i], c.recall[:, i]


def _pick(c: Curve, ok: np.ndarray, last: bool) -> np.ndarray:
    """Per row, the cut-off of the last (or first) chosen position where ok holds (nan: none)."""
    ok = ok & c.chosen
    at = ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1) if last else np.argmax(ok, axis=1)
    return np.where(ok.any(axis=1), c.cuts[np.arange(len(at)), at], np.nan)


def at_precision(c: Curve, target: np.ndarray) -> np.ndarray:
    """Per row, the lowest cut-off whose precision is at least target (nan: none reaches it)."""
    return _pick(c, c.precision >= np.asarray(target, np.float64).reshape(-1, 1), last=True)


def at_recall(c: Curve, target: np.ndarray) -> np.ndarray:
    """Per row, the highest cut-off whose recall is at least target (nan: none reaches it)."""
    return _pick(c, c.recall >= np.asarray(target, np.float64).reshape(-1, 1) - 1e-12, last=False)


def best_f1(c: Curve) -> tuple[np.ndarray, np.ndarray]:
    """Per row, (the cut-off of the highest F1 (the higher cut-off on a tie), that F1)."""
    f1 = np.where(c.chosen, c.f1(), -1.0)
    i = np.argmax(f1, axis=1)
    rows = np.arange(len(i))
    return c.cuts[rows, i], f1[rows, i]


def resample_weights(items: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, items) bootstrap counts: each row how often each item is drawn (items draws with replacement)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(items, np.full(items, 1.0 / items), size=resamples).astype(np.float64)
