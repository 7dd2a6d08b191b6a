"""Texts -> token ids through the model's Rust tokenizer, as sentence-transformers tokenises them, faster.

A private copy of the tokenizer truncates at max_seq_length; long texts are tokenised from their heads where that
gives the same ids (space-splitting pre-tokeniser, character-wise normaliser); plain texts (ASCII and a few
typographic, Greek and math characters) go through a copy with a lighter normaliser and pre-tokeniser that give
them the same ids. Slow (Python) tokenizers are called as they are.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass
class Shortcuts:
    """The private copies of a Rust tokenizer that Tokenizer makes once: `rust` truncates at max_seq_length (None
    for a slow tokenizer), `cut_heads` says whether long texts may be tokenised from their heads, `plain` is the
    lighter copy for plain texts (None when the tokenizer is not BERT-style)."""

    rust: object | None
    cut_heads: bool = False
    plain: object | None = None


class Tokenizer:
    """A model's tokenizer as sentence-transformers applies it (prompt prepended, lower-cased when configured,
    truncated at max_seq_length, specials added; texts are not stripped, as in sentence-transformers 6), through
    faster private copies where they give the same ids."""

    def __init__(self, hf, max_seq_length: int, lower_case: bool = False):
        self.hf, self.max_seq_length, self.lower_case = hf, max_seq_length, lower_case
        self._shortcuts: Shortcuts | None = None
        self._identity: str | None = None
        self._whole: Any = None                   # a private copy that cuts nothing (token_counts)

    @property
    def pad_id(self) -> int:
        """The id padding positions get (0 when the tokenizer has none)."""
        return self.hf.pad_token_id or 0

    @property
    def shortcuts(self) -> Shortcuts:
        """The private copies, made on first use."""
        if self._shortcuts is None:
            self._shortcuts = _shortcuts(self.hf, self.max_seq_length)
        return self._shortcuts

    def ids(self, texts: list[str], prompt: str = "") -> list[list[int]]:
        """Token ids per text, truncated to max_seq_length, specials included (sentence-transformers' input)."""
        return token_ids(self.encodings(texts, prompt))

    def prompt_length(self, prompt: str) -> int:
        """The prompt's tokens as sentence-transformers counts them for include_prompt=false: the prompt tokenised
        alone, specials included, less a trailing special token."""
        if not prompt:
            return 0
        ids = self.ids([prompt])[0]
        return len(ids) - (1 if ids and ids[-1] in set(self.hf.all_special_ids) else 0)

    def token_counts(self, texts: list[str]) -> list[int]:
        """Each text's tokens with nothing cut (specials included, lower-cased when configured): the lengths
        max_seq_length truncates."""
        prepared = [t.lower() for t in texts] if self.lower_case else list(texts)
        backend = getattr(self.hf, "backend_tokenizer", None)
        if backend is None:                                   # a slow tokenizer
            return [len(ids) for ids in self.hf(prepared, add_special_tokens=True, verbose=False)["input_ids"]]
        if self._whole is None:
            from tokenizers import Tokenizer as RustTokenizer

            self._whole = RustTokenizer.from_str(backend.to_str())
            self._whole.no_truncation()
            self._whole.no_padding()
        return [len(e.ids) for e in self._whole.encode_batch(prepared)]

    def identity(self) -> str:
        """A digest of what decides token counts (the tokenizer's definition, lower-casing): equal tokenizers of
        two models count once."""
        if self._identity is not None:
            return self._identity
        import hashlib

        backend = getattr(self.hf, "backend_tokenizer", None)
        if backend is not None:                   # its truncation and padding (set by whoever used it last) aside
            spec = json.dumps({k: v for k, v in json.loads(backend.to_str()).items()
                               if k not in ("truncation", "padding")})
        else:
            spec = f"{type(self.hf).__name__}:{self.hf.name_or_path}"
        self._identity = hashlib.blake2b(f"{self.lower_case}:{spec}".encode(), digest_size=16).hexdigest()
        return self._identity

    def encodings(self, texts: list[str], prompt: str = "") -> list:
        """The tokenizer's output per text: Rust encodings (token_ids reads their ids; their length is the token
        count), or token id lists from a slow tokenizer."""
        prepared = [prompt + str(t) for t in texts]
        if self.lower_case:
            prepared = [t.lower() for t in prepared]
        cuts = self.shortcuts
        if cuts.rust is None:
            out = self.hf(prepared, truncation=True, max_length=self.max_seq_length, padding=False,
                          return_attention_mask=False, return_token_type_ids=False)
            return out["input_ids"]
        run = _runner(cuts.rust, cuts.plain)
        if not cuts.cut_heads:
            return run(prepared)
        return _tokenize_heads(run, prepared, self.max_seq_length)


# Plain text: printable ASCII, tab, newline, return, and these characters, which BERT's normaliser leaves as they
# are but for lower-casing (no decomposition, no accent, not a control or Chinese character; tested), split as its
# pre-tokeniser splits them: Unicode punctuation alone, the others inside words.
PLAIN_PUNCTUATION = "–—‐‑‒―‘’‚‛“”„‟…·•′″‹›«»¡¿§¶†‡‰"
PLAIN_WORD_CHARACTERS = "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩµ±×÷−∼≈≤≥°€£¥©®™"
_NOT_PLAIN = re.compile(rf"[^\t\n\r\x20-\x7e{PLAIN_PUNCTUATION}{PLAIN_WORD_CHARACTERS}]")
# what the pre-tokeniser keeps of plain text: runs of word characters, and each punctuation mark alone
_PLAIN_PIECES = rf"[A-Za-z0-9{PLAIN_WORD_CHARACTERS}]+|[!-/:-@\[-`{{-~{PLAIN_PUNCTUATION}]"


def plain(text: str) -> bool:
    """Only printable ASCII, tab, newline, return, PLAIN_PUNCTUATION and PLAIN_WORD_CHARACTERS."""
    return not _NOT_PLAIN.search(text)


def _runner(full, light):
    """texts -> Rust encodings (specials added, no character offsets where the library can skip them): plain texts
    through `light` when there is one, the others through `full`."""
    def run_with(tok):
        encode_batch = getattr(tok, "encode_batch_fast", tok.encode_batch)
        return lambda texts: encode_batch(texts, add_special_tokens=True)

    run_full = run_with(full)
    if light is None:
        return run_full
    run_light = run_with(light)

    def run(texts: list[str]) -> list:
        is_plain = [plain(t) for t in texts]
        out: list = [None] * len(texts)
        for flag, through in ((True, run_light), (False, run_full)):
            rows = [i for i, f in enumerate(is_plain) if f is flag]
            if rows:
                for i, e in zip(rows, through([texts[i] for i in rows]), strict=True):
                    out[i] = e
        return out
    return run


def token_ids(encoded: list) -> list[list[int]]:
    """Token id lists from encodings()' output (the part that holds the GIL: one Python list per text)."""
    return encoded if not encoded or isinstance(encoded[0], list) else [e.ids for e in encoded]


HEAD_CHARS_PER_TOKEN = 6  # a long text is tokenised from its first max_seq_length x 6 characters (SciFact: ~4.7)


def _tokenize_heads(run, texts: list[str], max_len: int) -> list:
    """Truncated encodings from the head of each long text, cut at a space: tokens never span a space and the
    normaliser works character by character (checked in _shortcuts), so when the head alone fills max_len
    tokens they are the whole text's first tokens. A head that falls short is tokenised again in full."""
    limit = HEAD_CHARS_PER_TOKEN * max_len
    heads = [t if len(t) <= limit or (cut := t.find(" ", limit)) < 0 else t[:cut] for t in texts]
    out = run(heads)
    short = [i for i, (h, t, x) in enumerate(zip(heads, texts, out, strict=True))
             if len(h) < len(t) and len(x) < max_len]
    for i, e in zip(short, run([texts[i] for i in short]), strict=True):
        out[i] = e
    return out


def _shortcuts(hf, max_len: int) -> Shortcuts:
    """A private copy of the Rust tokenizer set to truncate at max_len (None for slow ones); whether long texts may
    be tokenised from their heads (pre-tokeniser splits at spaces, character-wise normaliser, truncation on the
    right); and a second copy for plain texts (see _plain_copy)."""
    rust = getattr(hf, "backend_tokenizer", None) if hf.is_fast else None
    if rust is None:
        return Shortcuts(None)
    spec = json.loads(rust.to_str())
    side = getattr(hf, "truncation_side", "right")
    try:
        plain_copy = _plain_copy(spec, max_len, side)
    except Exception:
        plain_copy = None
    return Shortcuts(_truncating(spec, max_len, side), side == "right" and _splits_at_spaces(spec), plain_copy)


def _truncating(spec: dict, max_len: int, side: str = "right"):
    """A Rust tokenizer from its JSON spec, truncating at max_len on the tokenizer's side, no padding."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(json.dumps(spec))
    tok.no_padding()
    tok.enable_truncation(max_length=max_len, direction=side)
    return tok


def _plain_copy(spec: dict, max_len: int, side: str = "right"):
    """For a BERT normaliser: a copy for plain texts (see plain) that gives them the same ids ~1.7x faster. On
    plain text the BERT normaliser removes no control character (there are none), finds no Chinese character and
    no accent, and turns tab, newline and return into spaces, where the pre-tokeniser splits either way: the copy
    only lower-cases (or, for a cased model, leaves the text alone). The BERT pre-tokeniser, if that is the one,
    splits at whitespace and around each punctuation mark; every plain character is whitespace, a punctuation mark
    or a word character, so keeping the matches of _PLAIN_PIECES gives the same pieces in one regex pass. None for
    any other normaliser."""
    norm = spec.get("normalizer") or {}
    if norm.get("type") != "BertNormalizer":
        return None
    tok = _truncating({**spec, "normalizer": {"type": "Lowercase"} if norm.get("lowercase", True) else None}, max_len,
                      side)
    if (spec.get("pre_tokenizer") or {}).get("type") == "BertPreTokenizer":
        from tokenizers import Regex, pre_tokenizers

        tok.pre_tokenizer = pre_tokenizers.Split(Regex(_PLAIN_PIECES), "removed", invert=True)
    return tok


_SPACE_SPLITTING = {"BertPreTokenizer", "Whitespace", "WhitespaceSplit"}
_FURTHER_SPLITTING = {"Punctuation", "Digits"}  # pre-tokenisers that only cut pre-tokens further
_CHARACTER_WISE = {"BertNormalizer", "Lowercase", "StripAccents", "NFC", "NFD", "NFKC", "NFKD"}


def _splits_at_spaces(spec: dict) -> bool:
    """A tokenizer.json whose pre-tokeniser always splits at a space, whose normaliser maps characters one by one
    and whose added tokens hold no space (BERT-style: MiniLM, MPNet, BGE, E5, GTE): a text cut at a space then
    tokenises to a prefix of the whole text's tokens."""
    pre, norm = spec.get("pre_tokenizer") or {}, spec.get("normalizer")
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = {p.get("type") for p in steps}
    norms = [] if norm is None else norm.get("normalizers", []) if norm.get("type") == "Sequence" else [norm]
    return (bool(kinds & _SPACE_SPLITTING) and kinds <= _SPACE_SPLITTING | _FURTHER_SPLITTING
            and all(n.get("type") in _CHARACTER_WISE for n in norms)
            and not any(" " in t.get("content", "") for t in spec.get("added_tokens", [])))
