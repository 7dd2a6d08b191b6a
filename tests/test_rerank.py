"""Rerankers (issue 33): a cross-encoder scores pairs exactly as sentence-transformers' CrossEncoder.predict does,
in every layout it saves, and a retrieval task reranks both models' first stages with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import invoke, one_line_exit_2, random_beir

from spacekit.embed.cross_encoder import load_cross_encoder

PAIRS = [("what is a cat", "a cat is a small domesticated carnivorous mammal"), ("x", "y z"),
         ("a much longer query about the evaluation of rerankers " * 4, "short"),
         ("q", "a document that is long enough to be cut at the max length " * 20), ("", "empty query")]


def make_cross_encoder(folder: Path, minilm: Path, *, seed: int = 0, layout: str = "st", max_length: int = 48,
                       activation: str | None = None) -> Path:
    """A tiny random BERT cross-encoder (one label) with MiniLM's tokenizer: saved by sentence-transformers (st),
    or as a plain Hugging Face folder with the v4 config key (hf)."""
    import torch
    import transformers

    torch.manual_seed(seed)
    cfg = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=128, num_labels=1)
    hf = folder / "hf" if layout == "st" else folder
    transformers.BertForSequenceClassification(cfg).save_pretrained(hf)
    for name in ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
        if (minilm / name).exists():
            shutil.copy(minilm / name, hf / name)
    if layout == "hf":
        config = json.loads((hf / "config.json").read_text())
        if activation:
            config["sentence_transformers"] = {"activation_fn": activation}
        (hf / "config.json").write_text(json.dumps(config))
        tok = json.loads((hf / "tokenizer_config.json").read_text())
        (hf / "tokenizer_config.json").write_text(json.dumps({**tok, "model_max_length": max_length}))
        return hf
    from sentence_transformers import CrossEncoder

    kwargs = {"activation_fn": _torch_activation(activation)} if activation else {}
    CrossEncoder(str(hf), max_length=max_length, **kwargs).save(str(folder / "st"))
    return folder / "st"


def _torch_activation(path: str):
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)()


@pytest.mark.parametrize(("layout", "activation"), [("st", None), ("st", "torch.nn.modules.linear.Identity"),
                                                    ("hf", None), ("hf", "torch.nn.modules.activation.Tanh")])
def test_scores_equal_cross_encoder_predict(tmp_path, minilm_path, layout, activation):
    from sentence_transformers import CrossEncoder

    folder = make_cross_encoder(tmp_path / "ce", minilm_path, layout=layout, activation=activation)
    theirs = CrossEncoder(str(folder), device="cpu").predict(PAIRS, batch_size=2)
    ours = load_cross_encoder(folder).score([q for q, _ in PAIRS], [d for _, d in PAIRS])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    assert len(set(np.round(ours, 7))) == len(PAIRS)               # distinct pairs, distinct scores
    if activation is None:
        assert ((ours > 0) & (ours < 1)).all()                      # Sigmoid by default


def test_each_pair_is_scored_once(tmp_path, minilm_path, monkeypatch):
    model = load_cross_encoder(make_cross_encoder(tmp_path / "ce", minilm_path))
    model.scored.clear()
    calls = []
    real = model._predict
    monkeypatch.setattr(model, "_predict", lambda q, d, p: calls.append(len(q)) or real(q, d, p))
    first = model.score(["a", "b", "a"], ["d1", "d2", "d1"])
    again = model.score(["b", "c"], ["d2", "d3"])
    assert calls == [2, 1]
    assert first[0] == first[2]
    assert again[0] == first[1]


def test_a_folder_that_is_no_reranker_is_one_line(tmp_path, tiny_model, minilm_path):
    with pytest.raises(Exception, match="not a cross-encoder"):
        load_cross_encoder(tiny_model)
    folder = make_cross_encoder(tmp_path / "ce", minilm_path, layout="hf")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "sentence_transformers": {"activation_fn":
                                                                                          "mypackage.Evil"}}))
    with pytest.raises(Exception, match=r"activation 'mypackage\.Evil' is not one of torch's"):
        load_cross_encoder(folder)


def _folder(tmp_path):
    return random_beir(tmp_path / "beir", docs=120, queries=25, words=30, doc_words=6, query_words=3, seed=5,
                       qrels=lambda i: {f"d{(11 * i) % 120}": 1, f"d{(5 * i + 1) % 120}": 2})


def test_a_reranked_task_scores_the_first_stage_reranked_by_cross_encoder_predict(tmp_path, tiny_model,
                                                                                  minilm_path):
    """The reranked metrics equal an independent computation: the task's own first stage (--run-out), its top 20
    scored by sentence-transformers' CrossEncoder.predict, ranked by that score, scored by pytrec_eval."""
    import pytrec_eval
    from sentence_transformers import CrossEncoder

    from spacekit.io.beir import read_beir
    from spacekit.io.trec import read_run

    folder, ce = _folder(tmp_path), make_cross_encoder(tmp_path / "ce", minilm_path)
    run_file = tmp_path / "dense.trec"
    r = invoke("eval", "retrieval", tiny_model, folder, "--rerank", ce, "--rerank-depth", "20", "--json",
               "--run-out", run_file, "--device", "cpu")
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.stdout)["metrics"]
    data = read_beir(folder, "test")
    text = dict(zip(data.corpus.ids, data.corpus.texts, strict=True))
    query = dict(zip(data.queries.ids, data.queries.texts, strict=True))
    dense = read_run(run_file)
    predictor = CrossEncoder(str(ce), device="cpu")
    reranked = {}
    for q, docs in dense.items():
        top = sorted(docs, key=lambda d: -docs[d])[:20]
        scores = predictor.predict([(query[q], text[d]) for d in top])
        reranked[q] = {d: float(s) for d, s in zip(top, scores, strict=True)}
    want = pytrec_eval.RelevanceEvaluator(data.qrels, {"ndcg_cut.10"}).evaluate(reranked)
    assert metrics["ndcg@10/rerank"] == pytest.approx(np.mean([m["ndcg_cut_10"] for m in want.values()]), abs=1e-6)
    assert metrics["ndcg@10/rerank"] != metrics["ndcg@10"]


