"""One metric's paired test between the two models, as report.json shows it (a task entry's cell of one metric)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from spacekit import stats


@dataclass(frozen=True)
class MetricTest:
    """One metric's paired test: both models' values, the change with its 95% interval, the p-value and TOST p-value,
    the margin it is judged by; once its family is corrected (compare.verdict.judge), the adjusted p-values, the
    verdict, and the items needed to decide when it is inconclusive (None before that, and for cells no family
    holds: the all-items cells of a task judged leak-free, a new-documents-only view)."""

    before: float
    after: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float | None
    verdict: str | None
    margin: float
    tost_p: float | None
    tost_adjusted: float | None
    sd: float | None
    needed_n: int | None
    test: str
    t_test_p: float | None
    effect_size_dz: float | None
    higher_is_better: bool
    family: str | None = None
    power_level: float | None = None

    @classmethod
    def of(cls, t: stats.PairedTest, margin: float, higher_is_better: bool = True) -> MetricTest:
        """A paired test, not judged yet."""
        return cls(before=t.before, after=t.after, delta=t.delta, ci_low=t.ci_low, ci_high=t.ci_high,
                   p_value=t.p_value, p_adjusted=None, verdict=None, margin=margin, tost_p=t.tost_p,
                   tost_adjusted=None, sd=t.sd, needed_n=None, test=t.test, t_test_p=t.t_p_value,
                   effect_size_dz=t.effect_size, higher_is_better=higher_is_better)

    def undecided(self) -> MetricTest:
        """This test with every number undefined (what is left to test is too small): judged inconclusive."""
        nan = float("nan")
        return dataclasses.replace(self, before=nan, after=nan, delta=nan, ci_low=nan, ci_high=nan, p_value=nan,
                                   tost_p=nan, sd=nan)
