"""The Parquet store: schema, round trip, resume after SIGKILL, tamper detection, refusing another key."""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_process import CliProcess, run_cli
from click.testing import CliRunner
from helpers import sts_sentences

from spacekit.cli import main
from spacekit.errors import StoreError
from spacekit.store.read import open_store
from spacekit.store.write import write_store

KEY = {"model_fingerprint": "m", "input_fingerprint": "i"}


def _vectors(n: int, d: int = 8, seed: int = 0) -> tuple[list[str], np.ndarray]:
    return [f"doc-{i}" for i in range(n)], np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def test_store_reads_back_with_pyarrow_and_pandas(tmp_path):
    ids, vec = _vectors(25)
    store = write_store(tmp_path / "s", ids, lambda lo, hi: vec[lo:hi], dim=8, key=KEY, shard_rows=10)
    assert [s["rows"] for s in store.manifest["shards"]] == [10, 10, 5]
    table = pq.read_table(tmp_path / "s" / "part-00001.parquet")
    assert table.schema.field("id").type == pa.string()
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 8)
    import pandas as pd

    df = pd.concat(pd.read_parquet(tmp_path / "s" / f) for f in sorted(os.listdir(tmp_path / "s"))
                   if f.endswith(".parquet"))
    assert df["id"].tolist() == ids
    assert np.array_equal(np.stack(df["embedding"].to_numpy()), vec)
    got_ids, got = open_store(tmp_path / "s").load()
    assert got_ids == ids
    assert np.array_equal(got, vec)


def test_float16_store_and_tiles(tmp_path):
    ids, vec = _vectors(23)
    store = write_store(tmp_path / "s", ids, lambda lo, hi: vec[lo:hi], dim=8, key=KEY, shard_rows=7,
                        dtype="float16")
    assert pq.read_table(tmp_path / "s" / "part-00000.parquet").schema.field("embedding").type == \
        pa.list_(pa.float16(), 8)
    tiles = list(store.tiles(5))
    assert [t.shape[0] for _, t in tiles] == [5, 5, 5, 5, 3]
    assert [s for s, _ in tiles] == [0, 5, 10, 15, 20]
    assert np.allclose(np.concatenate([t.numpy() for _, t in tiles]), vec, atol=2e-3)


def test_tampered_shard_is_detected_and_recomputed_on_resume(tmp_path):
    ids, vec = _vectors(30)
    calls = []

    def embed(lo, hi):
        calls.append((lo, hi))
        return vec[lo:hi]

    write_store(tmp_path / "s", ids, embed, dim=8, key=KEY, shard_rows=10)
    shard = tmp_path / "s" / "part-00001.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"part-00001\.parquet: corrupt shard"):
        open_store(tmp_path / "s").load()
    calls.clear()
    store = write_store(tmp_path / "s", ids, embed, dim=8, key=KEY, shard_rows=10)
    assert calls == [(10, 20), (20, 30)]  # the good prefix is kept, the rest recomputed
    assert np.array_equal(store.load()[1], vec)


def test_different_key_is_refused_unless_overwrite(tmp_path):
    ids, vec = _vectors(5)
    write_store(tmp_path / "s", ids, lambda lo, hi: vec[lo:hi], dim=8, key=KEY)
    other = {**KEY, "model_fingerprint": "other"}
    with pytest.raises(StoreError, match="different cache key \\(model_fingerprint differ"):
        write_store(tmp_path / "s", ids, lambda lo, hi: vec[lo:hi], dim=8, key=other)
    store = write_store(tmp_path / "s", ids, lambda lo, hi: vec[lo:hi] * 2, dim=8, key=other, overwrite=True)
    assert np.array_equal(store.load()[1], vec * 2)


def test_nan_vectors_leave_no_store(tmp_path):
    ids, vec = _vectors(20)
    vec[13, 2] = np.nan
    with pytest.raises(StoreError, match="id 'doc-13': embedding has NaN"):
        write_store(tmp_path / "s", ids, lambda lo, hi: vec[lo:hi], dim=8, key=KEY, shard_rows=5)
    assert not (tmp_path / "s").exists()


@pytest.mark.model
def test_sigkill_mid_embed_then_resume_equals_uninterrupted_run(tmp_path):
    texts = sts_sentences("dev")[:1200]                                # 8 shards of 150
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"s{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    cmd = ["embed", "builtin:minilm", str(src), "--shard-rows", "150", "--device", "cpu", "-o"]
    proc = CliProcess([*cmd, str(tmp_path / "killed")])
    manifest = tmp_path / "killed" / "manifest.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if manifest.exists() and len(json.loads(manifest.read_text())["shards"]) >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(manifest.read_text())
    assert not killed_at["complete"], "the kill did not land mid-run"
    assert 3 <= len(killed_at["shards"]) < 8, "the kill did not land mid-run"
    run_cli([*cmd, str(tmp_path / "killed")], check=True)
    run_cli([*cmd, str(tmp_path / "clean")], check=True)
    ids_a, a = open_store(tmp_path / "killed").load()
    ids_b, b = open_store(tmp_path / "clean").load()
    assert ids_a == ids_b == [f"s{i}" for i in range(len(texts))]
    assert np.allclose(a, b, atol=1e-6)


@pytest.mark.model
def test_cli_embed_refuses_other_model_into_same_store(tmp_path, tiny_model):
    src = tmp_path / "in.csv"
    src.write_text("id,text\na,hello\nb,world\n")
    runner = CliRunner()
    ok = runner.invoke(main, ["embed", "builtin:minilm", str(src), "-o", str(tmp_path / "s")])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(main, ["embed", str(tiny_model), str(src), "-o", str(tmp_path / "s")])
    assert bad.exit_code == 2
    assert "different cache key" in bad.stderr
    assert "Traceback" not in bad.output
    again = runner.invoke(main, ["embed", str(tiny_model), str(src), "-o", str(tmp_path / "s"), "--overwrite"])
    assert again.exit_code == 0
    assert open_store(tmp_path / "s").dim == 32


def test_store_model_reads_vectors_by_id(tmp_path):
    from spacekit.embed import encode, load_model

    ids, vec = _vectors(6)
    write_store(tmp_path / "s", ids, lambda lo, hi: vec[lo:hi], dim=8, key=KEY)
    model = load_model(f"store:{tmp_path / 's'}")
    assert np.array_equal(encode(model, ["t"] * 2, ids=["doc-4", "doc-1"]), vec[[4, 1]])
    with pytest.raises(StoreError, match="not in the store"):
        encode(model, ["t"], ids=["nope"])


