"""Matryoshka dimensions and quantised vectors: spacekit's SciFact metrics per (dimension, precision) equal a
reference built with sentence-transformers (truncate_embeddings, quantize_embeddings) and pytrec_eval on the same
vectors, all from one encoding. (The vectors equal SentenceTransformer.encode's at cosine >= 0.99999, tested in
test_encode / test_st_layouts; sign bits of coordinates within ~1e-7 of zero may differ between the two, which
moves binary metrics by ~1e-3, so the reference quantises spacekit's vectors.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import data_path

from spacekit.cli import main
from spacekit.errors import InputError
from spacekit.ops.quantize import quantized_topk, truncate
from spacekit.tasks.axes import Variant, base_metric, variants


def _reference(queries, docs, qrels, qids, dids, dim, precision, rescore=0):
    """ndcg@10, recall@100, mrr@10 by pytrec_eval over the top 100 per query, scored with sentence-transformers'
    quantisation (ranges calibrated on the corpus), picked by numpy's stable sort (equal scores at the cut: lower
    corpus index first); within it pytrec_eval orders equal scores by its own rule (document id), as spacekit."""
    import pytrec_eval
    from sentence_transformers.util import quantize_embeddings, truncate_embeddings

    q = truncate_embeddings(queries, dim) if dim else queries
    d = truncate_embeddings(docs, dim) if dim else docs
    q, d = q / np.linalg.norm(q, axis=1, keepdims=True), d / np.linalg.norm(d, axis=1, keepdims=True)
    if precision == "float32":
        scores = q.astype(np.float64) @ d.astype(np.float64).T
    else:
        ranges = np.vstack((d.min(0), d.max(0)))
        qc = quantize_embeddings(q, precision, ranges=ranges)
        dc = quantize_embeddings(d, precision, ranges=ranges)
        if precision.endswith("binary"):
            width = q.shape[1]
            qc, dc = (np.unpackbits(x.view(np.uint8) ^ (0x80 if precision == "binary" else 0), axis=1)[:, :width]
                      for x in (qc, dc))
            qc, dc = qc * 2.0 - 1, dc * 2.0 - 1
        scores = qc.astype(np.float64) @ dc.astype(np.float64).T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :100]
    final = np.take_along_axis(scores, order, 1)
    if rescore:
        order = np.argsort(-scores, axis=1, kind="stable")[:, :100 * rescore]
        steps = (ranges[1] - ranges[0]) / 255
        restored = (dc.astype(np.float64) + (128 if precision == "int8" else 0)) * steps + ranges[0] \
            if precision.endswith("int8") else (dc + 1) / 2
        again = np.einsum("qd,qkd->qk", q.astype(np.float64), restored[order])
        by = np.lexsort((order, -again), axis=1)[:, :100]
        order, final = np.take_along_axis(order, by, 1), np.take_along_axis(again, by, 1)
    top = {qid: {dids[j]: float(final[i, r]) for r, j in enumerate(order[i])} for i, qid in enumerate(qids)}
    out = {}
    for depth, measures in ((100, {"ndcg_cut.10", "recall.100"}), (10, {"recip_rank"})):
        run = {qid: dict(sorted(docs.items(), key=lambda x: (x[1], x[0]), reverse=True)[:depth])   # trec_eval order
               for qid, docs in top.items()}
        res = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
        for m, name in (("ndcg_cut_10", "ndcg@10"), ("recall_100", "recall@100"), ("recip_rank", "mrr@10")):
            if m in next(iter(res.values())):
                out[name] = float(np.mean([res[qid][m] for qid in qids if qid in res]))
    return out


@pytest.mark.real
def test_scifact_dims_and_quantisation_match_sentence_transformers_and_pytrec_eval(monkeypatch):
    pytest.importorskip("pytrec_eval")
    import spacekit.embed.encoder as enc
    import spacekit.store.cache as cache
    from spacekit.embed import EncodeOptions, load_model
    from spacekit.io.beir import read_beir

    folder = data_path("scifact")
    calls, fetched = [], []
    original, fetch = enc.encode_texts, cache.embeddings
    monkeypatch.setattr(enc, "encode_texts", lambda *a, **k: calls.append(len(a[1])) or original(*a, **k))
    monkeypatch.setattr(cache, "embeddings", lambda *a, **k: fetched.append(len(a[2])) or fetch(*a, **k))
    result = CliRunner().invoke(main, ["eval", "retrieval", "builtin:minilm", str(folder), "--json", "--device",
                                       "cpu", "--dims", "256,128", "--quantize", "int8,binary"])
    assert result.exit_code == 0, result.output
    assert sorted(fetched) == [300, 5183]                # one fetch of each side's vectors serves every variant
    assert sum(calls) <= 300 + 5183                      # each text encoded at most once (none: the cache held it)
    encoded = sum(calls)
    metrics = json.loads(result.stdout)["metrics"]
    assert metrics["ndcg@10"] == pytest.approx(0.64508, abs=5e-5)       # the MTEB number, untouched

    data = read_beir(folder, "test")
    model, opts = load_model("builtin:minilm"), EncodeOptions(device="cpu")
    docs = opts.embed(model, data.corpus.ids, data.corpus.texts, "document")       # from the cache
    queries = opts.embed(model, data.queries.ids, data.queries.texts, "query")
    assert sum(calls) == encoded                                          # both read from the cache
    qids = [q for q in data.queries.ids if q in data.qrels]
    rows = [data.queries.ids.index(q) for q in qids]
    for dim in (None, 256, 128):
        for precision in ("float32", "int8", "binary"):
            want = _reference(queries[rows], docs, data.qrels, qids, data.corpus.ids, dim, precision)
            tag = Variant(dim, precision)
            for name, value in want.items():
                assert metrics[tag.metric(name)] == pytest.approx(value, abs=2e-4), tag.metric(name)
    assert metrics["ndcg@10/128d/binary"] < metrics["ndcg@10/128d"] < metrics["ndcg@10"]  # the expected order

    again = CliRunner().invoke(main, ["eval", "retrieval", "builtin:minilm", str(folder), "--json", "--device",
                                      "cpu", "--quantize", "int8,binary", "--rescore", "4"])
    rescored = json.loads(again.stdout)["metrics"]
    for precision in ("int8", "binary"):
        want = _reference(queries[rows], docs, data.qrels, qids, data.corpus.ids, None, precision, rescore=4)
        for name, value in want.items():
            assert rescored[f"{name}/{precision}"] == pytest.approx(value, abs=2e-4), (precision, name)
        assert rescored[f"ndcg@10/{precision}"] > metrics[f"ndcg@10/{precision}"] - 1e-9   # re-scoring helps


def test_quantized_topk_breaks_ties_by_lower_index_and_scores_exactly():
    rng = np.random.default_rng(0)
    corpus = rng.normal(size=(50, 16)).astype(np.float32)
    corpus[7] = corpus[3]                                                  # an exact tie
    queries = np.vstack([corpus[3], rng.normal(size=(4, 16))]).astype(np.float32)
    scores, idx = quantized_topk(queries, corpus, 5, "binary")
    assert idx[0, 0] == 3
    assert idx[0, 1] == 7
    assert scores[0, 0] == scores[0, 1] == 16
    signs = np.where(queries > 0, 1.0, -1.0) @ np.where(corpus > 0, 1.0, -1.0).T
    np.testing.assert_array_equal(scores, -np.sort(-signs, axis=1)[:, :5])
    for precision in ("int8", "uint8", "ubinary"):
        s, i = quantized_topk(queries, corpus, 50, precision)
        assert (np.diff(s, axis=1) <= 0).all()
        assert sorted(i[0].tolist()) == list(range(50))


def test_variant_names_and_bad_axes():
    assert [v.tag for v in variants((256,), ("int8",))] == ["int8", "256d", "256d/int8"]
    assert base_metric("ndcg@10/256d/int8") == ("ndcg@10", "256d/int8")
    with pytest.raises(InputError, match="not a dimension"):
        base_metric("ndcg@10/fp4")
    with pytest.raises(InputError, match="quantisation must be one of"):
        variants((), ("fp4",))
    with pytest.raises(InputError, match=r"outside 1\.\.16"):
        truncate(np.ones((2, 16), np.float32), 32)
    np.testing.assert_allclose(np.linalg.norm(truncate(np.arange(32.0).reshape(2, 16), 4), axis=1), 1, rtol=1e-6)
