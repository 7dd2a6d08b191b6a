"""The tokenizer: ids equal to the model's own tokenizer's, for heads of long texts and plain texts too."""

import json
import string

import pytest
from helpers import data_path

from spacekit.embed import load_model, tokenizer
from spacekit.embed.tokenizer import _splits_at_spaces


def test_direct_rust_tokenizer_equals_the_transformers_call(tiny_model):
    model = load_model(tiny_model)
    texts = ["hello world", "", "a " * 600, "  padded  text ", "ünïcode çafé"]
    ref = model.tokenizer.hf([t.strip() for t in texts], truncation=True,
                             max_length=model.config.max_seq_length)["input_ids"]
    assert model.tokenizer.ids(texts) == ref
    assert max(len(ids) for ids in ref) == model.config.max_seq_length   # truncation was exercised


def _same_ids_without(shortcut: str, model, texts: list[str], monkeypatch) -> list[list[int]]:
    """Ids with the tokenizer's shortcut `shortcut` ("cut_heads" or "plain") equal those without it."""
    shortcuts = model.tokenizer.shortcuts
    assert getattr(shortcuts, shortcut)                            # the shortcut applies to this tokenizer
    with_it = model.tokenizer.ids(texts)
    monkeypatch.setattr(shortcuts, shortcut, None)
    assert model.tokenizer.ids(texts) == with_it
    return with_it


def test_long_texts_tokenised_from_their_heads_equal_the_whole_texts(tiny_model, monkeypatch):
    model = load_model(tiny_model)                                 # max_seq_length 64: heads of 6 x 64 characters
    assert model.tokenizer.shortcuts.cut_heads                     # BERT pre-tokeniser and normaliser
    limit = tokenizer.HEAD_CHARS_PER_TOKEN * model.config.max_seq_length
    assert limit == 384                                            # the last text is built around it: a head cut
    texts = ["électro-magnétique " * 40,                           # cut mid-text at a space
             "x" * (limit + 50) + " tail words",                   # one long word: the head falls short, redone
             "a" * limit + " " + "b " * 300,                       # a space exactly at the limit
             "https://example.org/" + "x" * 3000,                  # no space after the limit: not cut
             "1234567890 " * 30 + "word " * 200,                   # digits: many characters per token
             "short text",
             "market " * 45 + "the " * 11 + "electroencephalographically " + "x " * 100]   # at 384: mid-word
    whole = _same_ids_without("cut_heads", model, texts, monkeypatch)
    assert [len(ids) for ids in whole] == [64, 5, 64, 11, 64, 4, 64]         # over-long words: one [UNK]


@pytest.mark.real
def test_real_abstracts_tokenised_from_their_heads_equal_the_whole_texts(tiny_model, monkeypatch):
    lines = list(data_path("scifact", "corpus.jsonl").open(encoding="utf-8"))[:600]
    abstracts = [json.loads(x)["text"] for x in lines]
    texts = [" ".join(abstracts[i:i + 3]) for i in range(0, 600, 3)]             # ~4,500 characters each
    model = load_model(tiny_model)
    whole = _same_ids_without("cut_heads", model, abstracts + texts, monkeypatch)
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


def _fuzz(seed: int = 7) -> list[str]:
    """Random strings over every plain character, and words mixed with specials, accents, controls, CJK."""
    import numpy as np

    rng = np.random.default_rng(seed)
    extra = tokenizer.PLAIN_PUNCTUATION + tokenizer.PLAIN_WORD_CHARACTERS
    alphabet = list(string.ascii_letters + string.digits + string.punctuation + " " * 8 + "\t\n\r" + extra)
    pieces = ["[SEP]", "[MASK]", "[cls]", "[unused3]", "don't", "U.S.A.", "e-mail", "ÉCOLE", "naïve", "\x00", "\x0b",
              "\x7f", "日本", "\u00a0", "\ufffd", "≠", "ΐ", "Å", "ﬁ", "½", "\u200b", "x²"]
    fuzz = ["".join(rng.choice(alphabet, size=int(rng.integers(0, 80)))) for _ in range(2000)]
    return fuzz + [" ".join(rng.choice([*pieces, "word", "Word", "WORD", *extra], size=8)) for _ in range(400)]


@pytest.mark.real
def test_plain_texts_through_the_light_copy_equal_the_full_tokenizer(minilm_path, monkeypatch):
    import numpy as np

    sts = [line.split("\t")[5] for line in data_path("stsbenchmark", "sts-dev.csv").open(encoding="utf-8")]
    banking = data_path("banking77", "train.csv").read_text(encoding="utf-8").splitlines()[1:3000]
    lines = list(data_path("scifact", "corpus.jsonl").open(encoding="utf-8"))[:1500]
    scifact = [json.loads(x)["title"] + " " + json.loads(x)["text"] for x in lines]
    texts = _fuzz() + sts + banking + scifact
    is_plain = [tokenizer.plain(t.strip()) for t in texts]
    assert 0.3 < np.mean(is_plain) < 0.99                          # both routes taken
    assert any(p and not t.isascii() for p, t in zip(is_plain, texts, strict=True))   # the listed characters too
    model = load_model(minilm_path)
    _same_ids_without("plain", model, texts, monkeypatch)


def test_plain_characters_are_left_alone_by_the_bert_normaliser():
    """Each listed character: no decomposition (so no accent to strip), not a control, format, space or mark; the
    punctuation list is Unicode punctuation (isolated by BERT's pre-tokeniser) and the word list is not."""
    import unicodedata

    for chars, punctuation in [(tokenizer.PLAIN_PUNCTUATION, True), (tokenizer.PLAIN_WORD_CHARACTERS, False)]:
        for c in chars:
            cat = unicodedata.category(c)
            assert unicodedata.normalize("NFD", c) == c, (c, cat)
            assert cat[0] not in "CZM", (c, cat)
            assert cat.startswith("P") == punctuation, (c, cat)
            assert not 0x4E00 <= ord(c) <= 0x9FFF                                  # not a Chinese character


def test_plain_excludes_controls_and_unlisted_characters():
    assert tokenizer.plain("Tabs\tnew\nlines\r and (punctuation)! ~`{}")
    assert tokenizer.plain("")
    assert tokenizer.plain("β-cells – “quoted” ≥ 5 µm ± 2°")
    for text in ["nul\x00", "vertical\x0btab", "form\x0cfeed", "escape\x1b", "delete\x7f", "café", "no\u00a0break",
                 "β\x00", "≠", "日本", "zero\u200bwidth"]:
        assert not tokenizer.plain(text), repr(text)


def test_plain_copy_only_for_the_bert_normaliser():
    bert = {"normalizer": {"type": "BertNormalizer", "lowercase": True}, "pre_tokenizer": None,
            "model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}}
    assert tokenizer._plain_copy(bert, 16).normalizer is not None                  # lower-cases
    assert tokenizer._plain_copy(bert, 16).pre_tokenizer is None                   # none to replace
    bert_pre = {**bert, "pre_tokenizer": {"type": "BertPreTokenizer"}}
    assert "Split" in type(tokenizer._plain_copy(bert_pre, 16).pre_tokenizer).__name__
    cased = {**bert, "normalizer": {"type": "BertNormalizer", "lowercase": False}}
    assert tokenizer._plain_copy(cased, 16).normalizer is None
    assert tokenizer._plain_copy({**bert, "normalizer": {"type": "NFKC"}}, 16) is None
    assert tokenizer._plain_copy({**bert, "normalizer": None}, 16) is None
