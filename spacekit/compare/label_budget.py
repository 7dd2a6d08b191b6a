"""What a task's labelled items can decide, from its main metric's paired differences: the smallest change it can
detect with POWER (80%) power, the smallest equivalence margin it can certify, and, when the verdict is
inconclusive, how many items would decide it.

Method (named in the report): a paired t-test's power (statsmodels' TTestPower, two-sided, at the level the
task's test faced in its family: alpha / tests for Holm and Bonferroni), with sd the standard deviation of the
per-item differences for a mean metric, or the bootstrap standard error x sqrt(n) for a statistic recomputed on
each resample (a correlation, a clustering score). The equivalence margin is |Δ| + t(1 - level, n - 1) x sd / sqrt(n):
the smallest margin the paired TOST would accept at that level.
"""

from __future__ import annotations

import math

from spacekit.compare.entry import LabelBudget
from spacekit.compare.metric_test import MetricTest
from spacekit.practical import POWER, needed_items


def label_budget(test: MetricTest, n: int, alpha: float) -> LabelBudget | None:
    """The budget of a judged main-metric test over n items (None when its sd is undefined)."""
    sd, level = test.sd, test.power_level or alpha
    if sd is None or not math.isfinite(sd) or sd <= 0 or n < 3 or not math.isfinite(test.delta):
        return None
    from scipy.stats import t as student_t
    from statsmodels.stats.power import TTestPower

    effect = TTestPower().solve_power(nobs=n, alpha=level, power=POWER, alternative="two-sided")
    se = sd / math.sqrt(n)
    needed = needed_items(sd, test.margin, level) if test.verdict == "inconclusive" else None
    return LabelBudget(n=n, sd=sd, level=level, detectable=float(effect) * sd,
                       equivalence_margin=abs(test.delta) + float(student_t.ppf(1 - level, n - 1)) * se,
                       needed_n=needed, more=max(0, needed - n) if needed is not None else None,
                       method="paired t power (TTestPower)" if test.test == "sign-flip randomization"
                       else "paired t power with the bootstrap's standard error")
