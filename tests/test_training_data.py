"""--train: the documented formats are read by role, what is not training data is refused with one line before
anything is encoded, and the training positives are checked against SciFact's relevant documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import data_path

from spacekit.cli import main
from spacekit.errors import InputError
from spacekit.io.training import read_training


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_pairs_and_triplets_are_read_by_role(tmp_path):
    pairs = read_training(_jsonl(tmp_path / "p.jsonl", [{"anchor": "a cat", "positive": "a feline", "score": 1.0},
                                                       {"anchor": "a dog", "positive": "a canine", "score": 0.9}]))
    assert (pairs.anchors, pairs.positives, pairs.negatives) == (["a cat", "a dog"], ["a feline", "a canine"], [])
    assert pairs.texts == ["a cat", "a dog", "a feline", "a canine"]
    triplets = tmp_path / "t.csv"                                 # named columns in any order
    triplets.write_text("negative,positive,anchor\nthe sea,a feline,a cat\n")
    t = read_training(triplets)
    assert (t.anchors, t.positives, t.negatives) == (["a cat"], ["a feline"], ["the sea"])
    by_order = tmp_path / "qa.tsv"                                # sentence-transformers' rule: columns in order
    by_order.write_text("question\tanswer\tquery_id\nwhy is the sky blue\tRayleigh scattering\tq7\n")
    q = read_training(by_order)
    assert (q.anchors, q.positives, q.columns) == (["why is the sky blue"], ["Rayleigh scattering"],
                                                   {"anchor": ["question"], "positive": ["answer"]})
    texts = read_training(_jsonl(tmp_path / "x.jsonl", [{"_id": "d1", "text": "one text"}]))
    assert (texts.texts, texts.positives) == (["one text"], [])
    (tmp_path / "lines.txt").write_text("first sentence\nsecond sentence\n")
    assert read_training(tmp_path / "lines.txt").texts == ["first sentence", "second sentence"]


def test_dataset_folders_are_read(tmp_path):
    datasets = pytest.importorskip("datasets")
    data = datasets.Dataset.from_dict({"anchor": ["a cat", "a dog"], "positive": ["a feline", "a canine"]})
    data.save_to_disk(str(tmp_path / "saved"))
    assert read_training(tmp_path / "saved").positives == ["a feline", "a canine"]
    datasets.DatasetDict({"train": data, "test": data.select([0])}).save_to_disk(str(tmp_path / "dict"))
    assert read_training(tmp_path / "dict").anchors == ["a cat", "a dog"]
    hub = tmp_path / "hub" / "data"                               # the Hub snapshot layout
    hub.mkdir(parents=True)
    data.to_parquet(str(hub / "train-00000-of-00001.parquet"))
    data.select([1]).to_parquet(str(hub / "test-00000-of-00001.parquet"))
    assert read_training(tmp_path / "hub").anchors == ["a cat", "a dog"]


@pytest.mark.parametrize(("name", "content", "says"), [
    ("qrels.tsv", "query-id\tcorpus-id\tscore\n1\t31715818\t1\n3\t14717500\t1\n", "a qrels file?"),
    ("qrels.txt", "1 0 31715818 1\n3 0 14717500 1\n", "TREC qrels or run"),
    ("ids.jsonl", '{"q": "MED-10", "d": "MED-2427"}\n{"q": "MED-11", "d": "MED-118"}\n', "no text column"),
    ("numbers.csv", "a,b\n1,2\n3,4\n", "no text column"),
])
def test_what_is_not_training_data_is_refused(tmp_path, name, content, says):
    (tmp_path / name).write_text(content)
    with pytest.raises(InputError, match="not training data") as e:
        read_training(tmp_path / name)
    assert says in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.model
def test_a_qrels_file_as_train_fails_before_anything_is_encoded(tmp_path, monkeypatch):
    """Exit 2 with one line naming the file; no model is asked to encode (the check runs first)."""
    from spacekit.compare import run

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the inputs were validated")
    monkeypatch.setattr(run, "load_model", refuse)
    qrels = data_path("scifact", "qrels", "train.tsv")
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "scifact"\nkind = "retrieval"\ndata = "{qrels.parents[1]}"\n')
    result = CliRunner().invoke(main, ["compare", "builtin:minilm", "builtin:minilm", "--suite", str(suite), "-o",
                                       str(tmp_path / "out"), "--train", str(qrels)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert str(qrels) in lines[0]
    assert "a qrels file?" in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.model
def test_a_bad_task_file_fails_before_anything_is_encoded(tmp_path, monkeypatch):
    from spacekit.compare import run

    monkeypatch.setattr(run, "load_model", lambda *a, **k: (_ for _ in ()).throw(AssertionError("loaded")))
    broken = tmp_path / "sts.csv"
    broken.write_text("sentence1,sentence2,score\na,b,not-a-number\n")
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "sts"\nkind = "sts"\ndata = "{broken}"\n')
    result = CliRunner().invoke(main, ["compare", "builtin:minilm", "builtin:minilm", "--suite", str(suite), "-o",
                                       str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "task sts" in result.output
    assert str(broken) in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.real
def test_scifact_test_queries_whose_relevant_documents_were_training_positives(tmp_path):
    """Fine-tuning pairs from SciFact's train qrels (query, relevant document): how many test queries have a
    relevant document among the training positives, by normalised text, equals the count by document id."""
    from spacekit.compare.leakage import trained_targets
    from spacekit.io.beir import read_beir
    from spacekit.tasks.retrieval_result import relevant_texts

    folder = data_path("scifact")
    train = read_beir(folder, "train")
    text = dict(zip(train.corpus.ids, train.corpus.texts, strict=True))
    rows = [{"anchor": q, "positive": text[d]} for q, docs in
            zip(train.queries.texts, train.qrels.values(), strict=True) for d in docs]
    training = read_training(_jsonl(tmp_path / "scifact-train.jsonl", rows))
    assert len(training.positives) == 919
    test = read_beir(folder, "test")
    touched = trained_targets(relevant_texts(test), training.positives)
    train_docs = {d for docs in train.qrels.values() for d in docs}
    by_id = {q for q, docs in test.qrels.items() if set(docs) & train_docs}
    assert touched == by_id
    assert len(touched) == 196                                   # of the 300 test queries (the note cites it)
