"""MTEB's protocol knobs against MTEB's own code (the mteb package run on the same vectors, tests/mteb_reference.py):
classification with 16 examples per label, clustering by MTEB's v1 (sets) and v2 (bootstrap samples) procedures."""

from __future__ import annotations

import csv
import json
import random

import mteb_reference  # the dev extra installs mteb, the reference
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import data_path

from spacekit.cli import main
from spacekit.metrics.classification import ClassificationProtocol, linear_probe
from spacekit.metrics.clustering import weighted_scores
from spacekit.metrics.mteb_clustering import v1_runs, v2_documents, v2_runs
from spacekit.stats import clustering_statistic


def _banking77(split: str) -> tuple[list[str], list[str]]:
    with open(data_path("banking77", f"{split}.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def _vectors(texts: list[str], labels: list[str], noise: float, seed: int = 0) -> dict[str, np.ndarray]:
    """Unit vectors near a centre per label: a space with some structure, made without a model."""
    rng = np.random.default_rng(seed)
    centres = {label: rng.standard_normal(32) for label in sorted(set(labels))}
    table = {}
    for text, label in zip(texts, labels, strict=True):
        v = noise * rng.standard_normal(32) + centres[label]
        table[text] = (v / np.linalg.norm(v)).astype(np.float32)
    return table


@pytest.mark.real
def test_classification_with_16_examples_per_label_equals_mteb():
    train_texts, train_labels = _banking77("train")
    test_texts, test_labels = _banking77("test")
    table = _vectors(train_texts + test_texts, train_labels + test_labels, noise=3.0)
    codes = {label: i for i, label in enumerate(sorted(set(train_labels)))}
    train = {"text": train_texts, "label": [codes[x] for x in train_labels]}
    test = {"text": test_texts, "label": [codes[x] for x in test_labels]}
    ref = mteb_reference.classification(train, test, table, samples_per_label=16, n_experiments=3)
    x = lambda texts: np.stack([table[t] for t in texts])
    ours, _ = linear_probe(x(train_texts), np.array(train["label"]), x(test_texts), np.array(test["label"]),
                           ClassificationProtocol(samples_per_label=16, n_experiments=3))
    assert 0.1 < ref["accuracy"] < 0.9                       # neither trivial nor hopeless
    assert ours["accuracy"] == pytest.approx(ref["accuracy"], abs=1e-12)
    assert ours["f1_macro"] == pytest.approx(ref["f1"], abs=1e-12)
    eight, _ = linear_probe(x(train_texts), np.array(train["label"]), x(test_texts), np.array(test["label"]),
                            ClassificationProtocol(n_experiments=3))
    assert eight["accuracy"] != pytest.approx(ours["accuracy"], abs=1e-3)   # the knob changes the number


@pytest.mark.real
def test_clustering_v1_and_v2_equal_mteb():
    texts, labels = _banking77("test")
    table = _vectors(texts, labels, noise=2.0)
    x, gold = np.stack([table[t] for t in texts]), np.unique(labels, return_inverse=True)[1]
    sets = np.arange(len(texts)) % 4                                           # 4 interleaved sets of 770
    ref = mteb_reference.clustering_v1([{"sentences": [t for t, s in zip(texts, sets, strict=True) if s == i],
                                         "labels": [y for y, s in zip(labels, sets, strict=True) if s == i]}
                                        for i in range(4)], table)
    pred, counts = v1_runs(x, gold, sets)
    ours = [weighted_scores(gold, p, m)["v_measure"] for p, m in zip(pred, counts, strict=True)]
    assert len(ours) == 4
    assert np.mean(ours) == pytest.approx(ref["v_measure"], abs=1e-12)
    assert ours == pytest.approx(ref["v_measures"], abs=1e-12)
    for knobs in ({"max_fraction": 0.5, "subset_size": 1000, "subsets": 10}, {"max_fraction": 0.04},
                  {"max_fraction": None, "max_documents": 2000, "subset_size": 5000, "subsets": 3}):
        ref = mteb_reference.clustering_v2(texts, labels, table, **knobs)
        rng = random.Random(42)
        keep = v2_documents(len(texts), rng, knobs["max_fraction"], knobs.get("max_documents"))
        pred, counts = v2_runs(x[keep], gold[keep], rng, knobs.get("subsets", 10), knobs.get("subset_size", 16_384))
        ours = np.mean([weighted_scores(gold[keep], p, m)["v_measure"] for p, m in zip(pred, counts, strict=True)])
        assert ours == pytest.approx(ref["v_measure"], abs=1e-12), knobs
        # compare's statistic (weighted contingency tables) gives the same number at unit bootstrap weights
        stat = clustering_statistic(np.column_stack([gold[keep], counts.T]), "v")
        ones = torch.ones((1, len(keep)), dtype=torch.float64)
        assert float(stat(pred, ones).mean()) == pytest.approx(ours, abs=1e-9)


@pytest.mark.real
def test_clustering_cli_under_mteb_protocols_equals_mteb_on_real_vectors(tmp_path):
    from spacekit.embed import EncodeOptions, load_model

    texts, labels = _banking77("test")
    model = load_model("builtin:minilm")
    unique = list(dict.fromkeys(texts))
    table = dict(zip(unique, EncodeOptions().embed(model, unique, unique), strict=True))
    layout = tmp_path / "banking77-sets.jsonl"                  # MTEB's layout: one row of lists per set
    with open(layout, "w", encoding="utf-8") as f:
        for i in range(3):
            f.write(json.dumps({"sentences": texts[i::3], "labels": labels[i::3]}) + "\n")
    run = lambda *args: CliRunner().invoke(main, ["eval", "clustering", "builtin:minilm", *args, "--json"])
    v1 = run(str(layout), "--protocol", "mteb-v1")
    assert v1.exit_code == 0, v1.output
    ref = mteb_reference.clustering_v1([{"sentences": texts[i::3], "labels": labels[i::3]} for i in range(3)], table)
    assert json.loads(v1.stdout)["metrics"]["v_measure"] == pytest.approx(ref["v_measure"], abs=1e-4)
    assert json.loads(v1.stdout)["runs"] == 3
    v2 = run(str(data_path("banking77", "test.csv")), "--protocol", "mteb-v2", "--max-fraction", "0.5",
             "--subset-size", "2000")
    assert v2.exit_code == 0, v2.output
    ref = mteb_reference.clustering_v2(texts, labels, table, max_fraction=0.5, subset_size=2000)
    out = json.loads(v2.stdout)
    assert out["metrics"]["v_measure"] == pytest.approx(ref["v_measure"], abs=1e-4)
    assert out["n"] == 1540
    assert out["protocol"] == "mteb-v2"
    halves = {}                               # the test texts again (encoded above), split: 20 a label each
    for name, part in (("train", 0), ("test", 1)):
        halves[name] = tmp_path / f"{name}.csv"
        with open(halves[name], "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([("text", "category"), *list(zip(texts, labels, strict=True))[part::2]])
    c16 = CliRunner().invoke(main, ["eval", "classification", "builtin:minilm", "--train", str(halves["train"]),
                                    "--test", str(halves["test"]), "--samples-per-label", "16",
                                    "--n-experiments", "2", "--json"])
    assert c16.exit_code == 0, c16.output
    assert json.loads(c16.stdout)["samples_per_label"] == 16
    assert json.loads(c16.stdout)["n"] == len(texts) // 2


@pytest.mark.model
def test_bad_mteb_layouts_and_knobs_are_one_line_exit_2(tmp_path):
    bad = tmp_path / "sets.jsonl"
    bad.write_text(json.dumps({"sentences": ["a", "b", "c"], "labels": ["x", "y"]}) + "\n", encoding="utf-8")
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"sentences": ["a", "b", "c"], "labels": ["x", "y", "x"]}) + "\n", encoding="utf-8")
    cases = [([str(bad), "--protocol", "mteb-v1"], "sets.jsonl:1: field 'sentences' is a list of 3 texts"),
             ([str(good)], "need the mteb-v1 protocol"),
             ([str(good), "--protocol", "mteb-v2", "--max-fraction", "0.5", "--max-documents", "3"],
              "give one of --max-fraction, --max-documents"),
             ([str(good), "--protocol", "mteb-v2", "--subsets", "0"],
              "clustering subsets must be an integer between 1 and 1,000, got 0")]
    for args, message in cases:
        result = CliRunner().invoke(main, ["eval", "clustering", "builtin:minilm", *args])
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert len(result.output.strip().splitlines()) == 1


