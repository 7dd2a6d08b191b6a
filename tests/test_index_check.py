"""The index check (issue 33): a retrieval task searched through approximate indexes (faiss HNSW / IVF) and the
quantised precisions reports each one's task metrics and its k-NN recall@10 of the exact search, equal to an
independent computation (faiss's own index with the documented parameters, float64 brute force)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import data_path, hide_module, invoke, one_line_exit_2, random_beir

from spacekit.ops.ann import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, IVF_NPROBE, AnnIndex, ivf_lists, knn_recall

faiss = pytest.importorskip("faiss")


def _exact(queries: np.ndarray, docs: np.ndarray, k: int) -> np.ndarray:
    """The exact cosine top-k (float64, equal scores by lower index)."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    d = docs / np.linalg.norm(docs, axis=1, keepdims=True)
    scores = q.astype(np.float64) @ d.astype(np.float64).T
    return np.lexsort((np.broadcast_to(np.arange(len(d)), scores.shape), -scores), axis=1)[:, :k]


def _faiss_reference(kind: str, docs: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """faiss's own index with the parameters spacekit documents, searched directly."""
    d = docs / np.linalg.norm(docs, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(d.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction, index.hnsw.efSearch = HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH
    else:
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d.shape[1]), d.shape[1], ivf_lists(len(d)),
                                   faiss.METRIC_INNER_PRODUCT)
        index.train(d.astype(np.float32))
        index.nprobe = IVF_NPROBE
    index.add(d.astype(np.float32))
    return index.search(q.astype(np.float32), k)[1]


def test_knn_recall_counts_the_exact_rows_found():
    exact = np.array([[1, 2, 3, 4], [5, 6, -1, -1], [-1, -1, -1, -1]])
    found = np.array([[4, 9, 1, 8], [6, 5, 7, -1], [1, 2, 3, 4]])
    np.testing.assert_allclose(knn_recall(found, exact), [0.5, 1.0, 1.0])


def test_the_tasks_know_every_index():
    from spacekit.ops.ann import INDEXES
    from spacekit.tasks.axes import INDEX_TAGS

    assert INDEX_TAGS == INDEXES


def test_ivf_lists_follow_faiss_guidance():
    assert ivf_lists(5183) == 5183 // 39          # 4 sqrt(n) = 288 would leave lists under faiss's 39 points
    assert ivf_lists(1_000_000) == 4000
    assert ivf_lists(10) == 1


def test_an_index_searches_as_faiss_does_and_searching_every_list_is_exact():
    rng = np.random.default_rng(3)
    docs, queries = rng.normal(size=(4000, 32)).astype(np.float32), rng.normal(size=(200, 32)).astype(np.float32)
    exact = _exact(queries, docs, 10)
    for kind in ("hnsw", "ivf"):
        scores, codes = AnnIndex(kind, docs).search(queries, 10)
        want = _faiss_reference(kind, docs, queries, 10)
        assert [set(r) for r in codes] == [set(r) for r in want], kind
        assert (np.diff(scores, axis=1) <= 0).all()
        recall = knn_recall(codes, exact).mean()
        assert 0.3 < recall < 1.0, (kind, recall)                   # approximate: some exact rows missed
    ivf = AnnIndex("ivf", docs)
    ivf._index.nprobe = ivf_lists(len(docs))                        # every list searched: exhaustive
    np.testing.assert_array_equal(ivf.search(queries, 10)[1], exact)


def _folder(tmp_path):
    return random_beir(tmp_path / "beir", docs=300, queries=40, words=40, doc_words=8, query_words=4, seed=1,
                       qrels=lambda i: {f"d{(7 * i) % 300}": 1})


def test_a_task_through_indexes_reports_their_metrics_and_knn_recall(tmp_path, tiny_model):
    """On a small sample: each index's k-NN recall@10 equals the one computed from faiss's own index and the float64
    exact search over the same vectors; int8 / binary ones from spacekit's quantised search."""
    from spacekit.embed import EncodeOptions, load_model
    from spacekit.io.beir import read_beir
    from spacekit.ops.quantize import quantized_topk

    folder = _folder(tmp_path)
    r = invoke("eval", "retrieval", tiny_model, folder, "--index", "hnsw,ivf,int8,binary", "--json", "--device", "cpu")
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.stdout)["metrics"]
    data = read_beir(folder, "test")
    model, opts = load_model(str(tiny_model)), EncodeOptions(device="cpu")
    docs = opts.embed(model, data.corpus.ids, data.corpus.texts, "document")
    queries = opts.embed(model, data.queries.ids, data.queries.texts, "query")
    exact = _exact(queries, docs, 10)
    found = {kind: _faiss_reference(kind, docs, queries, 100) for kind in ("hnsw", "ivf")}
    found |= {p: quantized_topk(queries, docs, 100, p)[1] for p in ("int8", "binary")}
    for tag, codes in found.items():
        assert metrics[f"knn_recall@10/{tag}"] == pytest.approx(knn_recall(codes[:, :10], exact).mean(), abs=1e-12)
        assert f"ndcg@10/{tag}" in metrics
        assert f"recall@100/{tag}" in metrics
    assert metrics["knn_recall@10/binary"] < 1.0
    assert "knn_recall@10" not in metrics


def test_an_index_suite_task_tests_each_index_and_its_recall(tmp_path):
    from spacekit.compare.suite import read_suite

    folder = _folder(tmp_path)
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "i"\nkind = "retrieval"\ndata = "{folder}"\nindex = ["hnsw", "int8"]\n')
    spec = read_suite(suite)[0]
    assert spec.metrics[0] == "ndcg@10"
    assert {"ndcg@10/hnsw", "ndcg@10/int8", "knn_recall@10/hnsw", "knn_recall@10/int8"} <= set(spec.metrics)
    suite.write_text(f'[[task]]\nname = "i"\nkind = "retrieval"\ndata = "{folder}"\nindex = ["annoy"]\n')
    with pytest.raises(Exception, match="index must be one of hnsw, ivf, int8, uint8, binary, ubinary, got 'annoy'"):
        read_suite(suite)
    suite.write_text(f'[[task]]\nname = "i"\nkind = "retrieval"\ndata = "{folder}"\n'
                     f'metrics = ["knn_recall@10"]\n')
    with pytest.raises(Exception, match="knn_recall@10 is measured for an index or a precision"):
        read_suite(suite)


def test_an_index_without_faiss_is_one_line_naming_the_extra(tmp_path, tiny_model, monkeypatch):
    hide_module(monkeypatch, "faiss")
    one_line_exit_2(invoke("eval", "retrieval", tiny_model, _folder(tmp_path), "--index", "hnsw"),
                    "the index check needs faiss (not installed): pip install 'spacekit[faiss]'")


@pytest.mark.real
def test_scifact_index_recall_for_minilm():
    """Real numbers: MiniLM on SciFact through HNSW keeps nearly all of the exact top 10, IVF (nprobe 10 of 132
    lists) and binary codes lose a visible share."""
    r = invoke("eval", "retrieval", "builtin:minilm", data_path("scifact"), "--index", "hnsw,ivf,binary", "--json",
               "--device", "cpu")
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)["metrics"]
    assert m["knn_recall@10/hnsw"] > 0.98
    assert m["knn_recall@10/binary"] < m["knn_recall@10/ivf"] < m["knn_recall@10/hnsw"]
    assert m["ndcg@10/hnsw"] == pytest.approx(m["ndcg@10"], abs=0.005)
