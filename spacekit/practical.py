"""Practical significance: the smallest change that matters per metric (its margin), equivalence by two one-sided
tests (TOST), the items a test would need to decide, the correction over a family of tests, and one metric's
verdict from all of these.

The rule (docs/conventions.md): a change is "improved" / "regressed" when the family-corrected test finds it
(p < alpha and the CI excludes 0) and |delta| >= the metric's margin; a significant change smaller than the margin
is a "negligible change"; a change not found whose TOST (corrected in the same family) puts it inside +-margin is
"equivalent"; anything else is "inconclusive", with the items needed to find a change of the margin. With a margin
of 0 the rule is the classic one: "improved", "regressed" or "no significant change".
"""

from __future__ import annotations

import math
from typing import TypeGuard

import numpy as np

from spacekit.settings import Range, Setting, first_problem

CORRECTIONS = ("holm", "bonferroni", "bh", "none")
ALPHA = 0.05                     # the significance level compare and ab judge at by default
CORRECTION = "holm"
ALPHA_SETTING = Setting("significance level", Range(0, 1, open_low=True, open_high=True))
CORRECTION_SETTING = Setting("correction over each family of tests", choices=CORRECTIONS)
DEFAULT_MARGIN = 0.01            # one point on a 0-1 scale: nDCG, recall, MRR, MAP, accuracy, F1, AP, V-measure, ARI
CORRELATION_MARGIN = 0.005       # half a point for correlations (STS): models lie closer together there
POWER = 0.8                      # the power the needed sample size is computed for
VERDICTS = ("improved", "regressed", "negligible change", "equivalent", "inconclusive", "no significant change")


def default_margin(metric: str) -> float:
    """The documented default margin of a metric: CORRELATION_MARGIN for spearman / pearson, else DEFAULT_MARGIN."""
    return CORRELATION_MARGIN if _family(metric) in ("spearman", "pearson") else DEFAULT_MARGIN


def is_margin(value: object) -> TypeGuard[float]:
    """Whether value can be a margin: a finite number >= 0 (not a bool)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and value >= 0)


def settings_problem(config: object) -> str | None:
    """What is wrong with a compare or A/B config: its first setting out of range (spacekit.settings), else its
    first --min-effect margin that is not a number >= 0; None when nothing is."""
    problem = first_problem(config)
    bad = next(((m, v) for m, v in getattr(config, "min_effect", {}).items() if not is_margin(v)), None)
    if problem is None and bad is not None:
        problem = f"--min-effect {bad[0]}: the margin must be a number >= 0, got {bad[1]!r}"
    return problem


def parse_min_effect(text: str) -> dict[str, float]:
    """'ndcg@10=0.01,spearman=0.005' (a bare number applies to every metric: key '*') -> {metric: margin}; a
    ValueError naming the part that is not a non-negative number."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, value = part.rpartition("=")
        try:
            margin = float(value)
        except ValueError:
            margin = math.nan
        if not is_margin(margin) or (not name and "=" in part):
            raise ValueError(f"{part!r} is not METRIC=MARGIN with a margin >= 0")
        out[name.strip().lower() or "*"] = margin
    return out


def margin_for(metric: str, chosen: dict[str, float]) -> float:
    """The margin of `metric`: chosen by its full name ('ndcg@10/256d'), its name without a variant ('ndcg@10'),
    its family ('ndcg'), or '*' (in that order), else the default."""
    plain = metric.split("/")[0]
    for key in (metric, plain, _family(metric), "*"):
        if key in chosen:
            return chosen[key]
    return default_margin(metric)


def _family(metric: str) -> str:
    return metric.split("/")[0].split("@")[0]


