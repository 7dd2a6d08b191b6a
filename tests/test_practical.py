"""Practical significance: TOST, the needed sample size and the corrections equal statsmodels and independent
computations (scipy); margins are parsed and looked up as documented."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import ttost_paired

from spacekit import practical, stats


@pytest.mark.parametrize(("shift", "sd", "n"), [(0.002, 0.05, 300), (0.008, 0.05, 300), (-0.004, 0.2, 80)])
def test_tost_equals_statsmodels_and_two_one_sided_t_tests(shift, sd, n):
    rng = np.random.default_rng(7)
    before = rng.uniform(0, 1, n)
    after = before + rng.normal(shift, sd, n)
    p = practical.tost_paired(before, after, 0.01)
    assert p == pytest.approx(ttost_paired(after, before, -0.01, 0.01)[0], rel=1e-12)
    d = after - before
    lower = sps.ttest_1samp(d, -0.01, alternative="greater").pvalue   # H0: change <= -margin
    upper = sps.ttest_1samp(d, 0.01, alternative="less").pvalue       # H0: change >= +margin
    assert p == pytest.approx(max(lower, upper), rel=1e-10)


def test_compare_metric_carries_the_tost_p_value_and_the_sd():
    rng = np.random.default_rng(1)
    before = rng.uniform(0, 1, 200)
    after = before + rng.normal(0.001, 0.03, 200)
    t = stats.compare_metric(before, after, "mean", resamples=500, margin=0.01)
    assert t.tost_p == pytest.approx(ttost_paired(after, before, -0.01, 0.01)[0], rel=1e-12)
    assert t.sd == pytest.approx(np.std(after - before, ddof=1))
    assert stats.compare_metric(before, after, "mean", resamples=500).tost_p is None   # no margin, no TOST


def test_bootstrap_tost_is_the_dual_of_the_percentile_interval():
    deltas = np.linspace(-0.02, 0.03, 1001)                            # a known bootstrap distribution
    p = practical.tost_bootstrap(deltas, 0.025)
    beyond = max((deltas <= -0.025).sum(), (deltas >= 0.025).sum())
    assert p == pytest.approx((beyond + 1) / 1002)
    assert practical.tost_bootstrap(np.zeros(999), 0.005) == pytest.approx(1 / 1000)


@pytest.mark.parametrize(("sd", "margin", "alpha"), [(0.17, 0.01, 0.05), (0.05, 0.005, 0.0125), (1.0, 0.3, 0.05)])
def test_needed_items_equal_statsmodels_and_reach_the_power_by_the_noncentral_t(sd, margin, alpha):
    n = practical.needed_items(sd, margin, alpha)
    expected = TTestPower().solve_power(effect_size=margin / sd, alpha=alpha, power=0.8, alternative="two-sided")
    assert n == int(np.ceil(expected))

    def power(k: int) -> float:                                       # two-sided paired t, from scipy's nct
        crit, nc = sps.t.ppf(1 - alpha / 2, k - 1), margin / sd * np.sqrt(k)
        return sps.nct.sf(crit, k - 1, nc) + sps.nct.cdf(-crit, k - 1, nc)
    assert power(n) >= 0.8 > power(n - 1)
    assert practical.needed_items(0.0, margin, alpha) is None
    assert practical.needed_items(sd, 0.0, alpha) is None


def test_corrections_equal_the_textbook_procedures():
    p = [0.01, 0.04, 0.03, 0.005, None, float("nan")]
    assert practical.adjust(p, "holm")[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert practical.adjust(p, "bonferroni")[:4] == pytest.approx([0.04, 0.16, 0.12, 0.02])
    assert practical.adjust(p, "bh")[:4] == pytest.approx(sps.false_discovery_control([0.01, 0.04, 0.03, 0.005]))
    assert practical.adjust(p, "none")[:4] == pytest.approx([0.01, 0.04, 0.03, 0.005])
    assert practical.adjust(p, "holm")[4:] == [None, None]                  # undefined tests stay out of the family
    with pytest.raises(ValueError, match="correction must be one of"):
        practical.adjust(p, "sidak")


def test_margins_are_parsed_and_looked_up_by_name_then_family():
    chosen = practical.parse_min_effect("ndcg@10=0.02, recall=0.03,spearman=0")
    assert chosen == {"ndcg@10": 0.02, "recall": 0.03, "spearman": 0.0}
    assert practical.margin_for("ndcg@10", chosen) == 0.02
    assert practical.margin_for("ndcg@10/256d/int8", chosen) == 0.02      # a variant: its plain metric's margin
    assert practical.margin_for("recall@100", chosen) == 0.03             # the family's
    assert practical.margin_for("spearman", chosen) == 0.0
    assert practical.margin_for("mrr@10", chosen) == practical.DEFAULT_MARGIN
    assert practical.margin_for("pearson", {}) == practical.CORRELATION_MARGIN
    assert practical.margin_for("accuracy", practical.parse_min_effect("0.05")) == 0.05   # a bare number: every one
    for bad in ("ndcg@10=-1", "ndcg@10=x", "ndcg@10=nan", "=0.1"):
        with pytest.raises(ValueError, match="is not METRIC=MARGIN"):
            practical.parse_min_effect(bad)


@pytest.mark.parametrize(("delta", "ci", "p", "tost", "verdict"), [
    (0.023, (0.005, 0.042), 0.01, 0.9, "improved"),           # significant, beyond the margin
    (-0.023, (-0.042, -0.005), 0.01, 0.9, "regressed"),
    (-0.003, (-0.005, -0.001), 0.001, 0.001, "negligible change"),  # significant, inside the margin
    (0.001, (-0.004, 0.006), 0.7, 0.01, "equivalent"),        # not found; TOST puts it inside +-margin
    (0.008, (-0.02, 0.036), 0.3, 0.4, "inconclusive"),        # neither
    (0.02, (0.001, 0.04), 0.06, 0.9, "inconclusive"),         # the corrected p decides, not the interval alone
    (0.02, (-0.001, 0.04), 0.01, 0.9, "inconclusive"),        # nor the p-value alone
    (float("nan"), (0.1, 0.2), 0.01, 0.01, "inconclusive"),   # undefined: never a change, never equivalence
])
def test_the_rule(delta, ci, p, tost, verdict):
    assert practical.decide(delta, *ci, p, tost, 0.01, 0.05) == verdict
    if verdict in ("improved", "regressed"):                   # lower is better flips the words
        flipped = {"improved": "regressed", "regressed": "improved"}[verdict]
        assert practical.decide(delta, *ci, p, tost, 0.01, 0.05, higher_is_better=False) == flipped


def test_a_margin_of_zero_is_the_classic_rule():
    assert practical.decide(0.001, 0.0005, 0.002, 0.01, None, 0.0, 0.05) == "improved"
    assert practical.decide(0.001, -0.001, 0.002, 0.3, None, 0.0, 0.05) == "no significant change"


def test_holm_equals_statsmodels_multipletests(monkeypatch):
    import gc

    from statsmodels.stats.multitest import multipletests

    monkeypatch.setattr(gc, "collect", lambda *args: 0)   # multipletests collects garbage on every call: 0.4 s each
    rng = np.random.default_rng(3)
    for size in (2, 3, 7, 20):
        for _ in range(50):
            p = rng.random(size) ** 3
            p[rng.integers(size)] = p[0]                                  # ties too
            ours = practical.adjust(list(p), "holm")
            assert ours == pytest.approx(list(multipletests(p, method="holm")[1]), abs=1e-15)
