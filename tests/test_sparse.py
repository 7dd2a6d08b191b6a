"""Sparse encoders (issue 35): SparseEncoder folders encoded exactly as sentence-transformers encodes them, CSR
stores, exact sparse top-k equal to dense brute force, sparsity statistics equal to sentence-transformers'
evaluator, and a one-step fine-tune compared end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from helpers import invoke, one_line_exit_2, random_beir, tiny_bert

from spacekit.embed import load_model

TEXTS = ["hello world", "a cat sat on the mat", "", "a much longer text that is cut at the max length " * 12,
         "What is SPLADE?", "naïve café — ünïcode"]


def make_sparse_encoder(folder: Path, minilm: Path, *, pooling: str = "max", activation: str = "relu",
                        max_active_dims: int | None = 64, seed: int = 0) -> Path:
    """A tiny random BERT masked-language model with MiniLM's tokenizer, saved by sentence-transformers as a
    SparseEncoder (fill-mask Transformer + SpladePooling), with prompts for queries."""
    from sentence_transformers import SparseEncoder
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sparse_encoder.modules import SpladePooling

    hf = tiny_bert(folder / "hf", minilm, "BertForMaskedLM", seed=seed)
    model = SparseEncoder(modules=[Transformer(str(hf), transformer_task="fill-mask", max_seq_length=48),
                                   SpladePooling(pooling, activation_function=activation)],
                          max_active_dims=max_active_dims, prompts={"query": "query: ", "document": ""},
                          device="cpu")
    model.save(str(folder / "st"))
    return folder / "st"


@pytest.fixture(scope="module")
def sparse_model(tmp_path_factory, minilm_path) -> Path:
    return make_sparse_encoder(tmp_path_factory.mktemp("sparse"), minilm_path)


@pytest.mark.parametrize(("pooling", "activation", "max_active_dims"),
                         [("max", "relu", None), ("sum", "relu", 64), ("max", "log1p_relu", 16)])
def test_vectors_equal_sparse_encoder_encode(tmp_path, minilm_path, pooling, activation, max_active_dims):
    from sentence_transformers import SparseEncoder

    folder = make_sparse_encoder(tmp_path, minilm_path, pooling=pooling, activation=activation,
                                 max_active_dims=max_active_dims)
    model = load_model(folder)
    reference = SparseEncoder(str(folder), device="cpu")
    for role, encode in (("document", reference.encode_document), ("query", reference.encode_query)):
        ours = model.encode(TEXTS, prompt=model.prompt_for(role), progress=False)
        theirs = encode(TEXTS).to_dense().numpy()
        assert sp.issparse(ours)
        assert ours.shape == (len(TEXTS), 30522)
        assert np.array_equal(ours.toarray() != 0, theirs != 0)                  # the same active dimensions
        np.testing.assert_allclose(ours.toarray(), theirs, rtol=0, atol=1e-5)
        if max_active_dims is not None:
            assert np.diff(ours.indptr).max() <= max_active_dims
    assert model.config.similarity == "dot"
    assert model.describe()["max_active_dims"] == max_active_dims


def _reference_topk(q: np.ndarray, d: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Dense brute force in float64, rounded to float32, equal scores by lower index."""
    q, d = q.astype(np.float64), d.astype(np.float64)
    if metric == "cosine":
        q = q / np.where(np.linalg.norm(q, axis=1, keepdims=True) > 0, np.linalg.norm(q, axis=1, keepdims=True), 1)
        d = d / np.where(np.linalg.norm(d, axis=1, keepdims=True) > 0, np.linalg.norm(d, axis=1, keepdims=True), 1)
    s = (q @ d.T).astype(np.float32)
    order = np.lexsort((np.broadcast_to(np.arange(s.shape[1]), s.shape), -s), axis=1)[:, :k]
    return np.take_along_axis(s, order, 1), order