@pytest.mark.real
def test_pair_classification_under_every_scoring_function_equals_mteb(tmp_path):
    from spacekit.metrics.pair_classification import pair_scores, scoring_scores

    sts = [line.split("\t") for line in data_path("stsbenchmark", "sts-dev.csv").read_text(encoding="utf-8")
           .splitlines()]
    first, second = [f[5] for f in sts], [f[6] for f in sts]
    labels = [int(float(f[4]) >= 3.0) for f in sts]                       # duplicates: gold similarity >= 3
    rng = np.random.default_rng(1)
    table: dict[str, np.ndarray] = {}
    for a, b, y in zip(first, second, labels, strict=True):            # unnormalised: the four functions differ
        table.setdefault(a, rng.standard_normal(16) * rng.uniform(0.5, 2.0))
        if b not in table:
            table[b] = table[a] * (1.0 if y else -0.2) + rng.standard_normal(16) * 1.5
    ref = mteb_reference.pair_classification(first, second, labels, {t: v.astype(np.float32)
                                                                     for t, v in table.items()})
    a = np.stack([table[t] for t in first]).astype(np.float32)
    b = np.stack([table[t] for t in second]).astype(np.float32)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    ours = {**pair_scores(cos, np.array(labels)), **scoring_scores(a, b, np.array(labels), cos)}
    assert ours["ap"] == pytest.approx(ref["cosine_ap"], abs=1e-6)
    for name in ("dot", "euclidean", "manhattan"):
        for metric in ("ap", "accuracy", "f1"):
            assert ours[f"{name}_{metric}"] == pytest.approx(ref[f"{name}_{metric}"], abs=1e-6), (name, metric)
    assert ours["max_ap"] == pytest.approx(ref["max_ap"], abs=1e-6)
    assert len({round(ours[f"{n}_ap"], 4) for n in ("dot", "euclidean", "manhattan")}) == 3   # they do differ
    layout = tmp_path / "pairs.jsonl"                                     # MTEB's layout: one row of lists
    layout.write_text(json.dumps({"sentence1": first[:50], "sentence2": second[:50], "labels": labels[:50]}) + "\n")
    from spacekit.io.pairs import read_labelled_pairs

    read = read_labelled_pairs(layout)
    assert read.first == first[:50]
    assert read.labels.tolist() == labels[:50]
    assert read.ids[3] == "pairs.jsonl:1:3"