def test_a_reranked_suite_task_tests_the_reranked_run_first_and_each_model_may_have_its_own(tmp_path, tiny_model,
                                                                                            minilm_path):
    from spacekit.compare.suite import read_suite

    folder = _folder(tmp_path)
    ce = make_cross_encoder(tmp_path / "ce", minilm_path)
    ce2 = make_cross_encoder(tmp_path / "ce2", minilm_path, seed=1)
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "r"\nkind = "retrieval"\ndata = "{folder}"\nrerank = "{ce}"\n'
                     f'rerank_after = "{ce2}"\nrerank_depth = 20\n')
    spec = read_suite(suite)[0]
    assert spec.metrics[:2] == ["ndcg@10/rerank", "ndcg@10"]
    r = invoke("compare", tiny_model, tiny_model, "--suite", suite, "-o", tmp_path / "out", "--json",
               "--resamples", "200")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    task = report["tasks"][0]
    assert task["main_metric"] == "ndcg@10/rerank"
    first, reranked = task["all_metrics"]["before"], task["all_metrics"]["after"]
    assert first["ndcg@10"] == reranked["ndcg@10"]                # one embedder: the same first stage
    assert first["ndcg@10/rerank"] != reranked["ndcg@10/rerank"]  # two rerankers
    assert set(report["provenance"]["rerankers"]) == {str(ce), str(ce2)}


def test_reranker_inputs_are_checked_before_anything_is_encoded(tmp_path, tiny_model, minilm_path):
    folder = _folder(tmp_path)
    one_line_exit_2(invoke("eval", "retrieval", tiny_model, folder, "--rerank", tiny_model),
                    "not a cross-encoder (config.json's architectures")
    one_line_exit_2(invoke("eval", "retrieval", tiny_model, folder, "--rerank", tmp_path / "nowhere"),
                    "model not found")
    ce = make_cross_encoder(tmp_path / "ce", minilm_path)
    one_line_exit_2(invoke("eval", "retrieval", tiny_model, folder, "--rerank", ce, "--rerank-depth", "0"),
                    "retrieval rerank_depth must be an integer between 1 and 10,000, got 0")
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "r"\nkind = "retrieval"\ndata = "{folder}"\nrerank_after = "{ce}"\n')
    one_line_exit_2(invoke("compare", tiny_model, tiny_model, "--suite", suite, "-o", tmp_path / "out"),
                    "rerank_after needs rerank (the before model's reranker)")


@pytest.mark.real
def test_scifact_reranked_end_to_end_keeps_the_first_stage_set(tmp_path, minilm_path):
    """SciFact, MiniLM's first stage reranked to depth 100 by a tiny random cross-encoder: the dense rows are MTEB's
    published ones, the reranked rows are there, and recall@100 is unchanged (the same 100 documents, reordered)."""
    from helpers import data_path

    ce = make_cross_encoder(tmp_path / "ce", minilm_path)
    r = invoke("eval", "retrieval", "builtin:minilm", data_path("scifact"), "--rerank", ce, "--json", "--device",
               "cpu")
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)["metrics"]
    assert m["ndcg@10"] == pytest.approx(0.64508, abs=5e-5)
    assert m["recall@100/rerank"] == pytest.approx(m["recall@100"], abs=1e-12)
    assert m["ndcg@10/rerank"] < m["ndcg@10"] - 0.1             # a random reranker scrambles the top 10


