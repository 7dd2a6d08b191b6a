"""A log's health, read before any verdict (ab analyze): impressions per unit compared across arms (a second
sample-ratio check, on what the per-impression metrics average over), near-duplicate impressions, heavy units (a
bot), the period each arm ran (ts), and how many units each arm has. A problem withholds the verdict, as a sample
ratio mismatch does; a note is said beside it.

Thresholds (documented in docs/online.md): near-duplicates are impressions repeating an earlier one of the same unit
(query, shown list and clicks) within DUPLICATE_WINDOW_S seconds (anywhere in the log without ts); an arm is flagged
when more than DUPLICATE_SHARE of its impressions are such repeats and the arms' shares differ (p < 0.001). A heavy
unit holds more than HEAVY_SHARE of its arm's impressions and HEAVY_TIMES_MEDIAN times the arm's median; beside it
the main metric is shown over per-unit means (each unit weighs the same: a Welch test over units).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

from spacekit.ab.sequential import DAY_S
from spacekit.ab.units import UnitSums
from spacekit.io.ab_columns import AbLog

DUPLICATE_WINDOW_S = 10.0
DUPLICATE_SHARE = 0.01
HEAVY_SHARE = 0.01
HEAVY_TIMES_MEDIAN = 20
ALARM_P = 0.001


@dataclass(frozen=True)
class LogHealth:
    """Per arm: impressions per unit (mean), near-duplicate impressions, heavy units, the period (ISO first and
    last ts, null without ts); the test of impressions per unit across arms; the problems (each withholds the
    verdict) and notes."""

    impressions_per_unit: Mapping[str, float]
    impressions_per_unit_p: float
    duplicates: Mapping[str, int]
    heavy_units: Mapping[str, tuple[str, ...]]
    period: Mapping[str, tuple[str, str]] | None
    problems: tuple[str, ...]
    notes: tuple[str, ...]


def log_health(log: AbLog, main: UnitSums, main_metric: str, sequential: bool = False) -> LogHealth:
    """The log's health; the main metric's unit sums (the analysis's: each unit's arm, numerator and denominator)
    give the per-unit-means view shown beside heavy units (sequential: the analysis is always valid, so no peeking
    warning)."""
    names = log.arms
    ids, inverse = log.index
    counts = np.bincount(inverse, minlength=len(ids)).astype(np.float64)
    unit_arm = main.arm
    per_unit = {names[a]: counts[unit_arm == a] for a in (0, 1)}
    p_counts = float(stats.mannwhitneyu(per_unit[names[0]], per_unit[names[1]]).pvalue)
    problems, notes = [], []
    if p_counts < ALARM_P:
        problems.append(f"impressions per unit differ between the arms ({per_unit[names[0]].mean():.2f} vs "
                        f"{per_unit[names[1]].mean():.2f}, p {p_counts:.2g}): the per-impression metrics average "
                        f"over different things (duplicated logging, or an effect on how often users search)")
    repeats = _repeats(log)
    dup = {names[a]: int(repeats[log.arm == a].sum()) for a in (0, 1)}
    shown = {names[a]: int((log.arm == a).sum()) for a in (0, 1)}
    share = {n: dup[n] / shown[n] for n in names}
    if max(share.values()) > DUPLICATE_SHARE and _two_proportions(dup, shown, names) < ALARM_P:
        problems.append("near-duplicate impressions: " + ", ".join(f"{dup[n]:,} in {n} ({share[n]:.1%})"
                                                                   for n in names)
                        + f" (same unit, query, list and clicks within {DUPLICATE_WINDOW_S:g} s)")
    heavy: dict[int, list[int]] = {}
    for a in (0, 1):
        sel = np.flatnonzero(unit_arm == a)
        limit = max(HEAVY_SHARE * counts[sel].sum(), HEAVY_TIMES_MEDIAN * np.median(counts[sel]))
        heavy[a] = sel[counts[sel] > limit].tolist()
    if heavy[0] or heavy[1]:
        a, u = max(((a, u) for a in (0, 1) for u in heavy[a]), key=lambda au: counts[au[1]])
        problems.append(f"heavy units (a bot?): {len(heavy[0]) + len(heavy[1])}, e.g. {str(ids[u])!r} with "
                        f"{counts[u] / shown[names[a]]:.0%} of {names[a]}'s impressions")
        notes.append(_per_unit_means(main, main_metric, names))
    if log.repeated_click is not None:
        twice = ", ".join(f"{int(log.repeated_click[log.arm == a].sum()):,} in {names[a]}" for a in (0, 1))
        notes.append(f"impressions that click one document more than once: {twice} (each click counts in clicks "
                     f"and ctr; success@k and mrr are unaffected)")
    period = None
    if log.ts is not None:
        spans = {names[a]: (float(log.ts[log.arm == a].min()), float(log.ts[log.arm == a].max())) for a in (0, 1)}
        period = {n: (_iso(lo), _iso(hi)) for n, (lo, hi) in spans.items()}
        (a0, a1), (b0, b1) = spans[names[0]], spans[names[1]]
        if a1 < b0 or b1 < a0:
            problems.append(f"the arms ran in periods that do not overlap ({names[0]} {period[names[0]][0]} .. "
                            f"{period[names[0]][1]}; {names[1]} {period[names[1]][0]} .. {period[names[1]][1]})")
        if max(a1, b1) - min(a0, b0) > DAY_S and not sequential:
            notes.append("a fixed-horizon test: deciding at the first significant look inflates false positives; "
                         "use --sequential or decide once, at the planned size (ab plan)")
    return LogHealth({n: float(per_unit[n].mean()) for n in names}, p_counts, dup,
                     {names[a]: tuple(str(ids[u]) for u in heavy[a]) for a in (0, 1)}, period, tuple(problems),
                     tuple(notes))


def _repeats(log: AbLog, block: int = 1 << 20) -> np.ndarray:
    """Per impression, whether it repeats the previous impression of its unit with the same query, shown list and
    clicks (in time order), within DUPLICATE_WINDOW_S seconds when the log has ts (anywhere in the log without);
    compared a block at a time, so memory stays near one sort of the log."""
    search = log.repeat_key ^ (log.unit * np.int64(-7046029254386353131))    # unit and search in one key
    order = (np.lexsort((log.ts, search)) if log.ts is not None       # stable: equal times keep the log's order
             else np.argsort(search, kind="stable"))
    out = np.zeros(len(log), dtype=bool)
    for start in range(0, max(len(log) - 1, 0), block):
        here = order[start:start + block + 1]
        keys = search[here]
        same = keys[1:] == keys[:-1]
        if log.ts is not None:
            same &= np.diff(log.ts[here]) <= DUPLICATE_WINDOW_S
        out[here[1:]] = same
    return out


def _two_proportions(hits: dict[str, int], totals: dict[str, int], names: tuple[str, str]) -> float:
    """Two-sided p of a difference between two proportions (statsmodels' pooled z-test)."""
    from statsmodels.stats.proportion import proportions_ztest

    with np.errstate(divide="ignore", invalid="ignore"):      # no spread at all (0% or 100% in both): p 1
        p = float(proportions_ztest([hits[n] for n in names], [totals[n] for n in names])[1])
    return p if np.isfinite(p) else 1.0


def _per_unit_means(main: UnitSums, metric: str, names: tuple[str, str]) -> str:
    """The main metric over per-unit means (each unit weighs the same), compared by a Welch test over units."""
    num, den = main.numerator, main.denominator
    keep = den > 0
    means = [num[keep & (main.arm == a)] / den[keep & (main.arm == a)] for a in (0, 1)]
    test = stats.ttest_ind(means[1], means[0], equal_var=False)
    delta = float(means[1].mean() - means[0].mean())
    return (f"{metric} over per-unit means (each unit weighs the same, robust to heavy units): {names[0]} "
            f"{means[0].mean():.4f}, {names[1]} {means[1].mean():.4f}, Δ {delta:+.4f}, p {float(test.pvalue):.3g}")


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds")
