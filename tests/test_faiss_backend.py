"""The optional FAISS search backend: same results as spacekit's exact top-k, and a clear error without faiss."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from spacekit.cli import main
from spacekit.errors import InputError
from spacekit.ops import topk

faiss = pytest.importorskip("faiss", reason="faiss-cpu is a dev dependency (make test installs it)")
from spacekit.ops.faiss_search import faiss_topk  # noqa: E402


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_faiss_backend_equals_spacekit_topk(metric):
    g = torch.Generator().manual_seed(3)
    q, c = torch.randn(200, 48, generator=g), torch.randn(70_001, 48, generator=g)   # two index tiles, uneven
    s_ref, i_ref = topk(q, c, 25, metric=metric)
    s, i = faiss_topk(q, c, 25, metric=metric)
    assert torch.equal(i, i_ref)
    torch.testing.assert_close(s, s_ref, atol=1e-5, rtol=1e-6)               # dot scores reach ~40


def test_faiss_backend_orders_equal_scores_by_lower_index_and_clips_k():
    base = torch.randn(40, 16, generator=torch.Generator().manual_seed(4))
    c = torch.cat([base, base, base])                                   # every score three times
    q = torch.randn(9, 16, generator=torch.Generator().manual_seed(5))
    _s, i = faiss_topk(q, c, 6)
    ref = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(c, dim=1).T
    assert torch.equal(i, torch.sort(ref, dim=1, descending=True, stable=True).indices[:, :6])
    assert faiss_topk(q, c[:4], 10)[1].shape == (9, 4)


def test_faiss_backend_reads_a_store_tile_by_tile(tmp_path):
    from spacekit.store.read import open_store
    from spacekit.store.write import write_store

    rng = np.random.default_rng(6)
    vecs = rng.standard_normal((3000, 32)).astype(np.float32)
    write_store(tmp_path / "s", [f"d{i}" for i in range(3000)], lambda lo, hi: vecs[lo:hi], dim=32,
                key={"model_fingerprint": "x"}, shard_rows=700)
    q = rng.standard_normal((20, 32)).astype(np.float32)
    assert torch.equal(faiss_topk(q, open_store(tmp_path / "s"), 7)[1], topk(q, vecs, 7)[1])


def test_eval_retrieval_with_faiss_backend_gives_the_same_metrics(tmp_path, tiny_model):
    (tmp_path / "qrels").mkdir()
    docs = [f"document about topic {i} and {i * 7 % 13}" for i in range(40)]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "text": t}) + "\n"
                                                   for i, t in enumerate(docs)))
    (tmp_path / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": f"topic {i}"}) + "\n"
                                                    for i in range(8)))
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" +
                                                 "".join(f"q{i}\td{i}\t1\nq{i}\td{i + 9}\t2\n" for i in range(8)))
    runs = {}
    for engine in ("spacekit", "faiss"):
        r = CliRunner().invoke(main, ["eval", "retrieval", str(tiny_model), str(tmp_path), "--json", "--no-cache",
                                      "--backend", engine, "--k", "1,5,10"])
        assert r.exit_code == 0, r.output
        runs[engine] = json.loads(r.stdout)["metrics"]
    assert runs["faiss"] == pytest.approx(runs["spacekit"], abs=1e-12)
    assert runs["faiss"]["ndcg@10"] > 0


def test_without_faiss_the_backend_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)                      # import faiss -> ImportError
    with pytest.raises(InputError, match="faiss is not installed"):
        faiss_topk(np.ones((2, 4), np.float32), np.ones((3, 4), np.float32), 1)
