"""Model folders written by the installed sentence-transformers: spacekit's vectors equal SentenceTransformer's
(encode / encode_query / encode_document, with prompts, include_prompt false, Dense, LayerNorm, last-token pooling
with left padding, a max length held only by the tokenizer) at cosine >= 0.99999, on texts past the max length."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import make_tiny_model

from spacekit.embed import encode, load_model
from spacekit.embed.prompts import Prompt, PromptChoice
from spacekit.errors import InputError

PROMPTS = {"query": "query: ", "document": "passage: ", "classification": "Classify the topic: "}
LONG = ("Heart attack risk rises with age, blood pressure and smoking; statins lower it in most trials. " * 30)
TEXTS = ["What lowers the risk of a heart attack?", "  leading and trailing spaces  ", LONG, "Ünïcödé ßtraße 東京",
         "short", LONG[:700], "Statins and blood pressure. " * 3]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def _assert_same(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape
    assert _cosines(ours, theirs).min() >= 0.99999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), np.linalg.norm(theirs, axis=1), rtol=1e-4)


def _st(folder: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu")


def _bert_st_model(tmp: Path, minilm: Path, *, pooling: str, include_prompt: bool, dense: bool, layer_norm: bool,
                   normalize: bool):
    """A tiny random BERT built and saved by sentence-transformers, with the given modules and PROMPTS."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense, Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import LayerNorm, Pooling

    plain = make_tiny_model(tmp / "plain", minilm, st_layout=False)
    torch.manual_seed(1)
    modules = [Transformer(str(plain)), Pooling(32, pooling_mode=pooling, include_prompt=include_prompt)]
    if dense:
        modules.append(Dense(32, 24, activation_function=torch.nn.GELU()))
    if layer_norm:
        modules.append(LayerNorm(24 if dense else 32))
        torch.nn.init.normal_(modules[-1].norm.weight)
    if normalize:
        modules.append(Normalize())
    st = SentenceTransformer(modules=modules, device="cpu", prompts=PROMPTS, default_prompt_name="classification")
    st.save(str(tmp / "st"))
    return tmp / "st"


@pytest.mark.parametrize(("pooling", "include_prompt", "dense", "layer_norm", "normalize"), [
    ("mean", False, True, False, True), ("mean", True, False, False, False), ("cls", False, True, True, False),
    ("max", False, False, True, True), ("weightedmean", False, True, False, False),
    ("lasttoken", True, False, False, True), ("mean_sqrt_len_tokens", False, True, True, True)])
def test_st_saved_modules_and_prompts_match_sentence_transformers(tmp_path, minilm_path, pooling, include_prompt,
                                                                   dense, layer_norm, normalize):
    folder = _bert_st_model(tmp_path, minilm_path, pooling=pooling, include_prompt=include_prompt, dense=dense,
                            layer_norm=layer_norm, normalize=normalize)
    st, ours = _st(folder), load_model(folder)
    assert ours.config.max_seq_length == st.max_seq_length == 128      # tokenizer's 256, capped at the positions
    assert ours.dim == (24 if dense else 32)
    for role, theirs in [("query", st.encode_query(TEXTS)), ("document", st.encode_document(TEXTS)),
                         (None, st.encode(TEXTS))]:
        _assert_same(encode(ours, TEXTS, prompt=ours.prompt_for(role), batch_tokens=300), theirs)
    for name in PROMPTS:
        _assert_same(encode(ours, TEXTS, prompt=ours.prompt_for(None, PromptChoice(default=Prompt(name=name)))),
                     st.encode(TEXTS, prompt_name=name))
    _assert_same(encode(ours, TEXTS, prompt="Represent this: "), st.encode(TEXTS, prompt="Represent this: "))


def test_last_token_pooling_with_left_padding_matches_sentence_transformers(tmp_path, minilm_path):
    """A tiny decoder (Qwen3 layout: rotary positions, causal attention) whose tokenizer pads on the left, pooled
    at its last token, with prompts that are left out of nothing (include_prompt true) and one that is."""
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    torch.manual_seed(2)
    cfg = transformers.Qwen3Config(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                   num_key_value_heads=1, head_dim=16, intermediate_size=64,
                                   max_position_embeddings=512)
    net_dir = tmp_path / "qwen"
    transformers.Qwen3Model(cfg).save_pretrained(net_dir)
    tok = transformers.AutoTokenizer.from_pretrained(str(minilm_path))
    tok.padding_side = "left"
    tok.save_pretrained(net_dir)
    for include_prompt in (True, False):
        st = SentenceTransformer(modules=[Transformer(str(net_dir)), Pooling(32, "lasttoken", include_prompt),
                                          Normalize()], device="cpu", prompts=PROMPTS)
        folder = tmp_path / f"st-{include_prompt}"
        st.save(str(folder))
        st, ours = _st(folder), load_model(folder)
        assert ours.config.padding_side == "left"
        assert ours.config.pooling == "last"
        _assert_same(encode(ours, TEXTS, prompt=ours.prompt_for("query"), batch_tokens=300), st.encode_query(TEXTS))
        _assert_same(encode(ours, TEXTS, prompt=ours.prompt_for("document")), st.encode_document(TEXTS))


