"""Rerankers (issue 33): a cross-encoder scores pairs exactly as sentence-transformers' CrossEncoder.predict does,
in every layout it saves, and a retrieval task reranks both models' first stages with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from spacekit.embed.cross_encoder import load_cross_encoder

PAIRS = [("what is a cat", "a cat is a small domesticated carnivorous mammal"), ("x", "y z"),
         ("a much longer query about the evaluation of rerankers " * 4, "short"),
         ("q", "a document that is long enough to be cut at the max length " * 20), ("", "empty query")]


def make_cross_encoder(folder: Path, minilm: Path, *, seed: int = 0, layout: str = "st", max_length: int = 48,
                       activation: str | None = None) -> Path:
    """A tiny random BERT cross-encoder (one label) with MiniLM's tokenizer: saved by sentence-transformers (st),
    or as a plain Hugging Face folder with the v4 config key (hf)."""
    import torch
    import transformers

    torch.manual_seed(seed)
    cfg = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=128, num_labels=1)
    hf = folder / "hf" if layout == "st" else folder
    transformers.BertForSequenceClassification(cfg).save_pretrained(hf)
    for name in ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
        if (minilm / name).exists():
            shutil.copy(minilm / name, hf / name)
    if layout == "hf":
        config = json.loads((hf / "config.json").read_text())
        if activation:
            config["sentence_transformers"] = {"activation_fn": activation}
        (hf / "config.json").write_text(json.dumps(config))
        tok = json.loads((hf / "tokenizer_config.json").read_text())
        (hf / "tokenizer_config.json").write_text(json.dumps({**tok, "model_max_length": max_length}))
        return hf
    from sentence_transformers import CrossEncoder

    kwargs = {"activation_fn": _torch_activation(activation)} if activation else {}
    CrossEncoder(str(hf), max_length=max_length, **kwargs).save(str(folder / "st"))
    return folder / "st"


def _torch_activation(path: str):
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)()


@pytest.mark.parametrize(("layout", "activation"), [("st", None), ("st", "torch.nn.modules.linear.Identity"),
                                                    ("hf", None), ("hf", "torch.nn.modules.activation.Tanh")])
def test_scores_equal_cross_encoder_predict(tmp_path, minilm_path, layout, activation):
    from sentence_transformers import CrossEncoder

    folder = make_cross_encoder(tmp_path / "ce", minilm_path, layout=layout, activation=activation)
    theirs = CrossEncoder(str(folder), device="cpu").predict(PAIRS, batch_size=2)
    ours = load_cross_encoder(folder).score([q for q, _ in PAIRS], [d for _, d in PAIRS])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    assert len(set(np.round(ours, 7))) == len(PAIRS)               # distinct pairs, distinct scores
    if activation is None:
        assert ((ours > 0) & (ours < 1)).all()                      # Sigmoid by default


def test_each_pair_is_scored_once(tmp_path, minilm_path, monkeypatch):
    model = load_cross_encoder(make_cross_encoder(tmp_path / "ce", minilm_path))
    model.scored.clear()
    calls = []
    real = model._predict
    monkeypatch.setattr(model, "_predict", lambda q, d, p: calls.append(len(q)) or real(q, d, p))
    first = model.score(["a", "b", "a"], ["d1", "d2", "d1"])
    again = model.score(["b", "c"], ["d2", "d3"])
    assert calls == [2, 1]
    assert first[0] == first[2]
    assert again[0] == first[1]


def test_a_folder_that_is_no_reranker_is_one_line(tmp_path, tiny_model, minilm_path):
    with pytest.raises(Exception, match="not a cross-encoder"):
        load_cross_encoder(tiny_model)
    folder = make_cross_encoder(tmp_path / "ce", minilm_path, layout="hf")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "sentence_transformers": {"activation_fn":
                                                                                          "mypackage.Evil"}}))
    with pytest.raises(Exception, match=r"activation 'mypackage\.Evil' is not one of torch's"):
        load_cross_encoder(folder)
