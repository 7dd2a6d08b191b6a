"""Threshold transfer (issue 33): the precision-recall curve equals scikit-learn's, its bootstrap weights equal
resampling the pairs, and a cut-off moved by a known map is recovered inside its interval."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve

from spacekit.compare.threshold import threshold_transfer
from spacekit.metrics.threshold import ScoredPairs, at_precision, at_recall, best_f1, curve, operating_point


def _pairs(rng, n: int = 2000, ties: bool = False) -> ScoredPairs:
    positive = rng.random(n) < 0.3
    scores = np.where(positive, rng.normal(0.7, 0.08, n), rng.normal(0.45, 0.1, n))
    if ties:
        scores = np.round(scores, 2)
    return ScoredPairs(scores, positive, np.arange(n), np.zeros(n, np.int64))


def test_the_curve_is_scikit_learns():
    rng = np.random.default_rng(0)
    pairs = _pairs(rng, 500, ties=True)
    c = curve(pairs)
    precision, recall, thresholds = precision_recall_curve(pairs.positive, pairs.scores)
    theirs = {round(t, 9): (p, r) for p, r, t in zip(precision[:-1], recall[:-1], thresholds, strict=True)}
    distinct = np.sort(np.unique(pairs.scores))[::-1]
    assert c.cuts.shape == (1, len(distinct))
    assert c.chosen.all()
    for j, s in enumerate(distinct):                         # the cut below score s keeps the scores >= s
        assert c.cuts[0, j] < s
        assert (j + 1 == len(distinct) or c.cuts[0, j] > distinct[j + 1])
        p, r = theirs[round(s, 9)]
        assert c.precision[0, j] == pytest.approx(p, abs=1e-12)
        assert c.recall[0, j] == pytest.approx(r, abs=1e-12)
    p, r = operating_point(c, 0.6)
    kept = pairs.scores >= 0.6
    assert p[0] == pytest.approx(pairs.positive[kept].mean())
    assert r[0] == pytest.approx(pairs.positive[kept].sum() / pairs.positive.sum())


def test_missed_positives_lower_recall_and_weights_equal_resampled_pairs():
    rng = np.random.default_rng(1)
    items = 40
    item = rng.integers(0, items, 300)
    positive = rng.random(300) < 0.4
    pairs = ScoredPairs(rng.random(300), positive, item, rng.integers(0, 3, items))
    c = curve(pairs)
    total = positive.sum() + pairs.missed.sum()
    assert c.recall[0, -1] == pytest.approx(positive.sum() / total)          # every pair kept
    counts = rng.multinomial(items, np.full(items, 1 / items)).astype(float)
    weighted = curve(pairs, counts[None, :])
    take = np.concatenate([np.flatnonzero(item == i) for i in range(items) for _ in range(int(counts[i]))])
    copies = np.repeat(np.arange(items), counts.astype(int))
    new_item = np.concatenate([np.full((item == i).sum(), k) for k, i in enumerate(copies)])
    resampled = ScoredPairs(pairs.scores[take], positive[take], new_item, pairs.missed[copies])
    direct = curve(resampled)
    for t in (0.2, 0.5, 0.8):
        assert np.allclose(operating_point(weighted, t), operating_point(direct, t), equal_nan=True)
    assert at_precision(weighted, np.array([0.5]))[0] == at_precision(direct, np.array([0.5]))[0]
    assert at_recall(weighted, np.array([0.5]))[0] == at_recall(direct, np.array([0.5]))[0]
    assert best_f1(weighted)[0][0] == best_f1(direct)[0][0]


@pytest.mark.parametrize("mapped", [lambda s: s - 0.07, lambda s: 0.8 * s + 0.05])
def test_a_known_map_of_the_scores_is_recovered_inside_the_interval(mapped):
    rng = np.random.default_rng(2)
    before = _pairs(rng)
    after = ScoredPairs(mapped(before.scores), before.positive, before.item, before.missed)
    t = threshold_transfer(before, after, 0.6, "a positive", resamples=1000, seed=0, alpha=0.05)
    want = mapped(0.6)
    assert t.equal_recall.value == pytest.approx(want, abs=0.005)
    for cut in (t.equal_precision, t.equal_recall):
        assert cut.low <= want <= cut.high, cut
        assert cut.high - cut.low < 0.1
    assert t.reused.recall < t.before.recall                  # the old cut-off now keeps fewer matches
    assert t.best_f1_shift.low <= mapped(t.best_f1_before.value) - t.best_f1_before.value <= t.best_f1_shift.high
    assert f"your 0.6 cut-off becomes {t.equal_precision.value:.2f} [" in t.line


def test_a_noisy_shift_is_recovered_and_without_a_cutoff_the_best_f1_moves():
    rng = np.random.default_rng(3)
    before = _pairs(rng, 3000)
    after = ScoredPairs(before.scores - 0.1 + rng.normal(0, 0.01, 3000), before.positive, before.item, before.missed)
    given = threshold_transfer(before, after, 0.6, "a positive", resamples=1000, seed=0, alpha=0.05)
    assert given.equal_recall.low <= 0.5 <= given.equal_recall.high
    assert given.equal_precision.low <= 0.5 <= given.equal_precision.high
    t = threshold_transfer(before, after, None, "a positive", resamples=500, seed=0, alpha=0.05)
    assert t.given is None
    assert t.equal_precision is None
    assert t.before is None
    assert t.best_f1_shift.low <= -0.1 <= t.best_f1_shift.high
    assert t.line.startswith(f"best-F1 cut-off {t.best_f1_before.value:.2f}")
    assert "moved -0.1" in t.line


def _sts(tmp_path, n: int = 80):
    rng = np.random.default_rng(4)
    words = [f"w{i}" for i in range(30)]
    rows = ["sentence1,sentence2,score"]
    for _ in range(n):
        a = rng.choice(words, 5)
        b = np.where(rng.random(5) < 0.5, a, rng.choice(words, 5))
        rows.append(f"{' '.join(a)},{' '.join(b)},{(b == a).sum()}")
    path = tmp_path / "sts.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_compare_reports_the_cutoff_transfer_of_a_suite_task(tmp_path, tiny_model, minilm_path):
    """End to end: the report's cut-off numbers equal scikit-learn's precision-recall curve over both models' own
    cosines (positives: gold in the top fifth of the range, here 4 and 5 of 0..5)."""
    import json

    from helpers import invoke, make_tiny_model

    from spacekit.embed import EncodeOptions, load_model
    from spacekit.io.sts import read_sts
    from spacekit.tasks.base import pair_cosines

    other = make_tiny_model(tmp_path / "other", minilm_path, seed=1)
    data = _sts(tmp_path)
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "s"\nkind = "sts"\ndata = "{data}"\nthreshold = 0.9\n')
    r = invoke("compare", tiny_model, other, "--suite", suite, "-o", tmp_path / "r", "--json", "--resamples", "300")
    assert r.exit_code == 0, r.output
    t = json.loads(r.stdout)["tasks"][0]["threshold"]
    pairs = read_sts(data)
    positive = pairs.score >= 4
    sims = [pair_cosines(EncodeOptions(device="cpu"), load_model(str(m)), pairs.sentence1, pairs.sentence2)
            for m in (tiny_model, other)]
    kept = sims[0] >= 0.9
    assert t["given"] == 0.9
    assert t["before"]["precision"] == pytest.approx(positive[kept].mean(), abs=1e-9)
    assert t["before"]["recall"] == pytest.approx(positive[kept].sum() / positive.sum(), abs=1e-9)
    precision, _recall, cuts = precision_recall_curve(positive, sims[1])
    ok = precision[:-1] >= t["before"]["precision"]
    lowest = cuts[ok].min()                                  # the lowest score kept at equal precision
    below = sims[1][sims[1] < lowest]
    assert t["equal_precision"]["value"] == pytest.approx((lowest + (below.max() if len(below) else lowest - 1)) / 2,
                                                         abs=1e-6)
    assert t["line"].startswith("your 0.9 cut-off becomes")
    assert "Similarity cut-offs" in (tmp_path / "r" / "report.md").read_text()
    assert (tmp_path / "r" / "thresholds.png").exists()


def test_a_threshold_is_checked_before_anything_runs(tmp_path, tiny_model):
    from helpers import invoke, labelled_csv, one_line_exit_2

    data = _sts(tmp_path, 20)
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "s"\nkind = "sts"\ndata = "{data}"\nthreshold = "high"\n')
    one_line_exit_2(invoke("compare", tiny_model, tiny_model, "--suite", suite, "-o", tmp_path / "r"),
                    "task 1 (s): threshold must be a number (a similarity cut-off), got 'high'")
    labelled = labelled_csv(tmp_path / "c.csv", 20)
    suite.write_text(f'[[task]]\nname = "c"\nkind = "clustering"\ndata = "{labelled}"\nthreshold = 0.5\n')
    one_line_exit_2(invoke("compare", tiny_model, tiny_model, "--suite", suite, "-o", tmp_path / "r"),
                    "threshold applies to tasks with scored pairs (sts, pair_classification, retrieval), not "
                    "clustering")
    suite.write_text(f'[[task]]\nname = "s"\nkind = "sts"\ndata = "{data}"\n')
    one_line_exit_2(invoke("compare", tiny_model, tiny_model, "--suite", suite, "-o", tmp_path / "r", "--threshold",
                           "nan"), "--threshold must be a finite number, got nan")
    assert not (tmp_path / "r").exists()