@pytest.mark.parametrize("route", ["sparse", "densified"])
@pytest.mark.parametrize("metric", ["dot", "cosine"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_topk_equals_dense_brute_force(metric, seed, route, monkeypatch):
    from spacekit.ops import sparse as sparse_ops
    from spacekit.ops import topk
    from spacekit.ops.sparse import _scipy_scorer, _torch_scorer, as_csr

    if route == "densified":                    # a barely sparse corpus: BLAS over chunks of 104 documents
        monkeypatch.setattr(sparse_ops, "DENSE_SHARE", 0.0)
        monkeypatch.setattr(sparse_ops, "DENSE_CHUNK", 8 * 500 * 104)

    q = sp.random(40, 500, density=0.04, random_state=seed, format="csr", dtype=np.float32)
    d = sp.random(3000, 500, density=0.02, random_state=seed + 10, format="csr", dtype=np.float32)
    q.data, d.data = np.round(q.data * 4) / 4, np.round(d.data * 4) / 4      # many equal scores: ties by index
    d = sp.vstack([d[:7], sp.csr_matrix((1, 500), dtype=np.float32), d[8:]], format="csr")   # an empty document
    for k in (1, 10, 100):
        scores, idx = topk(q, d, k, metric=metric)
        ref_scores, ref_idx = _reference_topk(q.toarray(), d.toarray(), k, metric)
        assert np.array_equal(idx.numpy(), ref_idx)
        np.testing.assert_allclose(scores.numpy(), ref_scores, rtol=0, atol=1e-6)
    corpus = as_csr(d, "corpus")                               # the GPU route's product, run on the CPU here
    block = as_csr(q, "queries")
    assert torch.equal(_torch_scorer(corpus, torch.device("cpu"))(block), _scipy_scorer(corpus)(block))


def test_sparse_store_round_trip_and_checks(tmp_path):
    from spacekit.errors import StoreError
    from spacekit.store.read import open_store, verify_store
    from spacekit.store.write import write_store

    x = sp.random(23, 1000, density=0.01, random_state=0, format="csr", dtype=np.float32)
    ids = [f"t{i}" for i in range(23)]
    store = write_store(tmp_path / "s", ids, lambda lo, hi: x[lo:hi], dim=1000, key={"k": 1}, shard_rows=10,
                        layout="csr")
    assert store.manifest["layout"] == "csr"
    assert len(store.manifest["shards"]) == 3
    got_ids, got = open_store(tmp_path / "s").load()
    assert got_ids == ids
    assert sp.issparse(got)
    assert (got != x).nnz == 0
    assert verify_store(tmp_path / "s") == []
    assert (open_store(tmp_path / "s").lookup(["t5", "t0"]) != x[[5, 0]]).nnz == 0
    bad = x.copy()
    bad.data[3] = np.nan
    with pytest.raises(StoreError, match="NaN or inf"):
        write_store(tmp_path / "bad", ids, lambda lo, hi: bad[lo:hi], dim=1000, key={"k": 1}, layout="csr")
    assert not (tmp_path / "bad").exists()


def test_sparse_vectors_go_through_the_text_cache(sparse_model, tmp_path, monkeypatch):
    from spacekit.embed import EncodeOptions

    model = load_model(sparse_model)
    opts = EncodeOptions(cache_dir=str(tmp_path / "cache"))
    first = opts.embed(model, TEXTS[:3], TEXTS[:3])
    calls = []
    real = model.encode
    monkeypatch.setattr(model, "encode", lambda texts, **kw: calls.append(len(texts)) or real(texts, **kw))
    again = opts.embed(model, TEXTS, TEXTS)                    # three cached, three new: only the new encoded
    assert calls == [3]
    assert (again[:3] != first).nnz == 0                        # read back exactly as written
    fresh = model.encode(TEXTS, progress=False)                # batched otherwise: equal to float rounding
    np.testing.assert_allclose(again.toarray(), fresh.toarray(), rtol=0, atol=1e-5)


def test_sparsity_equals_sentence_transformers_evaluator(sparse_model, tmp_path):
    from sentence_transformers import SparseEncoder
    from sentence_transformers.sparse_encoder.evaluation import SparseInformationRetrievalEvaluator

    folder = random_beir(tmp_path / "beir", docs=80, queries=12, words=60, doc_words=20, query_words=4, seed=3,
                         qrels=lambda i: {f"d{i}": 1})
    result = invoke("eval", "retrieval", sparse_model, folder, "--json", "--no-cache")
    assert result.exit_code == 0, result.output
    ours = json.loads(result.stdout)["sparsity"]
    corpus = {json.loads(x)["_id"]: json.loads(x)["text"] for x in (folder / "corpus.jsonl").read_text().splitlines()}
    queries = {json.loads(x)["_id"]: json.loads(x)["text"] for x in (folder / "queries.jsonl").read_text().splitlines()}
    evaluator = SparseInformationRetrievalEvaluator(queries, corpus, {f"q{i}": {f"d{i}"} for i in range(12)},
                                                    name="t", batch_size=16)
    theirs = evaluator(SparseEncoder(str(sparse_model), device="cpu"))
    for key in ("query_active_dims", "query_sparsity_ratio", "corpus_active_dims", "corpus_sparsity_ratio",
                "avg_flops"):
        assert ours[key] == pytest.approx(theirs[f"t_{key}"], rel=1e-6), key
    assert json.loads(result.stdout)["similarity"] == "dot"


def _fine_tune_one_step(before: Path, out: Path) -> Path:
    """One SpladeLoss step of sentence-transformers' trainer on 16 pairs, saved to out."""
    from datasets import Dataset
    from sentence_transformers import SparseEncoder, SparseEncoderTrainer, SparseEncoderTrainingArguments
    from sentence_transformers.sparse_encoder.losses import SparseMultipleNegativesRankingLoss, SpladeLoss

    torch.manual_seed(0)
    model = SparseEncoder(str(before), device="cpu")
    pairs = Dataset.from_dict({"anchor": [f"w{i} w{i + 1}" for i in range(16)],
                               "positive": [f"w{i} w{i + 1} w{i + 2} w{i + 3}" for i in range(16)]})
    loss = SpladeLoss(model, SparseMultipleNegativesRankingLoss(model), query_regularizer_weight=5e-5,
                      document_regularizer_weight=3e-5)
    args = SparseEncoderTrainingArguments(output_dir=str(out / "run"), max_steps=1, per_device_train_batch_size=16,
                                          learning_rate=1e-3, report_to=[], save_strategy="no", use_cpu=True, seed=0)
    SparseEncoderTrainer(model=model, args=args, train_dataset=pairs, loss=loss).train()
    model.save(str(out / "after"))
    return out / "after"


def test_a_fine_tuned_sparse_encoder_compares_end_to_end(sparse_model, tmp_path):
    after = _fine_tune_one_step(sparse_model, tmp_path)
    folder = random_beir(tmp_path / "beir", docs=150, queries=30, words=80, doc_words=20, query_words=4, seed=5,
                         qrels=lambda i: {f"d{i}": 1, f"d{i + 60}": 2})
    sts = tmp_path / "sts.tsv"
    sts.write_text("sentence1\tsentence2\tscore\n" + "".join(f"w{i} w{i + 1}\tw{i} w{i + 2}\t{i % 5}\n"
                                                             for i in range(30)))
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "search"\nkind = "retrieval"\ndata = "{folder}"\nmetrics = ["ndcg@10"]\n\n'
                     f'[[task]]\nname = "similar"\nkind = "sts"\ndata = "{sts}"\nmetrics = ["spearman"]\n')
    queries = [json.loads(x)["text"] for x in (folder / "queries.jsonl").read_text().splitlines()]
    train = tmp_path / "train.jsonl"                 # two of the task's queries are training anchors: leaks
    train.write_text("".join(json.dumps({"anchor": q, "positive": "w1 w2"}) + "\n" for q in queries[:2]))
    result = invoke("compare", sparse_model, after, "--suite", suite, "-o", tmp_path / "r", "--json",
                    "--resamples", "500", "--train", train)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["leakage"]["tasks"]["search"]["total"] >= 1            # sparse cosine near-duplicates searched
    search, similar = report["tasks"]
    for side in ("before", "after"):
        assert search["sparsity"][side]["query_active_dims"] <= 64
        assert search["sparsity"][side]["avg_flops"] > 0
    assert "sparsity" not in similar
    assert report["drift"]["note"].startswith("not measured")
    metrics = search["metrics"]["ndcg@10"]
    assert metrics["ci_low"] <= metrics["delta"] <= metrics["ci_high"]
    assert "Sparsity" in (tmp_path / "r" / "report.md").read_text()
    assert "<h2>Sparsity</h2>" in (tmp_path / "r" / "index.html").read_text()
    assert "sparsity, search: active dimensions per query" in result.stderr


def test_what_a_sparse_encoder_cannot_do_is_refused_in_one_line(sparse_model, tmp_path, minilm_path):
    folder = random_beir(tmp_path / "beir", docs=20, queries=4, words=20, doc_words=5, query_words=2, seed=1,
                         qrels=lambda i: {f"d{i}": 1})
    one_line_exit_2(invoke("eval", "retrieval", sparse_model, folder, "--dims", "8"), "takes no dims")
    texts = tmp_path / "labelled.csv"
    texts.write_text("text,label\n" + "".join(f"t{i},l{i % 2}\n" for i in range(10)))
    one_line_exit_2(invoke("eval", "clustering", sparse_model, texts), "takes dense vectors only")
    one_line_exit_2(invoke("eval", "pair-classification", sparse_model, texts), "takes dense vectors only")
    odd = tmp_path / "odd"
    shutil.copytree(sparse_model, odd)
    modules = json.loads((odd / "modules.json").read_text())
    modules[1]["type"] = "sentence_transformers.sparse_encoder.modules.sparse_auto_encoder.SparseAutoEncoder"
    (odd / "modules.json").write_text(json.dumps(modules))
    one_line_exit_2(invoke("eval", "retrieval", odd, folder), "is not supported in a sparse model")


def test_a_routed_sparse_encoder_encodes_queries_and_documents_as_sentence_transformers(tmp_path, minilm_path):
    """Inference-free SPLADE: static token weights for queries, the MLM + SpladePooling for documents (a Router);
    each role's vectors equal SparseEncoder.encode_query / encode_document, and retrieval runs on them."""
    from sentence_transformers import SparseEncoder
    from sentence_transformers.base.modules import Router, Transformer
    from sentence_transformers.sparse_encoder.modules import SparseStaticEmbedding, SpladePooling
    from transformers import AutoTokenizer

    from spacekit.embed import EncodeOptions

    plain = make_sparse_encoder(tmp_path / "plain", minilm_path)
    hf = plain.parent / "hf"
    torch.manual_seed(3)
    tokenizer = AutoTokenizer.from_pretrained(hf)
    router = Router.for_query_document(
        query_modules=[SparseStaticEmbedding(tokenizer=tokenizer, weight=torch.rand(len(tokenizer.get_vocab())),
                                             frozen=True)],
        document_modules=[Transformer(str(hf), transformer_task="fill-mask", max_seq_length=48),
                          SpladePooling("max")])
    SparseEncoder(modules=[router], similarity_fn_name="dot", device="cpu").save(str(tmp_path / "routed"))
    model = load_model(tmp_path / "routed")
    reference = SparseEncoder(str(tmp_path / "routed"), device="cpu")
    opts = EncodeOptions(use_cache=False)
    for role, encode in (("query", reference.encode_query), ("document", reference.encode_document)):
        ours = opts.embed(model, TEXTS, TEXTS, role)
        np.testing.assert_allclose(ours.toarray(), encode(TEXTS).to_dense().numpy(), rtol=0, atol=1e-6)
    assert np.diff(opts.embed(model, TEXTS, TEXTS, "query").indptr).max() <= 30      # a query: its own tokens
    folder = random_beir(tmp_path / "beir", docs=30, queries=6, words=30, doc_words=8, query_words=3, seed=4,
                         qrels=lambda i: {f"d{i}": 1})
    result = invoke("eval", "retrieval", tmp_path / "routed", folder, "--json", "--no-cache")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sparsity"]["query_active_dims"] <= 12             # three words, their tokens


def test_a_sparse_store_stands_for_its_model(sparse_model, tmp_path):
    """`spacekit embed` writes a sparse encoder's vectors as a csr store; `store:DIR` then evaluates as the model
    does (the same vectors, so the same metrics and sparsity)."""
    folder = random_beir(tmp_path / "beir", docs=40, queries=8, words=30, doc_words=8, query_words=3, seed=6,
                         qrels=lambda i: {f"d{i}": 1})
    rows = [json.loads(x) for x in (folder / "corpus.jsonl").read_text().splitlines()]
    rows += [json.loads(x) for x in (folder / "queries.jsonl").read_text().splitlines()]
    texts = tmp_path / "texts.jsonl"
    texts.write_text("".join(json.dumps({"id": r["_id"], "text": r["text"]}) + "\n" for r in rows))
    assert invoke("embed", sparse_model, texts, "-o", tmp_path / "store").exit_code == 0
    assert json.loads((tmp_path / "store" / "manifest.json").read_text())["layout"] == "csr"
    by_store = invoke("eval", "retrieval", f"store:{tmp_path / 'store'}", folder, "--json")
    by_model = invoke("eval", "retrieval", sparse_model, folder, "--json", "--query-prompt", "", "--no-cache")
    assert by_store.exit_code == 0, by_store.output
    store_out, model_out = json.loads(by_store.stdout), json.loads(by_model.stdout)
    # the same vectors up to float rounding (encoded in other batches): near-tied documents may swap
    assert store_out["metrics"] == pytest.approx(model_out["metrics"], abs=0.01)
    assert store_out["sparsity"] == pytest.approx(model_out["sparsity"], rel=1e-3)


def test_classification_on_sparse_vectors_equals_the_dense_probe(sparse_model, tmp_path):
    """A sparse encoder's classification: logistic regression on its CSR rows, as on the same rows densified."""
    from spacekit.embed import EncodeOptions
    from spacekit.metrics.classification import ClassificationProtocol, linear_probe

    words = ["cat", "dog", "fish", "bird"]
    train = [(f"{w} {w} number {i}", w) for i in range(12) for w in words]
    test = [(f"a {w} and {i}", w) for i in range(5) for w in words]
    for name, rows in (("train", train), ("test", test)):
        (tmp_path / f"{name}.csv").write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows))
    result = invoke("eval", "classification", sparse_model, "--train", tmp_path / "train.csv", "--test",
                    tmp_path / "test.csv", "--json", "--no-cache")
    assert result.exit_code == 0, result.output
    model = load_model(sparse_model)
    x_train, x_test = EncodeOptions(use_cache=False).embed_unique(model, [t for t, _ in train], [t for t, _ in test])
    dense_metrics, _ = linear_probe(x_train.toarray(), np.array([y for _, y in train]), x_test.toarray(),
                                    np.array([y for _, y in test]), ClassificationProtocol())
    assert json.loads(result.stdout)["metrics"]["accuracy"] == pytest.approx(dense_metrics["accuracy"], abs=1e-9)
