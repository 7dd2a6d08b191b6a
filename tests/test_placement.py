"""Device, precision and tokens per batch are resolved once into a backend.Placement, which Model.encode takes."""

import numpy as np
import pytest
import torch

import spacekit.embed.encoder as encoder
from spacekit import backend
from spacekit.backend import Placement
from spacekit.embed import EncodeOptions, load_model
from spacekit.errors import InputError


def test_a_request_resolves_to_a_device_a_precision_and_a_batch_size(monkeypatch):
    monkeypatch.setattr(backend, "cpu_has_amx", lambda: False)
    p = Placement.resolve("cpu", "auto", 64)
    assert (p.device, p.precision, p.batch_tokens, p.dtype) == (torch.device("cpu"), "fp32", 64, torch.float32)
    monkeypatch.setattr(backend, "cpu_has_amx", lambda: True)
    assert Placement.resolve("cpu", "auto").dtype == torch.bfloat16
    assert Placement.resolve(torch.device("cpu"), "BF16").precision == "bf16"
    with pytest.raises(InputError, match="fp16 runs on a GPU only"):
        Placement.resolve("cpu", "fp16")
    with pytest.raises(InputError, match="batch tokens must be >= 1"):
        Placement.resolve("cpu", "fp32", 0)
    with pytest.raises(InputError, match="device must be auto, cpu or cuda"):
        Placement.resolve("tpu")


def test_options_resolve_once_and_the_encoder_runs_in_the_placement_it_is_given(tiny_model, monkeypatch, tmp_path):
    resolved, batch_sizes = [], []
    original_resolve = Placement.resolve.__func__
    monkeypatch.setattr(Placement, "resolve",
                        classmethod(lambda cls, *a: resolved.append(a) or original_resolve(cls, *a)))
    original_batches = encoder.batches
    monkeypatch.setattr(encoder, "batches", lambda *a, **k: batch_sizes.append(a[4]) or original_batches(*a, **k))
    model = load_model(str(tiny_model))
    texts = [f"sentence number {i} about placement" for i in range(20)]
    opts = EncodeOptions(device="cpu", dtype="fp32", batch_tokens=40, cache_dir=str(tmp_path))
    small = opts.embed(model, texts, texts)
    more = [*texts[:5], "one more text"]
    again = opts.embed(model, more, more)
    assert resolved == [("cpu", "fp32", 40)]                           # one options object: one resolution
    assert batch_sizes == [40, 40]                                     # the placement's tokens per batch, each pass
    assert np.allclose(again[:5], small[:5])
    whole = model.encode(texts, placement=Placement(torch.device("cpu"), "fp32", None))
    assert batch_sizes[-1] == encoder.default_batch_tokens(torch.device("cpu"))
    np.testing.assert_allclose(whole, small, atol=1e-6)                # batching does not change a vector
