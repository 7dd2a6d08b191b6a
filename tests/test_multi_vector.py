"""Multi-vector (late-interaction) models (issue 35): MultiVectorEncoder folders encoded by sentence-transformers per
role, token stores, exact MaxSim search equal to sentence-transformers' own scoring, the token budget, and a
compare of two such models end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import invoke, one_line_exit_2, random_beir, tiny_bert

from spacekit.embed import EncodeOptions, load_model
from spacekit.store.vectors import TokenVectors

QUERIES = ["hello world", "what is late interaction", "", "naïve café"]
DOCUMENTS = ["hello world", "a cat sat on the mat.", "late interaction scores every token " * 20, "x", "café"] * 4


def make_multi_vector(folder: Path, minilm: Path, *, seed: int = 0) -> Path:
    """A tiny random BERT with MiniLM's tokenizer saved by sentence-transformers as a MultiVectorEncoder (Dense to
    128 dimensions, Normalize; a query prompt)."""
    from sentence_transformers import MultiVectorEncoder

    hf = tiny_bert(folder / "hf", minilm, seed=seed)
    model = MultiVectorEncoder(str(hf), device="cpu", prompts={"query": "query: ", "document": ""})
    model.save(str(folder / "st"))
    return folder / "st"


@pytest.fixture(scope="module")
def multi_vector(tmp_path_factory, minilm_path) -> Path:
    return make_multi_vector(tmp_path_factory.mktemp("mv"), minilm_path)


def _listed(x: TokenVectors) -> list[torch.Tensor]:
    return [torch.from_numpy(x.row(i)) for i in range(x.shape[0])]


def test_token_vectors_and_maxsim_equal_multi_vector_encoder(multi_vector):
    from sentence_transformers import MultiVectorEncoder

    from spacekit.ops import topk
    from spacekit.ops.maxsim import maxsim_scores

    model = load_model(multi_vector)
    reference = MultiVectorEncoder(str(multi_vector), device="cpu")
    opts = EncodeOptions(use_cache=False)
    q = opts.embed(model, QUERIES, QUERIES, "query")
    d = opts.embed(model, DOCUMENTS, DOCUMENTS, "document")
    theirs_q, theirs_d = reference.encode_query(QUERIES), reference.encode_document(DOCUMENTS)
    assert isinstance(q, TokenVectors)
    assert q.shape == (len(QUERIES), 128)
    assert [len(x) for x in theirs_q] == q.lengths.tolist()
    assert [len(x) for x in theirs_d] == d.lengths.tolist()
    for i, x in enumerate(theirs_q):
        np.testing.assert_allclose(q.row(i), x.numpy(), rtol=0, atol=1e-6)
    ours = maxsim_scores(q, d).numpy()
    theirs = reference.similarity(_listed(q), _listed(d)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    scores, idx = topk(q, d, 7)                                  # ties (repeated documents) by lower index
    s32 = ours.astype(np.float32)
    order = np.lexsort((np.broadcast_to(np.arange(s32.shape[1]), s32.shape), -s32), axis=1)[:, :7]
    assert np.array_equal(idx.numpy(), order)
    np.testing.assert_allclose(scores.numpy(), np.take_along_axis(s32, order, 1), rtol=0, atol=1e-6)


def test_maxsim_blocks_agree_with_a_plain_loop(monkeypatch):
    """Whatever the block sizes, every (query, document) score is the sum of per-token maxima (float64 loop)."""
    from spacekit.ops import maxsim

    rng = np.random.default_rng(0)
    def tokens(lengths):
        return TokenVectors(rng.normal(size=(int(sum(lengths)), 8)).astype(np.float32),
                            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
    q, d = tokens(rng.integers(1, 6, 9)), tokens([*rng.integers(1, 30, 40), 0])
    expected = np.array([[sum(max((q.row(i)[a].astype(np.float64) @ d.row(j)[b].astype(np.float64))
                                  for b in range(d.lengths[j])) for a in range(q.lengths[i])) if d.lengths[j] else 0.0
                          for j in range(d.shape[0])] for i in range(q.shape[0])])
    for cells, scores in ((1 << 24, 1 << 23), (64, 16)):
        monkeypatch.setattr(maxsim, "CELLS", cells)
        monkeypatch.setattr(maxsim, "SCORES", scores)
        np.testing.assert_allclose(maxsim.maxsim_scores(q, d).numpy(), expected, rtol=0, atol=1e-5)


def test_token_store_round_trip_and_text_cache(multi_vector, tmp_path, monkeypatch):
    from spacekit.store.read import open_store, verify_store
    from spacekit.store.write import write_store

    model = load_model(multi_vector).for_role("document")
    x = model.encode(DOCUMENTS)
    ids = [f"d{i}" for i in range(len(DOCUMENTS))]
    write_store(tmp_path / "s", ids, lambda lo, hi: x[lo:hi], dim=128, key={"k": 1}, shard_rows=6, layout="tokens")
    got_ids, got = open_store(tmp_path / "s").load()
    assert got_ids == ids
    assert np.array_equal(got.values, x.values)
    assert np.array_equal(got.offsets, x.offsets)
    assert verify_store(tmp_path / "s") == []
    opts = EncodeOptions(cache_dir=str(tmp_path / "cache"))
    full = load_model(multi_vector)
    first = opts.embed(full, DOCUMENTS[:5], DOCUMENTS[:5], "document")
    calls = []
    real = type(full).encode
    monkeypatch.setattr(type(full), "encode", lambda self, texts, **kw: calls.append(len(texts)) or real(self, texts,
                                                                                                          **kw))
    again = opts.embed(full, DOCUMENTS, DOCUMENTS, "document")    # five distinct texts, all cached
    assert calls == []
    assert np.array_equal(again[:5].values, first.values)
    opts.embed(full, DOCUMENTS[:5], DOCUMENTS[:5], "query")           # another role: its own cache entry
    assert calls == [5]


def test_two_multi_vector_models_compare_end_to_end_and_the_token_budget_holds(multi_vector, tmp_path, minilm_path):
    after = make_multi_vector(tmp_path / "after", minilm_path, seed=1)
    folder = random_beir(tmp_path / "beir", docs=120, queries=24, words=80, doc_words=20, query_words=4, seed=5,
                         qrels=lambda i: {f"d{i}": 1, f"d{i + 50}": 2})
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "search"\nkind = "retrieval"\ndata = "{folder}"\nmetrics = ["ndcg@10"]\n')
    train = tmp_path / "train.jsonl"                 # a query of the task is a training anchor: a leak
    query = json.loads((folder / "queries.jsonl").read_text().splitlines()[0])["text"]
    train.write_text(json.dumps({"anchor": query, "positive": "w1 w2"}) + "\n")
    result = invoke("compare", multi_vector, after, "--suite", suite, "-o", tmp_path / "r", "--json",
                    "--resamples", "500", "--train", train)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["leakage"]["tasks"]["search"]["total"] >= 1            # mean token vectors searched
    (search,) = report["tasks"]
    cell = search["metrics"]["ndcg@10"]
    assert cell["ci_low"] <= cell["delta"] <= cell["ci_high"]
    assert cell["before"] != cell["after"]
    assert report["drift"]["note"].startswith("not measured")
    assert report["models"]["before"]["similarity"] == "maxsim"
    assert "token store: 120 documents" in result.stderr
    tight = tmp_path / "tight.toml"
    tight.write_text(suite.read_text() + "token_budget = 0.001\n")
    one_line_exit_2(invoke("compare", multi_vector, after, "--suite", tight, "-o", tmp_path / "r2"),
                    "over the token budget")
    assert not (tmp_path / "r2").exists()
    sts = tmp_path / "sts.tsv"
    sts.write_text("sentence1\tsentence2\tscore\n" + "".join(f"w{i}\tw{i + 1}\t{i % 5}\n" for i in range(8)))
    one_line_exit_2(invoke("eval", "sts", multi_vector, sts), "takes dense or sparse vectors only")
