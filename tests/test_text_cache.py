"""The cache is addressed by text: texts shared by tasks, the leakage check, drift and probes are encoded once per
model setting; a damaged shard is reported and its texts encoded again."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner

from spacekit.cli import main
from spacekit.embed import EncodeOptions, load_model
from spacekit.embed.model import TransformerModel


def _count_encodes(monkeypatch) -> Counter:
    """(model spec, prompt, text) -> how often the network encoded it."""
    seen: Counter = Counter()
    real = TransformerModel.encode

    def counting(self, texts, **kwargs):
        seen.update((self.spec, kwargs.get("prompt", ""), t) for t in texts)
        return real(self, texts, **kwargs)
    monkeypatch.setattr(TransformerModel, "encode", counting)
    return seen


@pytest.mark.model
def test_texts_shared_by_tasks_are_encoded_once_per_model(tmp_path, monkeypatch, tiny_model):
    """Classification and clustering over the same test texts, STS over some of them, the training file, drift
    and the probes: every (model, prompt, text) reaches the network once in the whole compare."""
    texts = [f"how do I {verb} my {thing}" for verb in ("reset", "block", "renew", "close")
             for thing in ("card", "account", "pin", "app", "loan")]
    labels = [t.split()[3] for t in texts]
    rows = list(zip(texts, labels, strict=True))
    (tmp_path / "train.csv").write_text("text,label\n" + "".join(f"please {t},{x}\n" for t, x in rows))
    (tmp_path / "test.csv").write_text("text,label\n" + "".join(f"{t},{x}\n" for t, x in rows))
    (tmp_path / "sts.tsv").write_text("sentence1\tsentence2\tscore\n" + "".join(
        f"{texts[i]}\t{texts[i + 1]}\t{i % 5}\n" for i in range(18)))
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps({"anchor": t, "positive": f"about {t}"}) + "\n"
                                                  for t in texts[:6]))
    (tmp_path / "suite.toml").write_text("""
