"""STS, classification, clustering, probes and geometry on real data, against independent references."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import data_path

from spacekit.cli import main
from spacekit.metrics.classification import ClassificationProtocol, training_subsets


def _cli_json(args: list[str]) -> dict:
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.real
def test_sts_test_equals_sentence_transformers_evaluator(minilm_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator

    path = data_path("stsbenchmark", "sts-test.csv")
    out = _cli_json(["eval", "sts", "builtin:minilm", str(path), "--device", "cpu"])
    s1, s2, gold = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        f = line.split("\t")
        s1.append(f[5]), s2.append(f[6]), gold.append(float(f[4]))
    evaluator = EmbeddingSimilarityEvaluator(s1, s2, gold, main_similarity="cosine", name="sts")
    ref = evaluator(SentenceTransformer(str(minilm_path), device="cpu"))
    assert out["task"] == "sts"
    assert out["n"] == 1379
    assert out["metrics"]["spearman"] == pytest.approx(ref["sts_spearman_cosine"], abs=1e-6)
    assert out["metrics"]["pearson"] == pytest.approx(ref["sts_pearson_cosine"], abs=1e-6)


def _mteb_reference_subsets(labels: np.ndarray, n_experiments: int = 10, per_label: int = 8) -> list[list[int]]:
    """An independent re-implementation of MTEB's undersampling, with numpy's global RNG."""
    idxs = np.arange(len(labels))
    out = []
    for _ in range(n_experiments):
        np.random.seed(42)
        np.random.shuffle(idxs)
        seen: dict = {}
        picked = []
        for i in idxs:
            if seen.get(labels[i], 0) < per_label:
                picked.append(int(i))
                seen[labels[i]] = seen.get(labels[i], 0) + 1
        out.append(picked)
    return out


def test_mteb_training_subsets_equal_independent_reimplementation():
    rng = np.random.default_rng(0)
    labels = rng.choice([f"l{i}" for i in range(13)], size=700)
    ours = training_subsets(labels, ClassificationProtocol())
    ref = _mteb_reference_subsets(labels)
    assert len(ours) == 10
    assert [o.tolist() for o in ours] == ref
    assert len({tuple(o.tolist()) for o in ours}) == 10  # the permutation carries over: subsets differ
    assert all(np.unique(labels[o], return_counts=True)[1].max() == 8 for o in ours)


@pytest.mark.real
def test_banking77_classification_follows_the_mteb_protocol_and_full():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    from spacekit.embed import EncodeOptions, load_model
    from spacekit.io.labelled import read_labelled
    from spacekit.metrics.classification import linear_probe
    from spacekit.tasks.classification import ClassificationTask

    train_path, test_path = data_path("banking77", "train.csv"), data_path("banking77", "test.csv")
    out = _cli_json(["eval", "classification", "builtin:minilm", "--train", str(train_path), "--test",
                     str(test_path), "--device", "cpu"])
    full = _cli_json(["eval", "classification", "builtin:minilm", "--train", str(train_path), "--test",
                      str(test_path), "--protocol", "full"])
    assert out["n"] == 3080
    assert out["protocol"] == "mteb"
    assert full["protocol"] == "full"
    assert 0.3 < out["metrics"]["accuracy"] < full["metrics"]["accuracy"] < 0.95
    result = ClassificationTask(train_path, test_path).run(load_model("builtin:minilm"), EncodeOptions())
    assert out["metrics"]["accuracy"] == pytest.approx(result.per_item["accuracy"].mean(), abs=1e-12)
    # independent recomputation of the first 3 experiments on the same (cached) embeddings
    train, test = read_labelled(train_path), read_labelled(test_path)
    unique = list(dict.fromkeys(train.texts + test.texts))
    vec = dict(zip(unique, EncodeOptions().embed(load_model("builtin:minilm"), unique, unique), strict=True))
    x_train, x_test = np.stack([vec[t] for t in train.texts]), np.stack([vec[t] for t in test.texts])
    y_train, y_test = np.array(train.labels), np.array(test.labels)
    accs, f1s = [], []
    for subset in _mteb_reference_subsets(y_train, n_experiments=3):
        pred = LogisticRegression(random_state=42, max_iter=100).fit(x_train[subset], y_train[subset]).predict(x_test)
        accs.append((pred == y_test).mean())
        f1s.append(f1_score(y_test, pred, average="macro"))
    ours, _ = linear_probe(x_train, y_train, x_test, y_test, ClassificationProtocol(n_experiments=3))
    assert ours["accuracy"] == pytest.approx(np.mean(accs), abs=1e-12)
    assert ours["f1_macro"] == pytest.approx(np.mean(f1s), abs=1e-12)


@pytest.mark.real
def test_banking77_clustering_v_measure_is_stable_for_a_seed():
    path = data_path("banking77", "test.csv")
    first = _cli_json(["eval", "clustering", "builtin:minilm", str(path), "--seed", "7"])
    second = _cli_json(["eval", "clustering", "builtin:minilm", str(path), "--seed", "7"])
    assert first["metrics"] == second["metrics"]
    assert first["k"] == 77
    assert first["n"] == 3080
    assert 0.6 < first["metrics"]["v_measure"] < 0.95


@pytest.mark.model
def test_probes_builtin_and_geometry_with_pairs(tmp_path, minilm_path):
    out = _cli_json(["eval", "probes", "builtin:minilm"])
    assert out["task"] == "probes"
    assert out["groups"]["cardiology"]["passed"]
    assert out["metrics"]["mean_close_cosine"] > out["metrics"]["mean_far_cosine"]
    texts = tmp_path / "texts.jsonl"
    texts.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(
        ["a cat", "a dog", "stock prices fell", "the market dropped", "rain today", "sunny weather"])))
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("sentence1\tsentence2\na cat\ta kitten\nthe market dropped\tstocks fell\n")
    geo = _cli_json(["geometry", "builtin:minilm", str(texts), "--pairs", str(pairs)])
    assert set(geo["metrics"]) == {"uniformity", "anisotropy", "effective_rank", "alignment"}
    assert geo["n"] == 2
    assert 0 < geo["metrics"]["alignment"] < 2
    assert geo["metrics"]["uniformity"] < 0


@pytest.mark.parametrize(("args", "message"), [
    (["eval", "sts", "builtin:minilm", "{d}/s.tsv"], "s.tsv:2: field 'score' must be a number"),
    (["eval", "clustering", "builtin:minilm", "{d}/l.csv"], "l.csv:2: missing field 'text'"),
    (["eval", "probes", "builtin:minilm", "{d}/p.tsv"], "p.tsv:2: expect must be 'close' or 'far'"),
    (["eval", "classification", "builtin:minilm", "--train", "{d}/ok.csv", "--test", "{d}/unseen.csv"],
     "test labels absent from train"),
])
@pytest.mark.model
def test_task_commands_bad_input_one_line_exit_2(tmp_path, args, message):
    (tmp_path / "s.tsv").write_text("sentence1\tsentence2\tscore\na\tb\tx\nc\td\t1\n")
    (tmp_path / "l.csv").write_text("body,label\nhello,a\nbye,b\n")
    (tmp_path / "p.tsv").write_text("text_a\ttext_b\texpect\na\tb\tnear\n")
    (tmp_path / "ok.csv").write_text("text,label\nhello,a\nbye,b\n")
    (tmp_path / "unseen.csv").write_text("text,label\nhello,a\nbye,c\n")
    r = CliRunner().invoke(main, [a.format(d=tmp_path) for a in args])
    assert r.exit_code == 2, r.output
    assert message in r.stderr, r.output
    assert len(r.stderr.strip().splitlines()) == 1
