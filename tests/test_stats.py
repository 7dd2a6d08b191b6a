"""Paired statistics equal scipy / scikit-learn where they have the same thing, and hold their error rates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import paired_statistic_cases
from scipy import stats as sps
from sklearn.metrics import adjusted_rand_score, v_measure_score

from spacekit import stats
from spacekit.practical import decide


def test_paired_t_equals_scipy_ttest_rel():
    rng = np.random.default_rng(0)
    a = rng.random(300)
    b = a + rng.normal(0.02, 0.1, 300)
    p, dz = stats.paired_t(a, b)
    assert p == pytest.approx(sps.ttest_rel(b, a).pvalue, rel=1e-12)
    d = b - a
    assert dz == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)


def test_bootstrap_ci_matches_scipy_paired_bootstrap():
    rng = np.random.default_rng(1)
    a = rng.random(400)
    b = np.clip(a + rng.normal(0.03, 0.15, 400), 0, 1)
    low, high, _ = stats.paired_bootstrap(a, b, resamples=20_000, seed=3)
    ref = sps.bootstrap((a, b), lambda x, y, axis=-1: np.mean(y, axis=axis) - np.mean(x, axis=axis), paired=True,
                        n_resamples=20_000, method="percentile", rng=np.random.default_rng(5)).confidence_interval
    width = ref.high - ref.low
    assert abs(low - ref.low) < 0.03 * width
    assert abs(high - ref.high) < 0.03 * width


def test_weighted_statistics_equal_scipy_and_sklearn_on_a_resample():
    rng = np.random.default_rng(2)
    sim, gold = rng.random(200), np.round(rng.random(200) * 5)  # gold with many ties
    idx = rng.integers(0, 200, 200)
    w = torch.as_tensor(np.bincount(idx, minlength=200), dtype=torch.float64).unsqueeze(0)  # (1, 200) counts
    assert float(stats.spearman_statistic(gold)(sim, w)[0]) == pytest.approx(
        sps.spearmanr(sim[idx], gold[idx]).statistic, rel=1e-10)
    assert float(stats.pearson_statistic(gold)(sim, w)[0]) == pytest.approx(
        sps.pearsonr(sim[idx], gold[idx]).statistic, rel=1e-10)
    labels, pred = rng.integers(0, 7, 200), rng.integers(0, 5, 200)
    assert float(stats.clustering_statistic(labels, "v")(pred, w)[0]) == pytest.approx(
        v_measure_score(labels[idx], pred[idx]), rel=1e-10)
    assert float(stats.clustering_statistic(labels, "ari")(pred, w)[0]) == pytest.approx(
        adjusted_rand_score(labels[idx], pred[idx]), rel=1e-10)


def test_sign_flip_false_positive_rate_is_about_alpha():
    rng = np.random.default_rng(4)
    rejections = 0
    trials = 400
    for i in range(trials):
        a = rng.random(60)
        b = a + rng.normal(0, 0.1, 60)          # no true difference
        rejections += stats.sign_flip_test(a, b, resamples=1000, seed=i) < 0.05
    rate = rejections / trials
    assert 0.025 <= rate <= 0.08, rate         # 0.05 within binomial error (sd ~ 0.011)


def test_sign_flip_detects_a_real_shift_and_identical_inputs_give_one():
    rng = np.random.default_rng(6)
    a = rng.random(200)
    assert stats.sign_flip_test(a, a + 0.05 + rng.normal(0, 0.1, 200)) < 0.01
    assert stats.sign_flip_test(a, a) == 1.0


def test_mcnemar_equals_exact_binomial():
    before = np.array([1, 1, 0, 0, 1, 0, 1, 1, 0, 1] * 10, bool)
    after = before.copy()
    after[:15] = ~after[:15]
    b, c = int((before & ~after).sum()), int((~before & after).sum())
    assert stats.mcnemar(before, after) == pytest.approx(sps.binomtest(min(b, c), b + c, 0.5).pvalue)


def test_compare_metric_kinds_and_verdicts():
    rng = np.random.default_rng(7)
    a = rng.random(300)
    same = stats.compare_metric(a, a, "mean")
    assert same.delta == 0
    assert same.p_value == 1.0
    assert decide(same.delta, same.ci_low, same.ci_high, 1.0, None, 0.0, 0.05) == "no significant change"
    worse = stats.compare_metric(a, a - 0.1 + rng.normal(0, 0.05, 300), "mean")
    assert worse.delta < 0
    assert worse.ci_high < 0
    assert worse.p_value < 0.001
    assert decide(worse.delta, worse.ci_low, worse.ci_high, worse.p_value, None, 0.01, 0.05) == "regressed"
    gold = rng.random(300)
    sts = stats.compare_metric(gold + rng.normal(0, 0.5, 300), gold + rng.normal(0, 0.2, 300), "spearman", gold=gold,
                               resamples=2000)
    assert sts.delta > 0
    assert sts.p_value < 0.01
    assert sts.ci_low > 0
    assert sts.after == pytest.approx(sps.spearmanr(gold + rng.normal(0, 0.2, 300), gold).statistic, abs=0.2)


def test_resamples_in_blocks_give_the_same_results(monkeypatch):
    """A small memory budget cuts the resamples into many blocks; the draws come from one seeded stream, so every
    interval, delta and p-value is the one a single block gives (mean, Spearman, V-measure; sign flips)."""
    monkeypatch.setattr(stats, "CPU_BLOCK_BYTES", 1 << 40)                       # no CPU cap: one block by default
    cases = paired_statistic_cases(300, seed=8)
    for x, y, statistic in cases:
        whole = stats.paired_bootstrap(x, y, statistic, resamples=3000, seed=4, device="cpu")
        blocks = stats.paired_bootstrap(x, y, statistic, resamples=3000, seed=4, device="cpu", budget="64K")
        assert (whole[0], whole[1]) == pytest.approx((blocks[0], blocks[1]), rel=1e-12)
        torch.testing.assert_close(whole[2], blocks[2], rtol=1e-12, atol=0)
    counts = list(stats.bootstrap_weights(300, 3000, seed=4, device="cpu", budget="64K"))
    assert len(counts) > 10
    assert torch.equal(torch.cat(counts).sum(1), torch.full((3000,), 300.0, dtype=torch.float64))
    a, b, _ = cases[0]
    assert stats.sign_flip_test(a, b, resamples=3000, seed=2, device="cpu") == \
        stats.sign_flip_test(a, b, resamples=3000, seed=2, device="cpu", budget="64K")


@pytest.mark.parametrize("kind", ["spearman", "pearson"])
def test_swap_permutation_p_equals_a_scipy_loop(kind):
    """The permutations run at once (block by block) give the p-value of a plain loop over the same swaps, each
    correlation from scipy (Spearman with ties in gold and in the similarities)."""
    rng = np.random.default_rng(6)
    gold = np.round(rng.random(400) * 5)
    before = np.round(gold + rng.normal(0, 2, 400), 1)                            # rounded: ties in the ranks
    after = np.round(gold + rng.normal(0, 1.9, 400), 1)
    corr = (lambda x: sps.spearmanr(x, gold).statistic) if kind == "spearman" else \
        (lambda x: sps.pearsonr(x, gold).statistic)
    observed = abs(corr(after) - corr(before))
    swaps = np.random.default_rng(11).random((500, 400)) < 0.5
    hits = sum(abs(corr(np.where(s, before, after)) - corr(np.where(s, after, before))) >= observed - 1e-12
               for s in swaps)
    ref = (1 + hits) / 501
    assert 0.05 < ref < 0.95                                                      # a p-value with room both ways
    assert stats._swap_p(before, after, kind, gold, 500, 11, device="cpu") == ref
    assert stats._swap_p(before, after, kind, gold, 500, 11, device="cpu", budget="64K") == ref


def test_row_ranks_equal_scipy_rankdata():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 6, (30, 50)).astype(np.float64)                              # many ties per row
    np.testing.assert_array_equal(stats._row_ranks(torch.as_tensor(x)).numpy(), sps.rankdata(x, axis=1))


def test_clustering_runs_are_averaged_and_their_spread_enters_the_interval():
    """Several k-means runs per model: the point estimate is the mean of scikit-learn's V-measure over runs; the
    bootstrap resamples runs as well as items, so runs that disagree widen the interval; identical runs change
    nothing."""
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 6, 400)
    noisy = lambda p: np.where(rng.random(400) < p, rng.integers(0, 6, 400), gold)
    before = np.stack([noisy(0.5) for _ in range(5)])
    after = np.stack([noisy(q) for q in (0.3, 0.45, 0.6, 0.35, 0.55)])              # runs that disagree
    t = stats.compare_metric(before, after, "v_measure", gold=gold, resamples=2000)
    assert t.before == pytest.approx(np.mean([v_measure_score(gold, p) for p in before]), rel=1e-10)
    assert t.after == pytest.approx(np.mean([v_measure_score(gold, p) for p in after]), rel=1e-10)
    runs_fixed = lambda v, w: stats.clustering_statistic(gold, "v")(v, w).mean(1)      # items resampled, runs not
    low, high, _ = stats.paired_bootstrap(before, after, runs_fixed, resamples=2000)
    assert t.ci_high - t.ci_low > 1.2 * (high - low)
    one = stats.compare_metric(before[0], after[0], "v_measure", gold=gold, resamples=2000)
    same = stats.compare_metric(np.stack([before[0]] * 3), np.stack([after[0]] * 3), "v_measure", gold=gold,
                                resamples=2000)
    assert (same.delta, same.ci_low, same.ci_high) == pytest.approx((one.delta, one.ci_low, one.ci_high))
