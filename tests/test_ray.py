"""Scale-out on a local Ray cluster (CPU actors): distributed embedding equals the single-process store, survives a
killed actor and a stopped driver, and sharded exact top-k equals ops.topk over the whole corpus, ties included."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import ray
import torch
from click.testing import CliRunner
from helpers import data_path

from spacekit.cli import main
from spacekit.demo.data import write_demo_data
from spacekit.distributed.cluster import RaySettings
from spacekit.distributed.embed import EmbedJob, Stopped, _JobRun, embed_store_ray, embed_stores_ray
from spacekit.distributed.liveness import Liveness
from spacekit.distributed.search import merge, sharded_topk
from spacekit.embed import load_model
from spacekit.errors import InputError, StoreError
from spacekit.io.texts import read_texts
from spacekit.ops import topk
from spacekit.store.cache import embed_to_store
from spacekit.store.read import open_store, verify_store
from spacekit.store.write import write_store

pytestmark = pytest.mark.real  # a Ray cluster


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


def test_ray_embedding_equals_the_single_process_store(cluster, corpus, tmp_path, tiny_model, monkeypatch):
    ids, texts = corpus
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                                  # as each actor runs (1 CPU): the same GEMM sums
    try:
        single = embed_to_store(load_model(str(tiny_model)), ids, texts, tmp_path / "single", shard_rows=50)
    finally:
        torch.set_num_threads(threads)

    def not_here(*args, **kwargs):
        raise AssertionError("the driver wrote a shard: the workers should")

    monkeypatch.setattr("spacekit.store.write.write_shard", not_here)   # the driver's copy, not the workers'
    done = embed_store_ray(str(tiny_model), ids, texts, tmp_path / "ray", shard_rows=50, workers=2)
    assert done.blocks_encoded == len(single.manifest["shards"]) == 4
    assert done.store.manifest == single.manifest             # key, rows, checksums: the same files, byte for byte
    a_ids, a = single.load()
    b_ids, b = open_store(tmp_path / "ray").load()
    assert a_ids == b_ids == ids
    assert np.array_equal(a, b)
    assert verify_store(tmp_path / "ray") == []
    again = embed_store_ray(str(tiny_model), ids, texts, tmp_path / "ray", shard_rows=50, workers=2)
    assert again.blocks_encoded == 0                          # complete, same key: reused
    staged = embed_store_ray(str(tiny_model), ids, texts, tmp_path / "staged", shard_rows=50, workers=1,
                             tokenize=True)                   # CPU tokeniser tasks feeding the encoder
    assert staged.store.manifest == single.manifest


def test_the_workers_split_between_stores_written_at_once(cluster, corpus, tmp_path, tiny_model, capsys,
                                                          monkeypatch):
    from spacekit import progress
    from spacekit.distributed import liveness

    monkeypatch.setattr(progress, "INTERVAL", 0.3)
    monkeypatch.setattr(liveness, "PING_INTERVAL", 0.2)
    ids, texts = corpus
    ids = [f"{i}-{copy}" for copy in range(6) for i in ids]
    texts = texts * 6
    jobs = [EmbedJob(str(tiny_model), ids, texts, tmp_path / name, prompt, shard_rows=60)
            for name, prompt in (("a", ""), ("b", "query: "))]
    done = embed_stores_ray(jobs, RaySettings(workers=2))
    assert [d.workers for d in done] == [1, 1]
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith(f"encoding {2 * len(jobs[0].ids):,} texts on Ray (2 workers, 2 stores at once)")
    beats = [line for line in lines if "texts," in line]
    bad = [line for line in beats if not line.endswith(("workers starting)", "workers alive)", "starting)"))]
    assert not bad, bad
    assert beats, lines                                       # (alive counts: test_liveness_counts_the_encoders...)
    model = load_model(str(tiny_model))
    for job, d in zip(jobs, done, strict=True):
        single = embed_to_store(model, job.ids, job.texts, tmp_path / f"single-{job.out.name}", prompt=job.prompt,
                                shard_rows=60)
        assert _cosines(d.store.load()[1], single.load()[1]).min() >= 0.99999


def test_one_store_failing_stops_the_other(cluster, corpus, tmp_path, tiny_model):
    ids, texts = corpus
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")          # not a store: refused, never deleted
    jobs = [EmbedJob(str(tiny_model), ids, texts, tmp_path / name, "", shard_rows=20) for name in ("a", "b")]
    with pytest.raises(StoreError, match="not a spacekit store"):
        embed_stores_ray(jobs, RaySettings(workers=2))
    assert not (tmp_path / "a").exists()                      # the other new store: stopped, nothing half-written
    assert (tmp_path / "b" / "notes.txt").read_text() == "mine"
    late = _JobRun(ray, EmbedJob(str(tiny_model), ids, texts, tmp_path / "c"), 1, 0.0, RaySettings(), Liveness(ray),
                   lambda *a, **k: None)
    late.prepare({})
    late._stop()
    with pytest.raises(Stopped):
        late()
    assert not (tmp_path / "c").exists()


def test_liveness_counts_the_encoders_that_answer_even_while_encoding(cluster, corpus, tiny_model, tmp_path):
    ids, texts = corpus
    live = Liveness(ray, wait=10.0)
    run = _JobRun(ray, EmbedJob(str(tiny_model), ids, texts, tmp_path), 2, 0.0, RaySettings(), live, lambda *a: None)
    pool = run._start_actors()
    assert live.detail() == "2 workers starting"
    assert live.ping() == 2
    busy = pool[0].write.remote(str(tmp_path), 0, ids * 20, texts * 20, "", "float32")   # a long block meanwhile
    assert live.ping() == 2                                   # answered from the ping thread while encoding
    assert not ray.wait([busy], timeout=0)[0]
    ray.kill(pool[1], no_restart=True)                        # takes effect asynchronously
    counts = [live.ping() for _ in range(20) if not time.sleep(0.25)]
    assert counts[-1] == 1
    assert live.detail() == "1/2 workers alive"               # the last ping's count
    run._stop()
    assert live.ping() == 0


def test_a_shard_the_driver_cannot_see_is_one_clear_error(tmp_path):
    run = _JobRun.__new__(_JobRun)
    run.job = EmbedJob("m", ["a"], ["x"], tmp_path)
    (tmp_path / "part-00000.parquet").write_bytes(b"12345")
    with pytest.raises(InputError, match="on a filesystem every worker shares"):
        run._check({"file": "part-00000.parquet", "rows": 1, "sha256": "x", "bytes": 9}, 0, 1)
    with pytest.raises(InputError, match="on a filesystem every worker shares"):
        run._check({"file": "part-00001.parquet", "rows": 1, "sha256": "x", "bytes": 5}, 1, 1)
    with pytest.raises(StoreError, match="id 'a': embedding has NaN"):
        run._check({"error": "store: id 'a': embedding has NaN or inf values"}, 0, 1)
    run._check({"file": "part-00000.parquet", "rows": 1, "sha256": "x", "bytes": 5}, 0, 1)


@pytest.mark.real
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
        for candidates in ("fp32", "bf16"):                    # candidates from fp32 or from bf16 products
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


@pytest.mark.real
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
              "--ray searches the float vectors"),
             (["embed", "builtin:minilm", str(tmp_path / "t.jsonl"), "-o", str(tmp_path / "o"), "--ray", "local",
               "--gpus-per-worker", "1"], "--gpus-per-worker 1: the cluster has 0 GPUs"),
             (["embed", "builtin:minilm", str(tmp_path / "t.jsonl"), "-o", str(tmp_path / "o"), "--ray", "local",
               "--tokenizer-stage"], "the tokeniser stage needs a CPU beside the encoders")]
    for args, message in cases:
        if ray.is_initialized():
            ray.shutdown()
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not (tmp_path / "o").exists()                  # nothing half-written


def test_compare_on_ray_gives_the_single_process_numbers(cluster, tmp_path, tiny_model):
    paths = write_demo_data(tmp_path / "demo")
    runs, stderr = {}, {}
    for name, extra in (("local", []), ("ray", ["--ray", "local", "--workers", "2"])):
        result = CliRunner().invoke(main, ["compare", "builtin:minilm", str(tiny_model), "--suite",
                                           str(paths["suite"]), "-o", str(tmp_path / name), "--resamples", "300",
                                           "--json", *extra])
        assert result.exit_code == 0, result.output
        runs[name] = {t["name"]: t for t in json.loads(result.stdout)["tasks"]}
        stderr[name] = result.stderr
    assert "on Ray (2 workers, 2 stores at once)" in stderr["ray"]     # both models' corpora encoded together
    retrieval, local = runs["ray"]["support-retrieval"]["metrics"], runs["local"]["support-retrieval"]["metrics"]
    assert set(retrieval) == set(local)
    for metric in retrieval:
        for which in ("before", "after"):
            assert retrieval[metric][which] == pytest.approx(local[metric][which], abs=1e-9), (metric, which)
    assert any((tmp_path / "local").iterdir())


def test_a_corpus_the_cluster_encoded_is_read_from_the_text_cache_afterwards(cluster, tmp_path, tiny_model,
                                                                            monkeypatch):
    """eval --ray writes the corpus store on the cluster and adds its vectors to the text cache: a later local
    encoding of the corpus (drift, leakage, a run without --ray) encodes nothing. The store's key holds the
    precision, so a bf16 run never resumes an fp32 store."""
    import spacekit.embed.encoder as enc
    from spacekit.distributed.retrieval import corpus_job
    from spacekit.embed import EncodeOptions
    from spacekit.io.beir import read_beir

    beir = write_demo_data(tmp_path / "demo")["beir"]
    monkeypatch.setenv("SPACEKIT_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(main, ["eval", "retrieval", str(tiny_model), str(beir), "--ray", "local",
                                       "--workers", "2", "--json"])
    assert result.exit_code == 0, result.output
    data, model = read_beir(beir, "test"), load_model(str(tiny_model))
    calls = []
    original = enc.encode_texts
    monkeypatch.setattr(enc, "encode_texts", lambda *a, **k: calls.append(len(a[1])) or original(*a, **k))
    docs = EncodeOptions().embed(model, data.corpus.ids, data.corpus.texts, "document")
    assert calls == []                                                   # every corpus text came from the cache
    job = corpus_job(model, EncodeOptions(), data.corpus.ids, data.corpus.texts)
    np.testing.assert_array_equal(docs, open_store(job.out).lookup(data.corpus.ids))
    assert corpus_job(model, EncodeOptions(dtype="bf16"), data.corpus.ids, data.corpus.texts).out != job.out


def test_workers_search_with_the_drivers_blas_and_candidates(cluster, tmp_path, monkeypatch):
    """A timed choice can differ between processes on a loaded machine: the workers take the driver's (each worker
    writes down the plan it searched with)."""
    import json as json_module

    import spacekit.distributed.search as search
    from spacekit.ops import similarity

    monkeypatch.setitem(similarity._BLAS, "choice", "numpy")
    monkeypatch.setitem(similarity._BLAS, "candidates", "bf16")    # a CPU without AMX would time fp32 itself
    vectors = np.random.default_rng(1).standard_normal((20, 8)).astype(np.float32)
    write_store(tmp_path / "s", [f"d{i}" for i in range(20)], lambda lo, hi: vectors[lo:hi], dim=8, key={"t": 1},
                shard_rows=7)
    real_search, notes = search._shard_search, tmp_path / "plans"
    notes.mkdir()

    def recording(store_path, shard_numbers, queries, k, metric, plan, device="cpu"):
        out = real_search(store_path, shard_numbers, queries, k, metric, plan, device)
        from spacekit.ops.similarity import _BLAS

        (notes / f"{shard_numbers[0]}.json").write_text(json_module.dumps(dict(_BLAS)))
        return out

    monkeypatch.setattr(search, "_shard_search", recording)
    sharded_topk(vectors[:2], tmp_path / "s", 3, workers=2)
    plans = [json_module.loads(p.read_text()) for p in notes.iterdir()]
    assert len(plans) == 2
    assert all(p["choice"] == "numpy" and p["candidates"] == "bf16" for p in plans)
