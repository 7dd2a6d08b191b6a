"""Stores under attack and under load: nothing lost, nothing read unchecked, one writer at a time (issue 15)."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from cli_process import CliProcess, run_cli
from click.testing import CliRunner

from spacekit.cli import main
from spacekit.errors import InputError, StoreError
from spacekit.files import file_digest
from spacekit.store.read import open_store, verify_store
from spacekit.store.write import write_store

KEY = {"model_fingerprint": "m", "input_fingerprint": "i"}


def _vectors(n: int, d: int = 8, seed: int = 0) -> tuple[list[str], np.ndarray]:
    return [f"doc-{i}" for i in range(n)], np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def _store(path, n: int = 50, shard_rows: int = 20, key: dict = KEY):
    ids, vec = _vectors(n)
    write_store(path, ids, lambda lo, hi: vec[lo:hi], dim=8, key=key, shard_rows=shard_rows)
    return ids, vec


def _texts(tmp_path, n: int = 40):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"t{i}", "text": f"text number {i} about topic {i % 7}"}) + "\n"
                           for i in range(n)))
    return src


# data loss -----------------------------------------------------------------------------------------------------

@pytest.mark.model
def test_overwrite_never_deletes_a_folder_that_is_not_a_store(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    src = _texts(folder)
    r = CliRunner().invoke(main, ["embed", "builtin:minilm", str(src), "-o", str(folder), "--overwrite"])
    assert r.exit_code == 2
    assert "is not a spacekit store" in r.stderr
    assert (folder / "thesis.tex").read_text() == "years of work"
    assert src.exists()


def test_overwrite_deletes_only_what_spacekit_made(tmp_path):
    _store(tmp_path / "s")
    (tmp_path / "s" / "notes.txt").write_text("mine")
    ids, vec = _vectors(50)
    with pytest.raises(StoreError, match=r"notes\.txt"):
        write_store(tmp_path / "s", ids, lambda lo, hi: vec[lo:hi] * 2, dim=8, key={"other": 1}, overwrite=True)
    assert (tmp_path / "s" / "notes.txt").read_text() == "mine"
    (tmp_path / "s" / "notes.txt").unlink()
    store = write_store(tmp_path / "s", ids, lambda lo, hi: vec[lo:hi] * 2, dim=8, key={"other": 1}, overwrite=True)
    assert np.allclose(store.load()[1], vec * 2)


def test_a_failed_new_store_removes_only_its_own_files(tmp_path):
    ids, vec = _vectors(50)

    def embed(lo, hi):
        if lo >= 20:
            raise RuntimeError("the model broke")
        return vec[lo:hi]

    with pytest.raises(RuntimeError):
        write_store(tmp_path / "s", ids, embed, dim=8, key=KEY, shard_rows=20)
    assert not (tmp_path / "s").exists()


@pytest.mark.model
def test_three_embed_runs_into_one_new_folder_all_succeed(tmp_path):
    src = _texts(tmp_path, 300)
    out, clean = tmp_path / "store", tmp_path / "clean"
    cmd = ["embed", "builtin:minilm", str(src), "--shard-rows", "10", "--device", "cpu", "-o"]
    procs = [CliProcess([*cmd, str(out)]) for _ in range(3)]                   # three processes at once
    assert [p.wait() for p in procs] == [0, 0, 0], [p.stderr for p in procs]
    assert verify_store(out) == []
    assert not list(tmp_path.glob(".*.lock"))                                  # each holder removed its lock
    run_cli([*cmd, str(clean)], check=True)
    assert np.allclose(open_store(out).load()[1], open_store(clean).load()[1], atol=1e-6)


@pytest.mark.model
def test_two_evaluations_share_one_cache(tmp_path):
    pairs = tmp_path / "s.tsv"
    pairs.write_text("sentence1\tsentence2\tscore\n" + "".join(f"a sentence {i}\tanother one {i % 5}\t{i % 6}\n"
                                                               for i in range(200)))
    env = {**os.environ, "SPACEKIT_CACHE": str(tmp_path / "cache")}
    cmd = ["eval", "sts", "builtin:minilm", str(pairs), "--json", "--device", "cpu"]
    procs = [CliProcess(cmd, env=env) for _ in range(3)]
    assert [p.wait() for p in procs] == [0, 0, 0], [p.stderr for p in procs]
    assert len({json.dumps(json.loads(p.stdout)["metrics"]) for p in procs}) == 1
    assert not list((tmp_path / "cache").rglob("*.lock"))


def test_the_store_lock_excludes_while_its_holders_remove_the_file(tmp_path):
    """Each holder removes the lock file on release; a waiter that then holds the removed file takes the new one,
    so two holders never overlap: 4 threads x 25 read-increment-write rounds end at exactly 100."""
    import threading
    import time

    from spacekit.store.write import store_lock

    counter, store = tmp_path / "count", tmp_path / "store"
    counter.write_text("0")

    def rounds():
        for _ in range(25):
            with store_lock(store):
                value = int(counter.read_text())
                time.sleep(0.001)
                counter.write_text(str(value + 1))

    threads = [threading.Thread(target=rounds) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.read_text() == "100"
    assert not list(tmp_path.glob(".*.lock"))


def test_links_planted_in_a_store_folder_are_never_written_through(tmp_path):
    """An interrupted store, with links planted where earlier versions put their temp files and at the next
    shard's name: resuming it writes none of the files outside."""
    ids, vec = _vectors(60)
    folder = tmp_path / "s"

    def interrupted(lo, hi):
        if lo >= 20:
            raise KeyboardInterrupt                                    # keeps what was written, for a resume
        return vec[lo:hi]

    with pytest.raises(KeyboardInterrupt):
        write_store(folder, ids, interrupted, dim=8, key=KEY, shard_rows=20)
    outside = {name: tmp_path / f"outside-{name}" for name in (".manifest.json.tmp", ".part-00001.parquet.tmp",
                                                               ".part-00002.parquet.tmp", "part-00002.parquet")}
    for name, target in outside.items():
        target.write_text("precious")
        (folder / name).symlink_to(target)
    write_store(folder, ids, lambda lo, hi: vec[lo:hi], dim=8, key=KEY, shard_rows=20)
    assert all(target.read_text() == "precious" for target in outside.values())
    assert not (folder / "part-00002.parquet").is_symlink()
    assert np.array_equal(open_store(folder).load()[1], vec)


