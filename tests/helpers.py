"""Helpers the tests share (imported by name: tests/ is on sys.path under pytest): the shared datasets by path, a
tiny random model, STS-B sentences, paired-statistic cases, and the test tiers' state (tests/conftest.py sets it)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPACEKIT_DATA", ROOT.parent / "shared" / "data"))
TIER: dict[str, str | None] = {"now": None}   # the running test's tier (tests/conftest.py); None between tests


def data_path(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test when the data is not there (a real-tier test's only)."""
    if TIER["now"] == "unit":
        raise AssertionError("a unit-tier test reads the shared data: mark it @pytest.mark.real")
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found: {path}")
    return path


def tiny_bert(folder: Path, minilm: Path, net: str = "BertModel", *, seed: int = 0) -> Path:
    """A random 2-layer BERT (hidden 32) of the transformers class `net` (BertModel, BertForMaskedLM...) saved in
    folder with MiniLM's tokenizer files."""
    import torch
    import transformers

    torch.manual_seed(seed)
    cfg = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=128)
    getattr(transformers, net)(cfg).save_pretrained(folder)
    for name in ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
        if (minilm / name).exists():
            shutil.copy(minilm / name, folder / name)
    return folder


def make_tiny_model(folder: Path, minilm: Path, *, pooling: str = "mean", normalize: bool = True,
                    max_seq_length: int = 64, seed: int = 0, st_layout: bool = True) -> Path:
    """A random 2-layer BERT (hidden 32) with MiniLM's tokenizer, in sentence-transformers or plain layout."""
    import json

    import torch
    import transformers

    torch.manual_seed(seed)
    cfg = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=128)
    transformers.BertModel(cfg).save_pretrained(folder)
    for name in ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
        shutil.copy(minilm / name, folder / name)
    if not st_layout:
        return folder
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 32, "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": pooling == "max",
        "pooling_mode_mean_sqrt_len_tokens": False}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length,
                                                                  "do_lower_case": False}))
    return folder


def sts_sentences(split: str = "dev") -> list[str]:
    """Unique sentences of an STS-B split, in file order."""
    path = data_path("stsbenchmark", f"sts-{split}.csv")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        f = line.split("\t")
        out += [f[5], f[6]]
    return list(dict.fromkeys(out))


def paired_statistic_cases(n: int, seed: int) -> list[tuple]:
    """(before, after, statistic) for each kind of paired bootstrap: per-item values (mean), similarities against
    gold with ties (Spearman), cluster labels against gold (V-measure)."""
    import numpy as np

    from spacekit import stats

    rng = np.random.default_rng(seed)
    a = rng.random(n)
    b = np.clip(a + rng.normal(0.02, 0.1, n), 0, 1)
    gold = np.round(rng.random(n) * 5)
    return [(a, b, None), (a, b, stats.spearman_statistic(gold)),
            (rng.integers(0, 5, n), rng.integers(0, 5, n), stats.clustering_statistic(gold, "v"))]


def write_beir(folder: Path, corpus: str, queries: str, qrels: str) -> Path:
    """A BEIR folder of these corpus.jsonl, queries.jsonl and qrels/test.tsv texts."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text(corpus)
    (folder / "queries.jsonl").write_text(queries)
    (folder / "qrels" / "test.tsv").write_text(qrels)
    return folder


def random_beir(folder: Path, *, docs: int, queries: int, words: int, doc_words: int, query_words: int, seed: int,
                qrels) -> Path:
    """A BEIR folder of random word texts (w0 w17 ...): d0.. documents, q0.. queries, qrels(i) -> {doc: grade}."""
    import numpy as np

    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(words)]
    corpus = "".join(json.dumps({"_id": f"d{i}", "title": "", "text": " ".join(rng.choice(vocabulary, doc_words))})
                     + "\n" for i in range(docs))
    asked = "".join(json.dumps({"_id": f"q{i}", "text": " ".join(rng.choice(vocabulary, query_words))}) + "\n"
                    for i in range(queries))
    judged = "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\t{d}\t{g}\n" for i in range(queries)
                                                      for d, g in qrels(i).items())
    return write_beir(folder, corpus, asked, judged)


def hide_module(monkeypatch, module: str) -> None:
    """importlib.util.find_spec finds no `module` (an optional extra not installed)."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))


TINY_CORPUS = "".join(json.dumps({"_id": f"d{i}", "title": "T", "text": f"document {i}"}) + "\n" for i in range(6))
TINY_QUERIES = "".join(json.dumps({"_id": f"q{i}", "text": f"query {i}"}) + "\n" for i in range(3))


def invoke(*args):
    """`spacekit ARGS` in this process (click's runner), each argument as text."""
    from click.testing import CliRunner

    from spacekit.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_exit_2(result, message: str) -> None:
    """The bad-input contract: exit 2, the message in one line on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output


def labelled_csv(path: Path, n: int, labels: int = 3) -> Path:
    """A CSV of n texts (text, label) cycling through `labels` labels."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *[(f"text {i}", f"l{i % labels}") for i in range(n)]])
    return path
