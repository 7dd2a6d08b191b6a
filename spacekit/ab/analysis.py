"""`spacekit ab analyze`: an A/B log's metrics per arm, the treatment's change with intervals over randomisation
units (delta method; CUPED with a pre-period covariate), the sample-ratio check, and a verdict in compare's words.

The verdict rests on the main metric (success@k) alone, corrected as its own family; the secondary metrics are
corrected together (Holm by default) and shown apart, as compare does. A sample ratio mismatch withholds it. The
margins default to 0 here (the classic rule: improved / regressed / no significant change); --min-effect sets them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from spacekit.ab.config import AbConfig
from spacekit.ab.health import LogHealth, log_health
from spacekit.ab.outcomes import Outcome, not_measured, outcomes
from spacekit.ab.sequential import always_valid, default_tau, look_tests
from spacekit.ab.units import RatioTest, UnitSums, ratio_test, sample_ratio, unit_sums
from spacekit.io.ab_columns import AbLog
from spacekit.practical import POWER, adjust, decide, margin_for

WITHHELD = "withheld: sample ratio"      # every row's verdict when the sample-ratio check fails
WITHHELD_HEALTH = "withheld: log health"  # ... when the log's health check finds a problem


@dataclass(frozen=True)
class AbMetric:
    """One metric's change between the arms: each arm's value, the change (absolute and relative) with its interval
    over units, its SE, p-value and TOST p-value, the margin; the CUPED variance reduction; once its family is
    corrected, the adjusted p-value and the verdict."""

    metric: str
    meaning: str
    higher_is_better: bool
    control: float
    treatment: float
    delta: float
    relative: float
    ci_low: float
    ci_high: float
    se: float
    p_value: float
    tost_p: float | None
    margin: float
    variance_reduction: float
    p_adjusted: float | None = None
    verdict: str | None = None
    test: str = "delta method"              # or a permutation test (few units), or the mSPRT (--sequential)
    detectable: float | None = None         # the change this test finds at power 0.8 (shown when none was found)
    needed_units: int | None = None         # units (both arms) to decide at the margin, when inconclusive


@dataclass(frozen=True)
class SampleRatio:
    """The sample-ratio check: its p-value, the control share by design, and whether the units mismatch it."""

    p_value: float
    expected_control_share: float
    mismatch: bool


@dataclass(frozen=True)
class Cuped:
    """CUPED's pre-period covariate: how many units had none (they get the mean), and its balance across the arms
    (each arm's mean over the units that have one; Welch's test: randomisation should leave no difference)."""

    units_without_pre_period: int
    control_mean: float | None = None
    treatment_mean: float | None = None
    balance_p: float | None = None


@dataclass(frozen=True)
class AbAnalysis:
    """An A/B log analysed: the arms, the verdict and its rule, units and impressions per arm, the sample-ratio
    check, CUPED (null without a covariate), one row per metric (the main one first)."""

    log: str
    control: str
    treatment: str
    verdict: str
    main_metric: str
    rule: str
    units: Mapping[str, int]
    impressions: Mapping[str, int]
    srm: SampleRatio
    cuped: Cuped | None
    metrics: tuple[AbMetric, ...]
    not_measured: tuple[str, ...] = ()      # metrics the log cannot measure, each with why (a field it lacks)
    health: LogHealth | None = None          # the log's health (ab.health): its problems withhold the verdict


def analyze(log: AbLog, config: AbConfig | None = None,
            covariate: dict[str, float] | None = None) -> AbAnalysis:
    """The analysis: arms, units, impressions, the SRM check, one row per metric, the verdict."""
    config = config or AbConfig()
    config.check()
    metrics = outcomes(log, config.k, config.long_click_s)
    sums = [unit_sums(None, log.arm, metrics[0].numerator, metrics[0].denominator, log.index)]
    sums += [unit_sums(None, log.arm, o.numerator, o.denominator, log.index, sums[0].arm) for o in metrics[1:]]
    cov, filled = _covariate(sums[0].ids, covariate)
    tests = [ratio_test(s, cov) for s in sums]
    srm = sample_ratio(sums[0].arm, config.expected_share)
    rows = [_row(o, t, config) for o, t in zip(metrics, tests, strict=True)]
    if config.sequential:
        rows = [_sequential_row(row, o, log, covariate, config) for row, o in zip(rows, metrics, strict=True)]
    rows = _judge(rows[:1], config) + _judge(rows[1:], config)
    rows = [_with_sizes(r, srm.units, config.alpha) for r in rows]
    health = log_health(log, sums[0], metrics[0].name, config.sequential)
    small = [t for t in tests if t.test != "delta method"]
    if small:
        health = dataclasses.replace(health, notes=(*health.notes, (
            f"small sample ({srm.units[0]:,} and {srm.units[1]:,} units): p-values from a {small[0].test} test "
            f"over units; the intervals (delta method) are approximate, unbounded where the units vary not at all")))
    if srm.mismatch or health.problems:                 # no row may read as a verdict the log cannot support
        rows = [dataclasses.replace(r, verdict=WITHHELD if srm.mismatch else WITHHELD_HEALTH) for r in rows]
    main = rows[0]
    if srm.mismatch:
        verdict = (f"withheld: sample ratio mismatch (units {srm.units[0]:,} : {srm.units[1]:,}, p "
                   f"{srm.p_value:.2g} against a {config.expected_share:.0%} control share)")
    elif health.problems:
        verdict = f"withheld: log health ({'; '.join(health.problems)})"
    else:
        verdict = str(main.verdict)
    return AbAnalysis(
        log=str(log.path), control=log.arms[0], treatment=log.arms[1], verdict=verdict, main_metric=main.metric,
        rule=(f"the main metric ({main.metric}) decides: {config.correction} correction, alpha {config.alpha}, "
              f"margin {main.margin:g}; intervals over units (delta method{', CUPED' if cov is not None else ''}"
              f"{'; always-valid p and confidence sequences (mSPRT over daily looks)' if config.sequential else ''}); "
              f"a sample ratio mismatch (p < {srm.threshold}) or a problem of the log's health withholds the "
              f"verdict"),
        units={log.arms[0]: srm.units[0], log.arms[1]: srm.units[1]},
        impressions={log.arms[0]: int((log.arm == 0).sum()), log.arms[1]: int((log.arm == 1).sum())},
        srm=SampleRatio(srm.p_value, srm.expected_share, srm.mismatch),
        cuped=None if cov is None else _cuped(sums[0], covariate or {}, filled), metrics=tuple(rows),
        not_measured=tuple(not_measured(log)),
        health=health)


def _cuped(sums: UnitSums, covariate: dict[str, float], filled: int) -> Cuped:
    """The covariate's summary: units without it, each arm's mean, and the balance test across the arms."""
    arms = [np.array([covariate[u] for u, a in zip(sums.ids, sums.arm, strict=True) if a == g and u in covariate])
            for g in (0, 1)]
    if min(len(x) for x in arms) < 2:
        return Cuped(filled)
    with np.errstate(all="ignore"):
        p = float(stats.ttest_ind(arms[0], arms[1], equal_var=False).pvalue)
    return Cuped(filled, float(arms[0].mean()), float(arms[1].mean()), p if np.isfinite(p) else None)


def _covariate(ids: Sequence[str] | np.ndarray, covariate: dict[str, float] | None) -> tuple[np.ndarray | None, int]:
    """The pre-period value per unit in ids' order; a unit without one gets the mean (CUPED stays unbiased)."""
    if covariate is None:
        return None, 0
    values = np.array([covariate.get(u, np.nan) for u in ids], dtype=np.float64)
    missing = int(np.isnan(values).sum())
    if missing == len(values):
        from spacekit.errors import InputError

        raise InputError("--units: no unit of the log has a pre-period value")
    values[np.isnan(values)] = np.nanmean(values)
    return values, missing