def adjust(p_values: list[float | None], method: str) -> list[float | None]:
    """Corrected p-values of one family (statsmodels' multipletests: holm, bonferroni, fdr_bh; 'none' leaves them
    as they are); None and NaN (an undefined test) stay None and do not count in the family."""
    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, got {method!r}")
    present = [i for i, p in enumerate(p_values) if p is not None and np.isfinite(p)]
    out: list[float | None] = [None] * len(p_values)
    if not present:
        return out
    raw = np.array([p_values[i] for i in present], np.float64)
    if method == "none" or len(raw) == 1:            # a family of one test: every correction leaves its p as it is
        fixed = raw
    elif method == "holm":                           # statsmodels' Holm runs gc.collect() on every call: 50 ms in a
        order = np.argsort(raw, kind="stable")       # large process, which the A/B simulations call thousands of times
        steps = np.maximum.accumulate(raw[order] * (len(raw) - np.arange(len(raw))))
        fixed = np.empty_like(raw)
        fixed[order] = np.minimum(steps, 1.0)
    else:
        from statsmodels.stats.multitest import multipletests

        fixed = multipletests(raw, method={"bh": "fdr_bh"}.get(method, method))[1]
    for i, p in zip(present, fixed, strict=True):
        out[i] = float(p)
    return out


def strictest_level(alpha: float, method: str, tests: int) -> float:
    """The level the strictest test of a family faces: alpha / m for holm and bonferroni, else alpha."""
    return alpha / max(tests, 1) if method in ("holm", "bonferroni") else alpha


def tost_paired(before: np.ndarray, after: np.ndarray, margin: float) -> float:
    """p-value of the paired TOST that mean(after - before) lies inside (-margin, +margin) (statsmodels'
    ttost_paired); 0 or 1 when every difference is the same number (no variance to test with)."""
    from statsmodels.stats.weightstats import ttost_paired

    d = np.asarray(after, np.float64) - np.asarray(before, np.float64)
    if len(d) < 2 or np.all(d == d[0]):
        return 0.0 if abs(float(d[0]) if len(d) else 0.0) < margin else 1.0
    return float(ttost_paired(np.asarray(after, np.float64), np.asarray(before, np.float64), -margin, margin)[0])


def tost_bootstrap(deltas: np.ndarray, margin: float) -> float:
    """p-value of TOST from a bootstrap distribution of the delta: the larger of the shares of resamples at or
    beyond -margin and +margin (the percentile interval's dual), never below 1 / (resamples + 1)."""
    d = np.asarray(deltas, np.float64)
    tail = max(int((d <= -margin).sum()), int((d >= margin).sum()))
    return min(1.0, (tail + 1) / (len(d) + 1))


def needed_items(sd: float | None, margin: float, alpha: float, power: float = POWER) -> int | None:
    """Items a paired t-test needs to find a change of `margin` with `power` at `alpha` (two-sided), given the
    per-item standard deviation of the differences (statsmodels' TTestPower); None when it cannot be said."""
    if sd is None or not np.isfinite(sd) or sd <= 0 or margin <= 0:
        return None
    from statsmodels.stats.power import TTestPower

    n = TTestPower().solve_power(effect_size=margin / sd, alpha=alpha, power=power, alternative="two-sided")
    return math.ceil(float(np.asarray(n).item()))


def decide(delta: float, ci_low: float, ci_high: float, p_adjusted: float | None, tost_adjusted: float | None,
           margin: float, alpha: float, higher_is_better: bool = True) -> str:
    """One metric's verdict by the rule in this module's docstring; an undefined value never supports a change
    (nor equivalence)."""
    defined = p_adjusted is not None and all(np.isfinite([delta, p_adjusted, ci_low, ci_high]))
    if defined and p_adjusted < alpha and not (ci_low <= 0 <= ci_high) and delta != 0:  # type: ignore[operator]
        if abs(delta) < margin:
            return "negligible change"
        return "improved" if (delta > 0) == higher_is_better else "regressed"
    if margin <= 0:
        return "no significant change"
    if defined and tost_adjusted is not None and np.isfinite(tost_adjusted) and tost_adjusted < alpha:
        return "equivalent"
    return "inconclusive"
