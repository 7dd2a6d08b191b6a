"""Pair classification: MTEB's published values, scikit-learn threshold sweeps, the weighted (bootstrap) form
against the expanded multiset, and the kind end to end (eval and compare) on STS-B pairs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import data_path
from sklearn.metrics import accuracy_score, average_precision_score, f1_score

from spacekit.cli import main
from spacekit.metrics.pair_classification import best_accuracy, best_f1, pair_scores, weighted_pair_scores

# MTEB's own test case (tests/test_PairClassificationEvaluator.py): acc 0.9 at 7.96, f1 2/3 (p 1, r 0.5), AP 0.7
MTEB_SCORES = np.array([6.12, 5.39, 5.28, 5.94, 6.34, 6.47, 7.88, 6.62, 8.04, 5.9])
MTEB_LABELS = np.array([0, 0, 0, 0, 1, 0, 0, 0, 1, 0])


def test_mteb_published_case():
    out = pair_scores(MTEB_SCORES, MTEB_LABELS)
    assert out["accuracy"] == pytest.approx(0.9, abs=1e-4)
    assert out["accuracy_threshold"] == pytest.approx(7.95999, abs=1e-4)
    assert out["f1"] == pytest.approx(0.66666, abs=1e-4)
    assert (out["precision"], out["recall"]) == pytest.approx((1.0, 0.5), abs=1e-4)
    assert out["f1_threshold"] == pytest.approx(7.95999, abs=1e-4)
    assert out["ap"] == pytest.approx(0.7, abs=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_threshold_equals_a_scikit_learn_sweep(seed):
    """Without ties, MTEB's best cut is the best threshold between two similarities (short of taking them all)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    sim = rng.normal(labels * 0.8, 1.0)
    s = np.sort(sim)[::-1]
    thresholds = (s[1:] + s[:-1]) / 2                                     # every cut but "all positive"
    accs = [accuracy_score(labels, sim > t) for t in thresholds]
    f1s = [f1_score(labels, sim > t) for t in thresholds]
    acc, acc_t = best_accuracy(sim, labels)
    f1, _, _, f1_t = best_f1(sim, labels)
    assert acc == pytest.approx(max(accs), abs=1e-12)
    assert acc_t == pytest.approx(thresholds[int(np.argmax(accs))], abs=1e-12)
    assert f1 == pytest.approx(max(f1s), abs=1e-12)
    assert f1_t == pytest.approx(thresholds[int(np.argmax(f1s))], abs=1e-12)
    assert pair_scores(sim, labels)["ap"] == pytest.approx(average_precision_score(labels, sim), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_weighted_scores_equal_the_expanded_multiset(seed):
    """Each bootstrap resample is scored as the multiset it stands for (pair j repeated w_j times), ties of
    similarity included; AP also against scikit-learn's sample weights."""
    rng = np.random.default_rng(seed)
    n = 60
    labels = rng.integers(0, 2, n)
    sim = np.round(rng.normal(labels * 0.5, 1.0), 1)                     # rounded: many equal similarities
    weights = torch.as_tensor(rng.multinomial(n, np.ones(n) / n, size=8), dtype=torch.float64)   # (8, n)
    weights[0] = 1                                                        # unit weights: the plain scores
    got = weighted_pair_scores(sim, labels, weights)
    for r in range(len(weights)):
        w = weights[r].numpy().astype(int)
        expanded_sim, expanded_labels = np.repeat(sim, w), np.repeat(labels, w)
        ref = pair_scores(expanded_sim, expanded_labels)
        assert float(got["accuracy"][r]) == pytest.approx(ref["accuracy"], abs=1e-12), r
        assert float(got["f1"][r]) == pytest.approx(ref["f1"], abs=1e-12), r
        assert float(got["ap"][r]) == pytest.approx(ref["ap"], abs=1e-12), r
        assert float(got["ap"][r]) == pytest.approx(average_precision_score(labels, sim, sample_weight=w), abs=1e-12)


@pytest.fixture(scope="module")
def stsb_pairs(tmp_path_factory):
    """STS-B dev pairs as duplicates (gold >= 4) and non-duplicates (gold <= 1), the rest left out."""
    lines = data_path("stsbenchmark", "sts-dev.csv").read_text(encoding="utf-8").splitlines()
    rows = []
    for line in lines:
        f = line.split("\t")
        score = float(f[4])
        if score >= 4 or score <= 1:
            rows.append({"sentence1": f[5], "sentence2": f[6], "label": int(score >= 4)})
    path = tmp_path_factory.mktemp("pairs") / "stsb-pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, rows


@pytest.mark.real
def test_eval_pair_classification_on_stsb_pairs(stsb_pairs):
    from spacekit.embed import encode, load_model

    path, rows = stsb_pairs
    r = CliRunner().invoke(main, ["eval", "pair-classification", "builtin:minilm", str(path), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["task"] == "pair_classification"
    assert out["n"] == len(rows) > 500
    model = load_model("builtin:minilm")
    a = encode(model, [x["sentence1"] for x in rows])
    b = encode(model, [x["sentence2"] for x in rows])
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    labels = np.array([x["label"] for x in rows])
    assert out["metrics"]["ap"] == pytest.approx(average_precision_score(labels, cos), abs=1e-6)
    assert 0.9 < out["metrics"]["ap"] <= 1.0                                 # MiniLM separates these well


@pytest.mark.real
def test_compare_tests_pair_classification(stsb_pairs, tmp_path):
    """The kind runs in a suite like any other: its metrics are tested by the bootstrap, the model against itself
    changes nothing."""
    path, _ = stsb_pairs
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "duplicates"\nkind = "pair_classification"\ndata = "{path}"\n')
    r = CliRunner().invoke(main, ["compare", "builtin:minilm", "builtin:minilm", "--suite", str(suite), "-o",
                                  str(tmp_path / "out"), "--json", "--resamples", "500"])
    assert r.exit_code == 0, r.output
    task = json.loads(r.stdout)["tasks"][0]
    assert task["kind"] == "pair_classification"
    assert task["main_metric"] == "ap"
    assert set(task["metrics"]) == {"ap", "accuracy", "f1"}
    for name, m in task["metrics"].items():
        assert m["delta"] == 0
        assert m["verdict"] == "equivalent"                             # every resample's change is 0: inside
        assert m["family"] == ("main" if name == "ap" else "secondary")
        assert m["test"] == "bootstrap"


@pytest.mark.model
def test_labels_must_be_zero_or_one(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("sentence1\tsentence2\tlabel\na\tb\t1\nc\td\t2\n")
    r = CliRunner().invoke(main, ["eval", "pair-classification", "builtin:minilm", str(path)])
    assert r.exit_code == 2
    assert "p.tsv:3: label must be 0 or 1" in r.stderr