def _sequential_row(row: AbMetric, o: Outcome, log: AbLog, covariate: dict[str, float] | None,
                    config: AbConfig) -> AbMetric:
    """The row with the mSPRT's always-valid p and confidence sequence over the log's daily looks (ab.sequential);
    τ: the metric's margin, else RELATIVE_TAU of its value."""
    tests = look_tests(log, o.numerator, o.denominator, lambda ids: _covariate(ids, covariate)[0])
    tau = default_tau(float(o.numerator.sum() / o.denominator.sum()), row.margin)
    seq = always_valid(tests, tau, config.alpha)
    return dataclasses.replace(row, p_value=seq.p_value, ci_low=seq.ci_low, ci_high=seq.ci_high, tost_p=None,
                               test=f"mSPRT (always valid; tau {tau:.3g}, {seq.looks} looks)")


def _row(o: Outcome, t: RatioTest, config: AbConfig) -> AbMetric:
    margin = margin_for(o.name, {"*": 0.0, **config.min_effect})      # the lookup compare uses; default 0 here
    tost = None
    if margin > 0 and t.se > 0:
        tost = float(max(stats.norm.sf((t.delta + margin) / t.se), stats.norm.cdf((t.delta - margin) / t.se)))
    return AbMetric(o.name, o.meaning, o.higher_is_better, t.control, t.treatment, t.delta, t.relative, t.ci_low,
                    t.ci_high, t.se, t.p_value, tost, margin, t.variance_reduction, test=t.test)


def _with_sizes(row: AbMetric, units: tuple[int, int], alpha: float) -> AbMetric:
    """The row with what its size can say: with no change found, the change it would find at power 0.8
    (`detectable`: (z_alpha/2 + z_0.8) x se); when inconclusive, the units (both arms, the same split) needed to find a
    change of the margin (normal approximation, the delta method's per-unit spread)."""
    if row.verdict not in ("no significant change", "inconclusive") or not row.se > 0:
        return row
    z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(POWER))
    needed = None
    if row.verdict == "inconclusive" and row.margin > 0:
        ratio = units[1] / units[0]
        spread2 = row.se ** 2 / (1 / units[0] + 1 / units[1])              # per-unit variance, pooled
        control = spread2 * (1 + 1 / ratio) / (row.margin / z) ** 2
        needed = int(np.ceil(control * (1 + ratio)))
    return dataclasses.replace(row, detectable=z * row.se, needed_units=needed)


def _judge(rows: list[AbMetric], config: AbConfig) -> list[AbMetric]:
    """The family with its p-values (and TOST p-values) corrected together; each row's verdict by practical.decide."""
    if not rows:
        return []
    p_adj = adjust([r.p_value for r in rows], config.correction)
    tost_adj = adjust([r.tost_p for r in rows], config.correction)
    return [dataclasses.replace(r, p_adjusted=p, verdict=decide(r.delta, r.ci_low, r.ci_high, p, tp, r.margin,
                                                                config.alpha, r.higher_is_better))
            for r, p, tp in zip(rows, p_adj, tost_adj, strict=True)]