@pytest.mark.model
def test_compare_runs_clustering_under_mteb_protocols_from_a_suite(tmp_path):
    texts, labels = _banking77("test")
    keep = [i for i, y in enumerate(labels) if y in sorted(set(labels))[:12]][:360]        # 12 intents, 360 texts
    data = tmp_path / "intents.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", "set"])
        writer.writerows([texts[i], labels[i], f"s{n % 3}"] for n, i in enumerate(keep))
    suite = tmp_path / "suite.toml"
    suite.write_text(f"""
[[task]]
name = "v1"
kind = "clustering"
data = "{data.name}"
protocol = "mteb-v1"
set_field = "set"

[[task]]
name = "v2"
kind = "clustering"
data = "{data.name}"
protocol = "mteb-v2"
max_fraction = 1
subset_size = 300
subsets = 5
""")
    result = CliRunner().invoke(main, ["compare", "builtin:minilm", "builtin:minilm", "--suite", str(suite), "-o",
                                       str(tmp_path / "r"), "--resamples", "300", "--json"])
    assert result.exit_code == 0, result.output
    tasks = {t["name"]: t for t in json.loads(result.stdout)["tasks"]}
    assert tasks["v1"]["n"] == 360
    assert tasks["v2"]["n"] == 360
    for task in tasks.values():
        m = task["metrics"]["v_measure"]
        assert m["before"] == m["after"]
        assert m["delta"] == 0
        assert 0.3 < m["before"] < 1
        assert m["verdict"] == "equivalent"
