"""Scale-out on a local Ray cluster (CPU actors): distributed embedding equals the single-process store, survives a
killed actor and a stopped driver, and sharded exact top-k equals ops.topk over the whole corpus, ties included."""

from __future__ import annotations

import json

import numpy as np
import pytest
import ray
import torch
from click.testing import CliRunner
from conftest import data_path

from spacekit.cli import main
from spacekit.demo.data import write_demo_data
from spacekit.distributed.embed import embed_store_ray
from spacekit.distributed.search import merge, sharded_topk
from spacekit.embed import load_model
from spacekit.embed.cache import embed_to_store
from spacekit.embed.store import open_store, verify_store
from spacekit.embed.store_write import write_store
from spacekit.io.texts import read_texts
from spacekit.ops import topk


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[list[str], list[str]]:
    beir = write_demo_data(tmp_path_factory.mktemp("demo"))["beir"]
    texts = read_texts(beir / "corpus.jsonl")
    return texts.ids, texts.texts


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_ray_embedding_equals_the_single_process_store(cluster, corpus, tmp_path, tiny_model):
    ids, texts = corpus
    single = embed_to_store(load_model(str(tiny_model)), ids, texts, tmp_path / "single", shard_rows=50)
    done = embed_store_ray(str(tiny_model), ids, texts, tmp_path / "ray", shard_rows=50, workers=2)
    assert done.blocks_encoded == len(single.manifest["shards"]) == 4
    assert done.store.manifest["key"] == single.manifest["key"]
    assert [s["rows"] for s in done.store.manifest["shards"]] == [s["rows"] for s in single.manifest["shards"]]
    a_ids, a = single.load()
    b_ids, b = open_store(tmp_path / "ray").load()
    assert a_ids == b_ids == ids
    assert _cosines(a, b).min() >= 0.99999
    assert verify_store(tmp_path / "ray") == []
    again = embed_store_ray(str(tiny_model), ids, texts, tmp_path / "ray", shard_rows=50, workers=2)
    assert again.blocks_encoded == 0                          # complete, same key: reused


@pytest.mark.slow
def test_a_killed_actor_and_a_stopped_driver_still_give_a_complete_store(cluster, corpus, tmp_path, tiny_model):
    ids, texts = corpus
    marker = tmp_path / "killed-once"
    done = embed_store_ray(str(tiny_model), ids, texts, tmp_path / "a", shard_rows=40, workers=2,
                           fail_once=str(marker))
    assert marker.exists()                                    # one actor did die
    assert verify_store(tmp_path / "a") == []
    assert done.store.count == len(ids)
    with pytest.raises(KeyboardInterrupt):
        embed_store_ray(str(tiny_model), ids, texts, tmp_path / "b", shard_rows=40, workers=2, stop_after=2)
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert not manifest["complete"]
    assert len(manifest["shards"]) == 2
    written = {s["file"]: s["sha256"] for s in manifest["shards"]}
    resumed = embed_store_ray(str(tiny_model), ids, texts, tmp_path / "b", shard_rows=40, workers=2)
    assert resumed.blocks_encoded == len(resumed.store.manifest["shards"]) - 2      # the 2 verified shards kept
    assert {s["file"]: s["sha256"] for s in resumed.store.manifest["shards"][:2]} == written
    a_ids, a = open_store(tmp_path / "a").load()
    b_ids, b = resumed.store.load()
    assert a_ids == b_ids
    assert _cosines(a, b).min() >= 0.99999


