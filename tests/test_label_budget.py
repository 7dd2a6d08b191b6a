"""The label budget (issue 34): the detectable change has the power it claims (simulated paired t-tests), the
certifiable margin is where the paired TOST reaches the level, and an inconclusive test says how many items decide."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ttest_rel

from spacekit import stats
from spacekit.compare.label_budget import label_budget
from spacekit.compare.metric_test import MetricTest
from spacekit.practical import tost_paired


def _judged(before, after, verdict="inconclusive", margin=0.05, level=0.05) -> MetricTest:
    t = MetricTest.of(stats.compare_metric(before, after, "mean", resamples=500, margin=margin), margin)
    return MetricTest(**{**t.__dict__, "verdict": verdict, "power_level": level})


def test_the_detectable_change_has_80_percent_power():
    rng = np.random.default_rng(0)
    before = rng.normal(0.5, 0.3, 200)
    after = before + rng.normal(0, 0.2, 200)
    b = label_budget(_judged(before, after), 200, 0.05)
    assert b.sd == pytest.approx(np.std(after - before, ddof=1))
    rejected = 0
    for seed in range(1000):                  # experiments whose true change is exactly the detectable one
        r = np.random.default_rng(seed)
        x = r.normal(0.5, 0.3, 200)
        y = x + b.detectable + r.normal(0, b.sd, 200)
        rejected += ttest_rel(y, x).pvalue < 0.05
    assert rejected / 1000 == pytest.approx(0.8, abs=0.04)


def test_the_certifiable_margin_is_where_tost_reaches_the_level():
    rng = np.random.default_rng(1)
    before = rng.normal(0.5, 0.3, 300)
    after = before + 0.01 + rng.normal(0, 0.1, 300)
    b = label_budget(_judged(before, after, level=0.025), 300, 0.05)
    assert tost_paired(before, after, b.equivalence_margin) == pytest.approx(0.025, abs=1e-6)
    assert tost_paired(before, after, b.equivalence_margin * 0.9) > 0.025


def test_an_inconclusive_test_says_how_many_items_decide_it():
    rng = np.random.default_rng(2)
    before = rng.normal(0.5, 0.3, 50)
    after = before + rng.normal(0.01, 0.2, 50)
    b = label_budget(_judged(before, after, margin=0.02), 50, 0.05)
    from statsmodels.stats.power import TTestPower

    want = TTestPower().solve_power(effect_size=0.02 / b.sd, alpha=0.05, power=0.8, alternative="two-sided")
    assert b.needed_n == int(np.ceil(want))
    assert b.more == b.needed_n - 50
    decided = label_budget(_judged(before, after, verdict="improved"), 50, 0.05)
    assert decided.needed_n is None
    assert decided.more is None
