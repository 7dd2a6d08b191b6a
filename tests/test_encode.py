"""Embeddings equal sentence-transformers' for the built-in model and for every pooling mode."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_tiny_model, sts_sentences

from spacekit.embed import encode, load_model
from spacekit.embed.batching import Batch, token_budget_batches
from spacekit.embed.encoder import Placed, embed_batch, on_device
from spacekit.errors import InputError


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.real
def test_builtin_minilm_equals_sentence_transformers_on_sts_dev(minilm_path):
    from sentence_transformers import SentenceTransformer

    texts = sts_sentences("dev")
    ours = encode(load_model("builtin:minilm"), texts, device="cpu")
    ref = SentenceTransformer(str(minilm_path), device="cpu").encode(texts, normalize_embeddings=True)
    cos = _cosines(ours, ref)
    assert len(texts) > 2500
    assert cos.min() >= 0.99999, f"worst text: {texts[int(cos.argmin())]!r} cos={cos.min()}"
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)  # the model's Normalize module


@pytest.mark.parametrize(("pooling", "normalize"), [("mean", False), ("cls", True), ("max", False)])
def test_pooling_modes_equal_sentence_transformers(tmp_path, minilm_path, pooling, normalize):
    from sentence_transformers import SentenceTransformer

    folder = make_tiny_model(tmp_path, minilm_path, pooling=pooling, normalize=normalize, max_seq_length=12)
    texts = ["a short one", "  padded with spaces  ", "a considerably longer sentence that will be truncated "
             "at twelve tokens by max_seq_length", "x", "Mixed CASE Text!"] * 3
    ours = encode(load_model(folder), texts, device="cpu", batch_tokens=40)
    ref = SentenceTransformer(str(folder), device="cpu").encode(texts, normalize_embeddings=False)
    assert _cosines(ours, ref).min() >= 0.99999
    assert np.allclose(ours, ref, atol=1e-5)


def test_plain_transformers_folder_defaults_to_mean_pooling(tmp_path, minilm_path):
    import torch
    import transformers

    folder = make_tiny_model(tmp_path, minilm_path, st_layout=False)
    model = load_model(folder)
    assert model.config.pooling == "mean"
    assert not model.config.normalize
    texts = ["one text", "another, longer text here"]
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    net = transformers.AutoModel.from_pretrained(folder).eval()
    with torch.no_grad():
        batch = tok(texts, padding=True, return_tensors="pt")
        h = net(**batch).last_hidden_state
        m = batch["attention_mask"].unsqueeze(-1).float()
        ref = ((h * m).sum(1) / m.sum(1)).numpy()
    assert np.allclose(encode(model, texts), ref, atol=1e-5)


def test_token_budget_batches_cover_every_index_once_within_budget():
    lengths = np.array([5, 100, 3, 64, 64, 7, 1, 250, 12])
    batches = token_budget_batches(lengths, batch_tokens=256)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert lengths[flat].tolist() == sorted(lengths.tolist(), reverse=True)
    for b in batches:
        assert len(b) == 1 or len(b) * lengths[b].max() <= 256


def test_not_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="not a model folder"):
        load_model(tmp_path)
    with pytest.raises(InputError, match="model not found"):
        load_model(tmp_path / "missing")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(InputError, match="no tokenizer files"):
        load_model(tmp_path)
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    with pytest.raises(InputError, match="no max length"):                # no length anywhere: not guessed
        load_model(tmp_path)
    (tmp_path / "config.json").write_text('{"max_position_embeddings": 512}')
    with pytest.raises(InputError, match="not a loadable model"):
        load_model(tmp_path)
    with pytest.raises(InputError, match="unknown built-in"):
        load_model("builtin:nope")


@pytest.mark.model
def test_padded_batches_read_no_device_values(minilm_path, monkeypatch):
    """A forward pass never turns a tensor into a Python value (on a GPU each such read waits for the device, so
    the host could not queue batches ahead): the padding mask is handed over in the 4-d form transformers would
    build, skipping its "is anything padded?" check; the vectors equal those of the 2-d mask."""
    import torch
    import transformers

    if int(transformers.__version__.split(".")[0]) < 5:
        pytest.skip("transformers < 5 builds the 4-d mask itself (the 2-d mask is used)")
    model = load_model(minilm_path)
    placed = on_device(model, torch.device("cpu"), torch.float32)
    assert placed.full_mask
    texts = ["a short one", "a rather longer sentence, with a few more tokens in it", "mid length text"]
    ids = model.tokenizer.ids(texts)
    width = max(map(len, ids))
    ids_t = torch.tensor([row + [0] * (width - len(row)) for row in ids])
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids])
    batch = Batch(np.arange(3), ids_t, mask, padded=True)

    def device_read(*args, **kwargs):
        raise AssertionError("a device value was read during the forward pass")

    with monkeypatch.context() as m:
        for name in ("__bool__", "item", "tolist"):
            m.setattr(torch.Tensor, name, device_read)
        with torch.inference_mode():
            ours = embed_batch(model, placed, batch)
    with torch.inference_mode():
        given = embed_batch(model, Placed(placed.net, full_mask=False, head=placed.head), batch)
    assert torch.allclose(ours, given, atol=1e-6)
    assert not torch.allclose(ours[0], given[1], atol=1e-2)  # the rows differ: the comparison can fail


@pytest.mark.model
def test_attention_runs_without_cudnn(minilm_path, monkeypatch):
    """Every attention call of a forward pass runs with cuDNN's SDPA kernel switched off (on Hopper it would build
    a plan per new batch shape), and only then: the switch is restored afterwards."""
    import torch

    model = load_model(minilm_path)
    placed = on_device(model, torch.device("cpu"), torch.float32)
    sdpa = torch.nn.functional.scaled_dot_product_attention
    cudnn_on = []

    def spy(*args, **kwargs):
        cudnn_on.append(torch.backends.cuda.cudnn_sdp_enabled())
        return sdpa(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    ids = torch.tensor(model.tokenizer.ids(["one text to embed", "and another"])[:1])
    before = torch.backends.cuda.cudnn_sdp_enabled()
    with torch.inference_mode():
        embed_batch(model, placed, Batch(np.arange(1), ids, torch.ones_like(ids), padded=False))
    assert len(cudnn_on) == model.net.config.num_hidden_layers
    assert not any(cudnn_on)
    assert torch.backends.cuda.cudnn_sdp_enabled() == before