def test_sharded_topk_equals_topk_with_ties_across_shards(cluster, tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((61, 8)).astype(np.float32)
    vectors[40] = vectors[3]                                  # equal rows in different shards (shards of 7 rows)
    vectors[59] = vectors[3]
    vectors[20] = vectors[12] * 2                              # equal cosine, another shard
    ids = [f"d{i}" for i in range(61)]
    write_store(tmp_path / "s", ids, lambda lo, hi: vectors[lo:hi], dim=8, key={"test": 1}, shard_rows=7)
    queries = np.concatenate([vectors[[3, 12]], rng.standard_normal((5, 8)).astype(np.float32)])
    from spacekit.ops.similarity import _BLAS, use_cpu_candidates

    before = _BLAS.get("candidates")
    try:
        for candidates in (None, "bf16"):                      # fp32 throughout; bf16 candidates re-scored
            use_cpu_candidates(candidates)
            for metric in ("cosine", "dot"):
                for k in (1, 5, 20, 61):
                    ref_s, ref_i = topk(queries, vectors, k, metric=metric)
                    got_s, got_i = sharded_topk(queries, tmp_path / "s", k, metric=metric, workers=2)
                    assert torch.equal(got_i, ref_i), (candidates, metric, k)
                    assert torch.equal(got_s, ref_s), (candidates, metric, k)
    finally:
        if before is not None:
            _BLAS["candidates"] = before
    _, i = topk(queries, vectors, 5, metric="cosine")
    assert i[0, :3].tolist() == [3, 40, 59]                   # the ties, by lower index, across three shards


def test_merge_keeps_the_lower_index_on_equal_scores():
    scores = np.array([[0.5, 0.9, 0.5, 0.9]])
    indices = np.array([[30, 12, 7, 3]])
    s, i = merge(scores, indices, 3)
    assert i.tolist() == [[3, 12, 7]]
    assert s.tolist() == [[0.9, 0.9, 0.5]]


@pytest.mark.slow
def test_eval_retrieval_on_ray_reproduces_the_published_scifact_numbers(cluster):
    result = CliRunner().invoke(main, ["eval", "retrieval", "builtin:minilm", str(data_path("scifact")), "--ray",
                                       "local", "--workers", "2", "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)["metrics"]
    published = {"ndcg@10": 0.64508, "recall@10": 0.78333, "recall@100": 0.925, "map@10": 0.59593,
                 "mrr@10": 0.6047249}                           # MTEB, all-MiniLM-L6-v2 (../shared/data/README.md)
    for name, value in published.items():
        assert metrics[name] == pytest.approx(value, abs=5e-6), name


def test_ray_problems_are_one_line_exit_2(tmp_path, corpus):
    ids, texts = corpus
    rows = [json.dumps({"id": i, "text": t}) + "\n" for i, t in zip(ids, texts, strict=True)]
    (tmp_path / "t.jsonl").write_text("".join(rows))
    cases = [(["embed", "builtin:minilm", str(tmp_path / "t.jsonl"), "-o", str(tmp_path / "o"), "--ray",
               "127.0.0.1:1"], "--ray 127.0.0.1:1: cannot reach the cluster"),
             (["eval", "retrieval", "builtin:minilm", str(tmp_path), "--ray", "local", "--dims", "64"],
              "--ray searches the float vectors")]
    for args, message in cases:
        if ray.is_initialized():
            ray.shutdown()
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_compare_on_ray_gives_the_single_process_numbers(cluster, tmp_path):
    paths = write_demo_data(tmp_path / "demo")
    runs = {}
    for name, extra in (("local", []), ("ray", ["--ray", "local", "--workers", "2"])):
        result = CliRunner().invoke(main, ["compare", "builtin:minilm", "builtin:minilm", "--suite",
                                           str(paths["suite"]), "-o", str(tmp_path / name), "--resamples", "300",
                                           "--json", *extra])
        assert result.exit_code == 0, result.output
        runs[name] = {t["name"]: t for t in json.loads(result.stdout)["tasks"]}
    retrieval = runs["ray"]["support-retrieval"]["metrics"]
    assert retrieval["ndcg@10"]["before"] == pytest.approx(runs["local"]["support-retrieval"]["metrics"]["ndcg@10"]
                                                           ["before"], abs=1e-9)
    assert set(retrieval) == set(runs["local"]["support-retrieval"]["metrics"])
    assert any((tmp_path / "local").iterdir())
