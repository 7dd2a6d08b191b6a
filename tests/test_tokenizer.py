"""The tokenizer: ids equal to the model's own tokenizer's, for heads of long texts and plain-ASCII texts too."""

import json

from conftest import data_path

from spacekit import tokenizer
from spacekit.encode import load_model
from spacekit.tokenizer import _splits_at_spaces, tokenize


def test_direct_rust_tokenizer_equals_the_transformers_call(tiny_model):
    model = load_model(tiny_model)
    texts = ["hello world", "", "a " * 600, "  padded  text ", "ünïcode çafé"]
    ref = model.tokenizer([t.strip() for t in texts], truncation=True,
                          max_length=model.config.max_seq_length)["input_ids"]
    assert tokenize(model, texts) == ref
    assert max(len(ids) for ids in ref) == model.config.max_seq_length   # truncation was exercised


def _heads_equal_whole(model, texts: list[str], monkeypatch) -> list[list[int]]:
    monkeypatch.setitem(model._fast, "cut_heads", False)
    whole = tokenizer.tokenize(model, texts)
    monkeypatch.setitem(model._fast, "cut_heads", True)
    assert tokenizer.tokenize(model, texts) == whole
    return whole


def test_long_texts_tokenised_from_their_heads_equal_the_whole_texts(tiny_model, monkeypatch):
    model = load_model(tiny_model)                                 # max_seq_length 64: heads of 6 x 64 characters
    tokenizer._fast_tokenizer(model)
    assert model._fast["cut_heads"]                                # BERT pre-tokeniser and normaliser
    limit = tokenizer.HEAD_CHARS_PER_TOKEN * model.config.max_seq_length
    assert limit == 384                                            # the last text is built around it: a head cut
    texts = ["électro-magnétique " * 40,                           # cut mid-text at a space
             "x" * (limit + 50) + " tail words",                   # one long word: the head falls short, redone
             "a" * limit + " " + "b " * 300,                       # a space exactly at the limit
             "https://example.org/" + "x" * 3000,                  # no space after the limit: not cut
             "1234567890 " * 30 + "word " * 200,                   # digits: many characters per token
             "short text",
             "market " * 45 + "the " * 11 + "electroencephalographically " + "x " * 100]   # at 384: mid-word
    whole = _heads_equal_whole(model, texts, monkeypatch)
    assert [len(ids) for ids in whole] == [64, 5, 64, 11, 64, 4, 64]         # over-long words: one [UNK]


def test_real_abstracts_tokenised_from_their_heads_equal_the_whole_texts(tiny_model, monkeypatch):
    lines = list(data_path("scifact", "corpus.jsonl").open(encoding="utf-8"))[:600]
    abstracts = [json.loads(x)["text"] for x in lines]
    texts = [" ".join(abstracts[i:i + 3]) for i in range(0, 600, 3)]             # ~4,500 characters each
    model = load_model(tiny_model)
    whole = _heads_equal_whole(model, abstracts + texts, monkeypatch)
    assert sum(len(ids) == model.config.max_seq_length for ids in whole) > 700   # truncation throughout


def test_only_space_splitting_tokenizers_are_tokenised_from_heads():
    bert = {"pre_tokenizer": {"type": "BertPreTokenizer"}, "normalizer": {"type": "BertNormalizer"}}
    assert _splits_at_spaces(bert)
    assert _splits_at_spaces({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "Digits"}]}, "normalizer": None})
    assert not _splits_at_spaces({"pre_tokenizer": {"type": "ByteLevel"}, "normalizer": None})
    assert not _splits_at_spaces({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Metaspace"}, {"type": "Whitespace"}]}, "normalizer": None})
    assert not _splits_at_spaces({**bert, "normalizer": {"type": "Replace"}})
    assert not _splits_at_spaces({**bert, "added_tokens": [{"content": "new york"}]})
    assert not _splits_at_spaces({"pre_tokenizer": None, "normalizer": None})