def test_the_issue_style_tables_spread_into_the_flat_keys(tmp_path, minilm_path):
    from spacekit.compare.suite import read_suite

    folder = _folder(tmp_path)
    make_cross_encoder(tmp_path / "ce", minilm_path)
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "r"\nkind = "retrieval"\ndata = "{folder}"\n'
                     'hybrid = {lexical = "bm25", fusion = "weighted", weight = 0.3, k = 10}\n'
                     'rerank = {model = "ce/st", depth = 20}\n')
    task = read_suite(suite)[0].build()
    assert (task.hybrid, task.hybrid_weight, task.rrf_k) == ("weighted", 0.3, 10)
    assert (task.rerank, task.rerank_depth) == (str(tmp_path / "ce" / "st"), 20)   # relative to the suite file
    suite.write_text(f'[[task]]\nname = "r"\nkind = "retrieval"\ndata = "{folder}"\nrerank = {{modell = "x"}}\n')
    with pytest.raises(Exception, match=r"task 1 \(r\): rerank: unknown key 'modell' \(it takes model, depth"):
        read_suite(suite)
    suite.write_text(f'[[task]]\nname = "r"\nkind = "retrieval"\ndata = "{folder}"\nhybrid = {{lexical = "tfidf"}}\n')
    with pytest.raises(Exception, match="hybrid lexical must be 'bm25', got 'tfidf'"):
        read_suite(suite)


def test_two_rerankers_compare_over_one_first_stage(tmp_path, minilm_path, tiny_model):
    """compare RERANKER RERANKER: each retrieval task's first stage (a model) reranked by each; the main metric is
    the reranked run's, the first stage's own run is the same on both sides."""
    from helpers import random_beir

    before = make_cross_encoder(tmp_path / "ce1", minilm_path, seed=1)
    after = make_cross_encoder(tmp_path / "ce2", minilm_path, seed=2)
    folder = random_beir(tmp_path / "beir", docs=60, queries=16, words=40, doc_words=12, query_words=3, seed=2,
                         qrels=lambda i: {f"d{i}": 1})
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "search"\nkind = "retrieval"\ndata = "{folder}"\nmetrics = ["ndcg@10"]\n'
                     f'first_stage = "{tiny_model}"\nrerank_depth = 20\n')
    result = invoke("compare", before, after, "--suite", suite, "-o", tmp_path / "r", "--json", "--resamples", "500")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (task,) = report["tasks"]
    assert task["main_metric"] == "ndcg@10/rerank"
    reranked, dense = task["metrics"]["ndcg@10/rerank"], task["all_metrics"]
    assert reranked["before"] != reranked["after"]
    assert dense["before"]["ndcg@10"] == dense["after"]["ndcg@10"]          # one first stage, searched once
    assert report["models"]["before"]["reranker"] == str(before)
    assert report["models"]["after"]["first_stage"] == str(tiny_model)
    assert report["models"]["differences"][0]["setting"] == "reranker"
    assert set(report["provenance"]["rerankers"]) == {str(before), str(after)}

    run = tmp_path / "first.trec"                                  # a TREC run file as the first stage
    run.write_text("".join(f"q{q} Q0 d{(q + j) % 60} {j + 1} {1.0 - j / 100:.2f} bm25\n" for q in range(16)
                           for j in range(25)))
    by_run = tmp_path / "by_run.toml"
    by_run.write_text(suite.read_text().replace(f'first_stage = "{tiny_model}"', 'first_stage = "first.trec"'))
    result = invoke("compare", before, after, "--suite", by_run, "-o", tmp_path / "r2", "--json",
                    "--resamples", "500")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (task,) = report["tasks"]
    assert task["main_metric"] == "ndcg@10/rerank"
    assert task["all_metrics"]["before"]["ndcg@10"] == pytest.approx(1 / np.log2(2))   # d{q} ranked first
    assert task["all_metrics"]["after"]["ndcg@10"] == task["all_metrics"]["before"]["ndcg@10"]
    assert task["metrics"]["ndcg@10/rerank"]["before"] != task["metrics"]["ndcg@10/rerank"]["after"]
    assert report["models"]["before"]["first_stage"] == str(run)
    run.write_text(run.read_text() + "q0 Q0 nowhere 26 0.1 bm25\n")
    one_line_exit_2(invoke("compare", before, after, "--suite", by_run, "-o", tmp_path / "x"),
                    "document 'nowhere' (query 'q0') is not in the corpus")

    one_line_exit_2(invoke("compare", before, tiny_model, "--suite", suite, "-o", tmp_path / "x"),
                    "is a cross-encoder (reranker) and the other model is not")
    plain = tmp_path / "plain.toml"
    plain.write_text(f'[[task]]\nname = "search"\nkind = "retrieval"\ndata = "{folder}"\n')
    one_line_exit_2(invoke("compare", before, after, "--suite", plain, "-o", tmp_path / "x"), "needs first_stage")
    one_line_exit_2(invoke("compare", tiny_model, tiny_model, "--suite", suite, "-o", tmp_path / "x"),
                    "first_stage is for comparing two rerankers")
    one_line_exit_2(invoke("compare", before, after, "--suite", suite, "-o", tmp_path / "x", "--mteb-out",
                           tmp_path / "mteb"), "two rerankers compared over a first stage are not written")
    assert not (tmp_path / "x").exists()