[[task]]
name = "intent"
kind = "classification"
train = "train.csv"
test = "test.csv"
[[task]]
name = "groups"
kind = "clustering"
data = "test.csv"
runs = 2
[[task]]
name = "sts"
kind = "sts"
data = "sts.tsv"
tag = "holdout"
[[task]]
name = "probes"
kind = "probes"
""")
    seen = _count_encodes(monkeypatch)
    result = CliRunner().invoke(main, ["compare", "builtin:minilm", str(tiny_model), "--suite",
                                       str(tmp_path / "suite.toml"), "-o", str(tmp_path / "out"), "--resamples", "200",
                                       "--train", str(tmp_path / "pairs.jsonl"), "--quiet"])
    assert result.exit_code == 0, (result.output, __import__("traceback").format_exception(*result.exc_info))
    from spacekit.progress import REPORTER

    assert not REPORTER.quiet                          # --quiet held for that command, not for the process after it
    twice = [k for k, n in seen.items() if n > 1]
    assert twice == [], twice[:3]
    for spec in ("builtin:minilm", str(tiny_model)):
        mine = {t for s, _, t in seen if s == spec}
        assert set(texts) <= mine                                     # each test text, once
        assert {f"please {t}" for t in texts} <= mine


@pytest.mark.model
def test_a_later_list_encodes_only_its_new_texts_and_a_damaged_shard_is_recomputed(tmp_path, monkeypatch, caplog):
    model = load_model("builtin:minilm")
    opts = EncodeOptions(cache_dir=str(tmp_path / "cache"))
    seen = _count_encodes(monkeypatch)
    first = opts.embed(model, ["a", "b"], ["one text", "two texts"])
    both = opts.embed(model, ["x", "y", "z"], ["two texts", "three texts", "one text"])
    assert sum(seen.values()) == 3                                   # the second list encoded only its new text
    assert np.array_equal(both[[2, 0]], first)
    assert np.array_equal(both[1], opts.embed(model, ["t"], ["three texts"])[0])  # the new row where it belongs
    assert not np.allclose(both[1], both[0])
    shard = sorted((tmp_path / "cache").rglob("part-00000.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[:-8] + b"tampered")
    again = opts.embed(model, ["a", "b"], ["one text", "two texts"])
    assert "corrupt shard" in caplog.text
    assert "computed again" in caplog.text
    assert np.allclose(again, first, atol=1e-6)
    assert seen[("builtin:minilm", "", "one text")] == 2              # encoded again, once, after the damage


def test_a_long_stage_writes_a_plain_line_every_interval(monkeypatch, capfd):
    """stderr not a terminal (a log file): the stage's name, then a line per interval with counts, rate and ETA;
    nothing at all when quiet."""
    import time

    from spacekit import progress

    monkeypatch.setattr(progress, "INTERVAL", 0.3)
    reporter = progress.Reporter()
    with reporter.stage("task scifact (retrieval), before model"):
        reporter.count(1000)
        for _ in range(8):
            time.sleep(0.2)
            reporter.advance(50)
    lines = capfd.readouterr().err.splitlines()
    assert lines[0].endswith("task scifact (retrieval), before model")
    beats = [line for line in lines[1:] if "texts," in line]
    assert len(beats) >= 3, lines
    assert "/1,000 texts" in beats[-1]
    assert "/s, ETA" in beats[-1]
    reporter.quiet = True
    with reporter.stage("silent"):
        time.sleep(0.8)
    assert capfd.readouterr().err == ""


@pytest.mark.model
def test_dtype_auto_and_the_precision_in_the_cache_key(tmp_path, monkeypatch):
    """auto: bf16 only on a CPU with AMX; fp16 on the CPU refused; vectors of each precision cached apart."""
    import pytest
    import torch

    from spacekit import backend
    from spacekit.errors import InputError

    cpu = torch.device("cpu")
    monkeypatch.setattr(backend, "cpu_has_amx", lambda: False)
    assert backend.dtype_name("auto", cpu) == "fp32"
    monkeypatch.setattr(backend, "cpu_has_amx", lambda: True)
    assert backend.dtype_name("auto", cpu) == "bf16"
    assert backend.dtype("bf16", cpu) == torch.bfloat16
    with pytest.raises(InputError, match="fp16 runs on a GPU only"):
        backend.dtype("fp16", cpu)
    model = load_model("builtin:minilm")
    seen = _count_encodes(monkeypatch)
    texts = ["a sentence about caching", "another one"]
    fp32 = EncodeOptions(cache_dir=str(tmp_path), dtype="fp32").embed(model, texts, texts)
    bf16 = EncodeOptions(cache_dir=str(tmp_path), dtype="bf16").embed(model, texts, texts)
    assert seen[("builtin:minilm", "", texts[0])] == 2                 # not served fp32 vectors for bf16
    assert not np.array_equal(fp32, bf16)
    assert float((fp32 * bf16).sum(1).min()) > 0.999


class _SlowEncoder:
    """An Encoder whose encode takes `seconds` and records when it ran (vectors: a hash of each text)."""

    def __init__(self, seconds: float, spans: list):
        self.seconds, self.spans = seconds, spans
        self.dim, self.cacheable = 4, True

    def cache_key(self, prompt: str = "") -> dict:
        return {"model": "slow", "prompt": prompt}

    def encode(self, texts, *, ids=None, prompt="", placement=None, progress=True):
        import time
        start = time.perf_counter()
        time.sleep(self.seconds)
        self.spans.append((start, time.perf_counter()))
        return np.array([[len(t), sum(map(ord, t)) % 97, 1.0, 2.0] for t in texts], dtype=np.float32)


def test_two_users_of_one_model_encode_at_once_and_a_waiting_one_says_so(tmp_path, caplog):
    """The cache's lock is held to read and to append, never while encoding: two callers with one model and
    different texts encode at the same time, and both sets end up in the cache; a caller that must wait for the lock
    says whom it waits for at once."""
    import logging
    import threading
    import time

    from spacekit.store.key import cache_name, text_cache_key
    from spacekit.store.text_cache import cached_vectors
    from spacekit.store.write import store_lock

    spans: list = []
    model = _SlowEncoder(1.0, spans)
    sets = [[f"first {i}" for i in range(5)], [f"second {i}" for i in range(7)]]
    out: dict = {}
    threads = [threading.Thread(target=lambda n=n: out.update({n: cached_vectors(model, sets[n], tmp_path)}))
               for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a0, a1), (b0, b1) = spans
    assert max(a0, b0) < min(a1, b1)                             # the two encodes overlapped
    again = cached_vectors(_SlowEncoder(0.0, spans), sets[0] + sets[1], tmp_path)
    assert len(spans) == 2                                       # both sets were in the cache: nothing encoded
    assert np.array_equal(again, np.concatenate([out[0], out[1]]))
    path = tmp_path / cache_name(text_cache_key(model, "", "fp32"))
    waited: list[float] = []
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="spacekit"), store_lock(path):
        start = time.perf_counter()
        waiter = threading.Thread(target=lambda: cached_vectors(model, ["third"], tmp_path))
        waiter.start()
        while "waiting for spacekit" not in caplog.text and time.perf_counter() - start < 5:
            time.sleep(0.02)
        waited.append(time.perf_counter() - start)
    waiter.join()
    assert f"waiting for spacekit (PID {__import__('os').getpid()}), which is writing {path}" in caplog.text
    assert waited[0] < 2.0


def test_a_read_only_cache_that_holds_every_vector_still_serves_them(tmp_path, monkeypatch):
    """Opening a lock file for writing fails on a read-only cache: reading needs no lock, so the vectors are
    served; only a text the cache lacks (which must be written) meets the system's refusal."""
    import errno
    import os

    import spacekit.store.write as write
    from spacekit.store.text_cache import cached_vectors

    spans: list = []
    texts = [f"text {i}" for i in range(6)]
    want = cached_vectors(_SlowEncoder(0.0, spans), texts, tmp_path)
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(write.os, "open", read_only)
    assert np.array_equal(cached_vectors(_SlowEncoder(0.0, spans), texts[::-1], tmp_path), want[::-1])
    assert len(spans) == 1                                          # served from the cache, nothing encoded
    with pytest.raises(OSError, match="Read-only file system"):
        cached_vectors(_SlowEncoder(0.0, spans), ["a text it lacks"], tmp_path)