def test_minilm_resaved_by_sentence_transformers_matches_on_long_texts(tmp_path, minilm_path):
    """ST 6 keeps max_seq_length only as the tokenizer's model_max_length (256): spacekit must read it there."""
    st = _st(minilm_path)
    st.save(str(tmp_path / "resaved"))
    assert "max_seq_length" not in json.loads((tmp_path / "resaved" / "sentence_bert_config.json").read_text())
    ours = load_model(tmp_path / "resaved")
    assert ours.config.max_seq_length == 256
    long_texts = [LONG + str(i) for i in range(4)] + TEXTS                  # ~600 tokens each: truncated at 256
    assert min(len(ids) for ids in ours.tokenizer.ids(long_texts[:4])) == 256
    _assert_same(encode(ours, long_texts), _st(tmp_path / "resaved").encode(long_texts))


def test_model_finetuned_one_step_and_saved_by_sentence_transformers_matches(tmp_path, minilm_path):
    """A tiny random model trained for one step (MultipleNegativesRankingLoss) and saved, as a user's fine-tune."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    plain = make_tiny_model(tmp_path / "plain", minilm_path, st_layout=False)
    model = SentenceTransformer(str(plain), device="cpu")
    loss = MultipleNegativesRankingLoss(model)
    anchors, positives = TEXTS[:4], TEXTS[3:7]
    features = [model.preprocess(anchors), model.preprocess(positives)]
    for f in features:
        f.pop("modality", None)
    before = model.encode(TEXTS)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    loss(features, None).backward()
    opt.step()
    model.eval()
    assert not np.allclose(model.encode(TEXTS), before)                   # the step changed the model
    model.save(str(tmp_path / "tuned"))
    _assert_same(encode(load_model(tmp_path / "tuned"), TEXTS), _st(tmp_path / "tuned").encode(TEXTS))


def test_prompts_resolve_by_role_and_unknown_names_are_refused(tmp_path, minilm_path):
    folder = tmp_path / "m"
    shutil.copytree(minilm_path, folder)
    (folder / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": {"query": "query: ", "passage": "passage: ", "sts": "sts: "}, "default_prompt_name": "sts",
         "similarity_fn_name": "dot"}))
    model = load_model(folder)
    assert model.config.similarity == "dot"
    assert model.prompt_for("query") == "query: "
    assert model.prompt_for("document") == "passage: "                     # no 'document': the 'passage' prompt
    assert model.prompt_for(None) == "sts: "
    assert model.prompt_for("query", PromptChoice(query=Prompt(text="q> "))) == "q> "
    assert model.prompt_for(None, PromptChoice(default=Prompt(name="query"))) == "query: "
    with pytest.raises(InputError, match="'nope' is not one of the model's prompts"):
        model.prompt_for(None, PromptChoice(default=Prompt(name="nope")))


@pytest.mark.parametrize(("file", "content", "message"), [
    ("modules.json", [{"type": "sentence_transformers.models.Transformer", "path": ""},
                      {"type": "sentence_transformers.models.WordWeights", "path": "1_W"}], "WordWeights"),
    ("modules.json", [{"type": "sentence_transformers.models.Transformer", "path": ""},
                      {"type": "my_code.Pooling", "path": "1_Pooling"}], "custom code"),
    ("modules.json", [{"type": "sentence_transformers.models.Transformer", "path": ""}], "no Pooling module"),
    ("sentence_bert_config.json", {"transformer_task": "sequence-classification"}, "transformer_task"),
    ("config_sentence_transformers.json", {"similarity_fn_name": "maxsim"}, "similarity_fn_name"),
    ("config_sentence_transformers.json", {"prompts": {"q": "q: "}, "default_prompt_name": "x"}, "default_prompt"),
])
def test_unsupported_layouts_are_refused_by_name(tmp_path, minilm_path, file, content, message):
    folder = tmp_path / "m"
    shutil.copytree(minilm_path, folder)
    (folder / file).write_text(json.dumps(content))
    with pytest.raises(InputError, match=message):
        load_model(folder)
