"""Statistics that respect the randomisation unit: a metric is a ratio of per-unit sums (clicks over impressions,
say), its variance from the delta method over units (impressions of one user are not independent), optionally
reduced by CUPED with a pre-period covariate per unit; and the sample-ratio-mismatch check.

Deng, Knoblich & Lu (2018), "Applying the Delta Method in Metric Analytics"; Deng, Xu, Kohavi & Walker (2013),
"Improving the Sensitivity of Online Controlled Experiments by Utilizing Pre-Experiment Data" (CUPED).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from spacekit.errors import InputError

SMALL_UNITS = 30          # below this many units in an arm, p comes from a permutation test over units
PERMUTATIONS = 20_000


@dataclass(frozen=True)
class UnitSums:
    """Per unit: its id, arm (0 control, 1 treatment), the metric's numerator and denominator sums."""

    ids: np.ndarray | list[str]         # the ids as grouped (one array shared by every metric of a log)
    arm: np.ndarray
    numerator: np.ndarray
    denominator: np.ndarray


def unit_index(units: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct units, sorted; each impression's position among them): what unit_sums groups by."""
    return np.unique(np.asarray(units, dtype=object), return_inverse=True)


def unit_sums(units: list[str] | None, arm: np.ndarray, numerator: np.ndarray, denominator: np.ndarray,
              index: tuple[np.ndarray, np.ndarray] | None = None, unit_arm: np.ndarray | None = None) -> UnitSums:
    """Sum each impression's numerator and denominator into its unit (index: (the distinct units, each
    impression's position among them), as unit_index(units) or AbLog.index give it; units unused then); a unit
    seen in both arms is refused (unit_arm: each unit's arm as an earlier UnitSums of the same log found it)."""
    ids, inverse = index if index is not None else unit_index(units or [])
    if unit_arm is None:
        treated = np.bincount(inverse, weights=arm, minlength=len(ids))         # impressions in the treatment
        both = np.flatnonzero((treated > 0) & (treated < np.bincount(inverse, minlength=len(ids))))
        if len(both):
            raise InputError(f"unit {ids[both[0]]!r} appears in both arms: the log is not randomised by unit_id")
        unit_arm = (treated > 0).astype(np.int64)
    num = np.bincount(inverse, weights=numerator, minlength=len(ids))          # summed as float64
    den = np.bincount(inverse, weights=denominator, minlength=len(ids))
    return UnitSums(ids, unit_arm, num, den)


@dataclass(frozen=True)
class RatioTest:
    """Both arms' values, the difference (treatment - control) with its standard error, CI and p-value, and the
    share of variance CUPED removed (0 without a covariate)."""

    control: float
    treatment: float
    delta: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    variance_reduction: float = 0.0
    test: str = "delta method"   # below SMALL_UNITS units in an arm: "exact permutation" or "permutation"

    @property
    def relative(self) -> float:
        """delta / control (nan when control is 0)."""
        return self.delta / self.control if self.control else float("nan")


def influence(numerator: np.ndarray, denominator: np.ndarray) -> tuple[float, np.ndarray]:
    """(ratio of sums, each unit's influence on it (Y_u - M N_u) / mean(N)): Var(M) ~ var(influence) / units."""
    ratio = numerator.sum() / denominator.sum()
    return float(ratio), (numerator - ratio * denominator) / denominator.mean()


def ratio_test(sums: UnitSums, covariate: np.ndarray | None = None, confidence: float = 0.95) -> RatioTest:
    """Delta-method z-test of the difference of two ratio metrics between arms, units as the independent
    observations; with a covariate per unit (the same order as sums.ids), the CUPED-adjusted estimate."""
    linear, values, means_x = [], [], []
    for g in (0, 1):
        sel = sums.arm == g
        if sel.sum() < 2:
            raise InputError(f"an arm needs at least 2 units, got {int(sel.sum())}")
        ratio, lin = influence(sums.numerator[sel], sums.denominator[sel])
        values.append(ratio)
        linear.append(lin)
        means_x.append(covariate[sel].mean() if covariate is not None else 0.0)
    theta, reduction = 0.0, 0.0
    if covariate is not None:
        centred = [covariate[sums.arm == g] - means_x[g] for g in (0, 1)]
        var_x = sum(float((c ** 2).sum()) for c in centred)
        if var_x > 0:
            theta = sum(float((lin * c).sum()) for lin, c in zip(linear, centred, strict=True)) / var_x
        before = sum(float(np.var(lin, ddof=1)) / len(lin) for lin in linear)
        linear = [lin - theta * c for lin, c in zip(linear, centred, strict=True)]
        after = sum(float(np.var(lin, ddof=1)) / len(lin) for lin in linear)
        reduction = 1 - after / before if before > 0 else 0.0
    overall_x = covariate.mean() if covariate is not None else 0.0
    adjusted = [values[g] - theta * (means_x[g] - overall_x) for g in (0, 1)]
    delta = adjusted[1] - adjusted[0]
    se = float(np.sqrt(sum(float(np.var(lin, ddof=1)) / len(lin) for lin in linear)))
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = float(2 * stats.norm.sf(abs(delta) / se)) if se > 0 else (1.0 if delta == 0 else 0.0)
    low, high, test = float(delta - z * se), float(delta + z * se), "delta method"
    if min(len(lin) for lin in linear) < SMALL_UNITS:          # never a zero-variance z-test on a handful of units
        p, test = permutation_p(sums, float(values[1] - values[0]))
        if se == 0:
            low, high = float("-inf"), float("inf")            # no interval can be estimated from these units
    return RatioTest(float(values[0]), float(values[1]), float(delta), se, low, high, p, float(reduction), test)


def permutation_p(sums: UnitSums, observed: float) -> tuple[float, str]:
    """(two-sided p, the test's name) of the difference of ratios under re-randomisation of units to arms: every
    assignment when there are at most PERMUTATIONS ("exact permutation"), else PERMUTATIONS random ones
    ("permutation", seed 0)."""
    n, treated = len(sums.ids), int(sums.arm.sum())
    exact = math.comb(n, treated) <= PERMUTATIONS
    draws = (itertools.combinations(range(n), treated) if exact else
             (rng.choice(n, treated, replace=False) for rng in [np.random.default_rng(0)] for _ in range(PERMUTATIONS)))
    num, den = sums.numerator, sums.denominator
    hits = total = 0
    for block in iter(lambda: list(itertools.islice(draws, 512)), []):     # 512 assignments at a time
        rows = np.zeros((len(block), n), dtype=bool)
        for r, chosen in enumerate(block):
            rows[r, list(chosen)] = True
        with np.errstate(divide="ignore", invalid="ignore"):
            d = (rows @ num) / (rows @ den) - (~rows @ num) / (~rows @ den)
        hits += int((np.abs(d) >= abs(observed) - 1e-12).sum())
        total += len(block)
    if exact:
        return hits / total, "exact permutation"
    return (1 + hits) / (1 + total), "permutation"


@dataclass(frozen=True)
class SampleRatio:
    """Units per arm against the design's split; flagged below p 0.001 (the verdict is then withheld)."""

    units: tuple[int, int]
    expected_share: float
    p_value: float
    threshold: float = 0.001

    @property
    def mismatch(self) -> bool:
        """True when the split is too unlikely under the design."""
        return self.p_value < self.threshold


def sample_ratio(arm_of_unit: np.ndarray, expected_share: float = 0.5) -> SampleRatio:
    """Chi-square goodness of fit of the units per arm to the design's share for the control arm."""
    counts = np.bincount(arm_of_unit, minlength=2)
    total = counts.sum()
    expected = [total * expected_share, total * (1 - expected_share)]
    p = float(stats.chisquare(counts, f_exp=expected).pvalue)
    return SampleRatio((int(counts[0]), int(counts[1])), expected_share, p)
