"""Always-valid inference for an A/B test that is looked at as it runs (`ab analyze --sequential`): the mixture
sequential probability ratio test (mSPRT; Johari, Koomen, Pekelis & Walsh 2017, "Peeking at A/B tests", the test
behind Optimizely's and Eppo's sequential modes) on the delta method's estimate over units.

At each look the change's estimate Δ is approximately N(θ, V) with V = se²; mixing θ ~ N(0, τ²) gives the
likelihood ratio Λ = sqrt(V / (V + τ²)) · exp(Δ² τ² / (2 V (V + τ²))), a martingale under no change, so
p = min(1, min over looks of 1 / Λ) is valid however often one looks, and Δ ± sqrt(V (V + τ²) / τ² · (log((V + τ²) /
V) − 2 log α)) is a confidence sequence. τ is the change the test is tuned to find soonest; any fixed τ keeps the
guarantee. Looks are the ends of the log's UTC days (ts); without ts, one look at the end (still valid at any
stopping time). A look where an arm has fewer than SMALL_UNITS units is skipped (no estimate of V yet).

Our own code, a few lines: the Python mSPRT packages (msprt, sequential-testing) assume i.i.d. observations with a
known variance, not ratio metrics over randomisation units; tea-tasting and statsmodels have no sequential test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from spacekit.ab.units import SMALL_UNITS, RatioTest, ratio_test, unit_sums
from spacekit.io.ab_columns import AbLog

DAY_S = 86_400.0
RELATIVE_TAU = 0.10      # without a margin, τ is 10% of the metric's value


@dataclass(frozen=True)
class Sequential:
    """The always-valid p-value and confidence sequence at the last look, τ, and the looks taken."""

    p_value: float
    ci_low: float
    ci_high: float
    tau: float
    looks: int


def daily_looks(log: AbLog) -> list[np.ndarray]:
    """Boolean masks of the impressions seen by the end of each UTC day the log spans (one look, all of it, without
    ts)."""
    if log.ts is None:
        return [np.ones(len(log), dtype=bool)]
    first, last = math.floor(log.ts.min() / DAY_S), math.floor(log.ts.max() / DAY_S)
    return [log.ts < (day + 1) * DAY_S for day in range(first, last + 1)]


Covariates = Callable[[Sequence[str] | np.ndarray], np.ndarray | None]     # a look's units -> their covariate


def look_tests(log: AbLog, numerator: np.ndarray, denominator: np.ndarray,
               covariate_for: Covariates | None = None) -> list[RatioTest | None]:
    """The delta-method test of one metric (its per-impression numerator and denominator) on the data seen by
    each daily look; None for a look with too few units (covariate_for: the CUPED covariate of a look's units)."""
    tests: list[RatioTest | None] = []
    for seen in daily_looks(log):
        present, inverse = np.unique(log.unit[seen], return_inverse=True)      # the units seen so far, sorted
        sums = unit_sums(None, log.arm[seen], numerator[seen], denominator[seen], (log.unit_ids[present], inverse))
        covariate = covariate_for(sums.ids) if covariate_for is not None else None
        tests.append(ratio_test(sums, covariate) if enough_units(sums.arm) else None)
    return tests


def default_tau(value: float, margin: float = 0.0) -> float:
    """τ for a metric: its margin when there is one, else RELATIVE_TAU of its value."""
    return margin if margin > 0 else RELATIVE_TAU * max(abs(value), 1e-9)


def mixture_ratio(delta: float, var: float, tau: float) -> float:
    """Λ of one look: the normal-mixture likelihood ratio of the estimate against no change."""
    t2 = tau * tau
    return math.sqrt(var / (var + t2)) * math.exp(min(700.0, delta * delta * t2 / (2 * var * (var + t2))))


def always_valid(tests: list[RatioTest | None], tau: float, alpha: float) -> Sequential:
    """The always-valid p over the looks' tests (None: a look skipped) and the confidence sequence at the last
    look."""
    taken = [t for t in tests if t is not None and t.se > 0]
    if not taken:
        return Sequential(1.0, float("-inf"), float("inf"), tau, 0)
    p = min(1.0, min(1.0 / mixture_ratio(t.delta, t.se ** 2, tau) for t in taken))
    last = taken[-1]
    v, t2 = last.se ** 2, tau * tau
    half = math.sqrt(v * (v + t2) / t2 * (math.log((v + t2) / v) - 2 * math.log(alpha)))
    return Sequential(p, last.delta - half, last.delta + half, tau, len(taken))


def enough_units(arm_of_unit: np.ndarray) -> bool:
    """Whether both arms have SMALL_UNITS units (a look before that is skipped)."""
    counts = np.bincount(arm_of_unit, minlength=2)
    return bool(counts.min() >= SMALL_UNITS)