def test_a_linked_shard_is_refused_when_read(tmp_path):
    _store(tmp_path / "s")
    copy = tmp_path / "elsewhere.parquet"
    shutil.copy(tmp_path / "s" / "part-00001.parquet", copy)
    (tmp_path / "s" / "part-00001.parquet").unlink()
    (tmp_path / "s" / "part-00001.parquet").symlink_to(copy)  # same bytes, same sha256
    with pytest.raises(StoreError, match=r"part-00001\.parquet: missing or not a regular file"):
        open_store(tmp_path / "s").load()


# wrong answers ------------------------------------------------------------------------------------------------

def _edit_manifest(folder, edit):
    m = json.loads((folder / "manifest.json").read_text())
    edit(m)
    (folder / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize(("edit", "message"), [
    (lambda m: m.update(dim=4), "are not the manifest's"),                 # would reshape rows silently
    (lambda m: m["shards"][0].update(rows=19), "hold 49 rows, not count 50"),
    (lambda m: m["shards"].pop(1), "file must be 'part-00001.parquet'"),    # a half store marked complete
    (lambda m: m["shards"].pop(), "hold 40 rows, not count 50"),
    (lambda m: m["shards"][0].update(file="../elsewhere.parquet"), "file must be 'part-00000.parquet'"),
    (lambda m: m.update(dim="8"), "dim must be an integer"),
    (lambda m: m.pop("shards"), "shards must be a list"),
    (lambda m: m.update(count=7.5), "count must be an integer"),
])
def test_the_manifest_is_checked_against_the_shards(tmp_path, edit, message):
    _store(tmp_path / "s")
    _edit_manifest(tmp_path / "s", edit)
    with pytest.raises(StoreError, match=message):
        open_store(tmp_path / "s").load()
    assert verify_store(tmp_path / "s")
    r = CliRunner().invoke(main, ["store", "verify", str(tmp_path / "s")])
    assert r.exit_code == 2
    assert message in r.stderr


def test_edited_rows_make_resume_recompute_not_duplicate(tmp_path):
    ids, vec = _store(tmp_path / "s")
    _edit_manifest(tmp_path / "s", lambda m: (m["shards"][1].update(rows=5), m.update(complete=False)))
    store = write_store(tmp_path / "s", ids, lambda lo, hi: vec[lo:hi], dim=8, key=KEY, shard_rows=20)
    got_ids, got = store.load()
    assert got_ids == ids
    assert np.array_equal(got, vec)


def _shard_with(folder, index: int, ids: list[str], vec: np.ndarray) -> None:
    """Rewrite one shard with other content and fix its sha256 in the manifest (what a careless tool might do)."""
    table = pa.table({"id": pa.array(ids, pa.string()),
                      "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vec.reshape(-1)), vec.shape[1])})
    pq.write_table(table, folder / f"part-{index:05d}.parquet")
    digest = file_digest(folder / f"part-{index:05d}.parquet")
    _edit_manifest(folder, lambda m: m["shards"][index].update(sha256=digest))


def test_nan_in_a_store_is_refused_not_ranked_first(tmp_path):
    ids, vec = _store(tmp_path / "s")
    bad = vec[20:40].copy()
    bad[3, 2] = np.nan
    _shard_with(tmp_path / "s", 1, ids[20:40], bad)
    with pytest.raises(StoreError, match="id 'doc-23': embedding has NaN or inf values"):
        open_store(tmp_path / "s").load()
    from spacekit.ops import topk

    with pytest.raises(StoreError, match="NaN or inf"):
        topk(torch.randn(3, 8), open_store(tmp_path / "s"), 5)


def test_resume_keeps_only_shards_a_reader_would_accept(tmp_path, caplog):
    """A shard rewritten with its checksum fixed (NaN vectors, another shard's ids, a null id): resume recomputes
    it instead of reporting a complete store every reader then refuses."""
    import logging

    nan = lambda vec: np.where(np.arange(8) == 2, np.nan, vec).astype(np.float32)         # column 2 NaN
    for name, tamper in (("nan", lambda ids, vec: (ids[20:40], nan(vec[20:40]))),
                         ("repeated", lambda ids, vec: (ids[:20], vec[20:40])),
                         ("null", lambda ids, vec: ([None, *ids[21:40]], vec[20:40]))):
        ids, vec = _store(tmp_path / name)
        _shard_with(tmp_path / name, 1, *tamper(ids, vec))
        _edit_manifest(tmp_path / name, lambda m: m.update(complete=False))          # as a killed run leaves it
        with caplog.at_level(logging.WARNING, logger="spacekit"):
            store = write_store(tmp_path / name, ids, lambda lo, hi, vec=vec: vec[lo:hi], dim=8, key=KEY,
                                shard_rows=20)
        assert "recomputing from row 20" in caplog.text, name
        assert verify_store(tmp_path / name) == [], name
        got_ids, got = store.load()
        assert got_ids == ids, name
        assert np.array_equal(got, vec), name
        caplog.clear()


def test_duplicate_ids_across_shards_are_refused(tmp_path):
    ids, vec = _store(tmp_path / "s")
    _shard_with(tmp_path / "s", 1, ids[:20], vec[20:40])
    with pytest.raises(StoreError, match="appears twice"):
        open_store(tmp_path / "s").load()


def test_topk_refuses_nan_and_inf_inputs():
    from spacekit.ops import topk

    c = torch.randn(1000, 16)
    c[537, 3] = float("nan")
    for metric in ("cosine", "dot"):
        with pytest.raises(InputError, match="corpus: row 537 has NaN or inf"):
            topk(torch.randn(4, 16), c, 3, metric=metric)
    q = torch.randn(4, 16)
    q[2, 0] = float("inf")
    with pytest.raises(InputError, match="queries: row 2 has NaN or inf"):
        topk(q, torch.randn(100, 16), 3)


def test_a_resume_says_which_shard_it_recomputes(tmp_path, caplog):
    ids, vec = _store(tmp_path / "s")
    shard = tmp_path / "s" / "part-00001.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="spacekit"):
        store = write_store(tmp_path / "s", ids, lambda lo, hi: vec[lo:hi], dim=8, key=KEY, shard_rows=20)
    assert "part-00001.parquet: corrupt shard" in caplog.text
    assert "recomputing from row 20" in caplog.text
    assert np.array_equal(store.load()[1], vec)


def test_store_verify_lists_every_problem(tmp_path):
    _store(tmp_path / "s")
    r = CliRunner().invoke(main, ["store", "verify", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    assert "ok (50 vectors, dim 8, 3 shards)" in r.stdout
    (tmp_path / "s" / "part-00000.parquet").write_bytes(b"garbage")
    (tmp_path / "s" / "part-00002.parquet").unlink()
    r = CliRunner().invoke(main, ["store", "verify", str(tmp_path / "s")])
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2
    assert "part-00000.parquet: corrupt shard" in lines[0]
    assert "part-00002.parquet: missing" in lines[1]


# resources -----------------------------------------------------------------------------------------------------

def test_store_tiles_hold_a_row_group_not_a_shard(tmp_path):
    ids, vec = _vectors(120_000, d=32)
    write_store(tmp_path / "s", ids, lambda lo, hi: vec[lo:hi], dim=32, key=KEY, shard_rows=120_000)
    store = open_store(tmp_path / "s")
    vec = None                                                                # only the store holds them now
    import tracemalloc

    tracemalloc.start()                                                       # numpy's allocations
    base, arrow, rows = pa.total_allocated_bytes(), 0, 0                      # and Arrow's
    for _, tile in store.tiles(1000):
        arrow, rows = max(arrow, pa.total_allocated_bytes() - base), rows + len(tile)
    numpy = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rows == 120_000
    assert arrow + numpy < 15_360_000 / 2, (arrow, numpy)                    # a 15.4 MB shard; ~6 MB held


def test_topk_over_a_store_follows_the_budget(tmp_path, monkeypatch):
    from spacekit.ops import topk
    from spacekit.store.read import Store

    ids, vec = _vectors(60_000, d=32)
    write_store(tmp_path / "s", ids, lambda lo, hi: vec[lo:hi], dim=32, key=KEY, shard_rows=60_000)
    store = open_store(tmp_path / "s")
    asked = []
    tiles = Store.tiles
    monkeypatch.setattr(Store, "tiles", lambda self, rows, *a, **kw: asked.append(rows) or tiles(self, rows, *a, **kw))
    q = torch.randn(7, 32)
    small = topk(q, store, 5, budget="1M")
    large = topk(q, store, 5, budget="64M")
    assert asked[0] * 32 * 24 <= 1 << 20 < asked[1] * 32 * 4         # the tile rows follow the budget (CPU: 24 d)
    assert torch.equal(small[1], large[1])


# the cache -----------------------------------------------------------------------------------------------------

def test_cache_clear_removes_only_what_the_cache_made(tmp_path):
    from spacekit.store.cache import clear_cache, list_cache
    from spacekit.store.key import cache_name

    root = tmp_path / "cache"
    key = {**KEY, "x": 1}
    _store(root / cache_name(key), key=key)                                   # made by the cache
    _store(root / "my-own-store")                                             # made by a user: kept
    outside = tmp_path / "precious"
    _store(outside)
    (root / "a-link").symlink_to(outside)                                     # never followed
    broken = root / cache_name({"y": 2})
    _store(broken)
    (broken / "manifest.json").write_text("{not json")                       # damaged: listed as such
    mixed = root / cache_name({"z": 3})
    mixed.mkdir()
    (mixed / "manifest.json").write_text("{not json")
    (mixed / "notes.txt").write_text("mine")                                  # not only a store's files: skipped
    r = CliRunner().invoke(main, ["cache", "ls", "--cache-dir", str(root)])
    assert r.exit_code == 0
    assert f"{broken.name}  damaged: {broken}/manifest.json: not valid JSON" in r.stdout
    assert "(`spacekit cache clear` removes it)" in r.stdout
    listed = list_cache(root)
    assert [(x["name"], bool(x["damaged"])) for x in listed] == sorted([(cache_name(key), False), (broken.name, True)])
    assert clear_cache(root) == 2
    assert not (root / cache_name(key)).exists()
    assert not broken.exists()
    assert verify_store(root / "my-own-store") == []
    assert verify_store(outside) == []
    assert (mixed / "notes.txt").read_text() == "mine"


def test_a_damaged_manifest_says_the_way_out(tmp_path, tiny_model, monkeypatch):
    from helpers import invoke, one_line_exit_2

    src = _texts(tmp_path, 10)
    out = tmp_path / "store"
    assert invoke("embed", tiny_model, src, "-o", out).exit_code == 0
    (out / "manifest.json").write_text("{broken")
    one_line_exit_2(invoke("embed", tiny_model, src, "-o", out),
                    "manifest.json: not valid JSON (Expecting property name enclosed in double quotes: line 1 "
                    "column 2 (char 1)); the store cannot be resumed: pass --overwrite to make it again")
    assert invoke("embed", tiny_model, src, "-o", out, "--overwrite").exit_code == 0
    assert verify_store(out) == []
    (out / "manifest.json").write_text("{broken")
    (out / "notes.txt").write_text("mine")
    one_line_exit_2(invoke("embed", tiny_model, src, "-o", out, "--overwrite"),
                    "--overwrite replaces only a folder holding nothing but a store's files (this one also holds "
                    "'notes.txt'): delete the folder or choose another")
    assert (out / "notes.txt").read_text() == "mine"
    cache = tmp_path / "cache"                                               # a damaged cache entry
    monkeypatch.setenv("SPACEKIT_CACHE", str(cache))
    pairs = tmp_path / "s.tsv"
    pairs.write_text("sentence1\tsentence2\tscore\n" + "".join(f"a {i}\tb {i % 3}\t{i % 4}\n" for i in range(8)))
    first = invoke("eval", "sts", tiny_model, pairs, "--json")
    assert first.exit_code == 0, first.output
    (next(cache.iterdir()) / "manifest.json").write_text("[]")
    one_line_exit_2(invoke("eval", "sts", tiny_model, pairs), "`spacekit cache clear` removes it")
    assert invoke("cache", "clear").exit_code == 0
    again = invoke("eval", "sts", tiny_model, pairs, "--json")
    assert json.loads(again.stdout)["metrics"] == json.loads(first.stdout)["metrics"]


# crashes -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clean_embed(tmp_path_factory):
    """The input and command of the crash tests, and the store an uninterrupted run makes."""
    folder = tmp_path_factory.mktemp("crash")
    src = _texts(folder, 120)
    cmd = ["embed", "builtin:minilm", str(src), "--shard-rows", "20", "--device", "cpu", "-o"]
    run_cli([*cmd, str(folder / "clean")], check=True)
    return cmd, open_store(folder / "clean").load()


# renames of a 6-shard store: 1 the first manifest, 2k + 2 shard k, 2k + 3 the manifest after it, 14 the last
@pytest.mark.model
@pytest.mark.parametrize("kill_at", [1, 4, 13, 14])
def test_kill_between_temp_write_and_rename_then_resume(tmp_path, clean_embed, kill_at):
    """SIGKILL at the Nth atomic rename (a shard or the manifest written and synced, not yet in place): the
    resumed store verifies and equals an uninterrupted run; no temp file is left."""
    cmd, (clean_ids, clean_vec) = clean_embed
    killed = run_cli([*cmd, str(tmp_path / "s")], env={**os.environ, "SPACEKIT_TEST_KILL_BEFORE_RENAME": str(kill_at)})
    assert killed.returncode == -9
    assert (tmp_path / "s" / "manifest.json").exists() or kill_at == 1
    run_cli([*cmd, str(tmp_path / "s")], check=True)
    assert verify_store(tmp_path / "s") == []
    assert [p.name for p in (tmp_path / "s").iterdir() if p.name.endswith(".tmp")] == []
    ids, vec = open_store(tmp_path / "s").load()
    assert ids == clean_ids
    assert np.allclose(vec, clean_vec, atol=1e-6)


def test_atomic_writes_get_the_mode_open_would_give(tmp_path):
    """Reports and stores are readable as any file the user writes (not mkstemp's 0600)."""
    from spacekit.files import atomic_write

    atomic_write(tmp_path / "a.json", "{}")
    (tmp_path / "b.json").write_text("{}")
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == (tmp_path / "b.json").stat().st_mode & 0o777
