"""Truncation audit: per model, the share of a task's texts cut at its max length (queries and documents apart for
retrieval; a corpus of more than DOCUMENT_SAMPLE documents is estimated on a seeded sample of that many, said in
the record), their mean token count, and the slicing that splits the task's items into those with a text cut (the
item's own texts or, for retrieval, a relevant document) and the rest, tested paired with the other slices. A max
length that changed between the models is said in the headline. Texts are counted as given (specials included,
lower-cased when the model lower-cases), without prompts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spacekit.compare.slicing import Slicing
from spacekit.tasks import TaskResult

CUT, WHOLE = "cut", "not cut"
DOCUMENT_SAMPLE = 500    # documents counted at most (seeded sample); an item's own texts and targets always all
_counted: dict[str, dict[str, int]] = {}     # tokenizer identity -> {text: its tokens}


@dataclass(frozen=True)
class TextLengths:
    """One group of a task's texts under one model: how many, how many were counted (all, or a seeded sample), the
    share of the counted ones cut, their mean tokens, the cut ones' mean tokens."""

    texts: str
    n: int
    counted: int
    share_truncated: float
    mean_tokens: float
    mean_tokens_truncated: float | None


@dataclass(frozen=True)
class ModelLengths:
    """A model's max length and what it cut of the task's texts."""

    max_length: int
    lengths: tuple[TextLengths, ...]


@dataclass(frozen=True)
class TruncationAudit:
    """Both models' truncation of the task's texts, the slicing (in the task's slices) of items with a text cut by
    the before model, and the message when the max length changed."""

    before: ModelLengths
    after: ModelLengths
    slicing: str | None
    changed: str | None


def token_counts(tokenizer, texts: list[str]) -> np.ndarray:
    """Each text's untruncated tokens (each text counted once per tokenizer in a process)."""
    known = _counted.setdefault(tokenizer.identity(), {})
    new = [t for t in dict.fromkeys(texts) if t not in known]
    if new:
        known.update(zip(new, tokenizer.token_counts(new), strict=True))
    return np.array([known[t] for t in texts], np.int64)


def truncation_audit(models, result: TaskResult, documents: list[str] | None,
                     task: str) -> tuple[TruncationAudit, Slicing | None] | None:
    """The audit of the task's texts under both models, and the slicing by items with a text the before model cut
    (None for a model without a tokenizer, a stored one)."""
    found = [getattr(m, "tokenizer", None) for m in models]
    if any(t is None for t in found):
        return None
    tokenizers: list = found
    ids = result.item_ids
    own = [result.item_texts.get(i, []) for i in ids]
    item_texts = list(dict.fromkeys(t for texts in own for t in texts))
    groups = {("queries" if documents is not None else "items' texts"): item_texts}
    if documents is not None:
        groups["documents"] = documents
    counted = {name: _sample(texts) for name, texts in groups.items()}
    sides = []
    for tokenizer in tokenizers:
        lengths = []
        for name, texts in counted.items():
            counts = token_counts(tokenizer, texts)
            cut = counts > tokenizer.max_seq_length
            lengths.append(TextLengths(name, len(groups[name]), len(texts), float(cut.mean()) if len(texts) else 0.0,
                                       float(counts.mean()) if len(texts) else 0.0,
                                       float(counts[cut].mean()) if cut.any() else None))
        sides.append(ModelLengths(tokenizer.max_seq_length, tuple(lengths)))
    before_tok = tokenizers[0]
    checked = list(dict.fromkeys([*item_texts, *(t for i in ids for t in (result.item_targets or {}).get(i, []))]))
    cut_text = {t for t, n in zip(checked, token_counts(before_tok, checked), strict=True)
                if n > before_tok.max_seq_length}
    flags = [any(t in cut_text for t in texts + (result.item_targets or {}).get(i, []))
             for i, texts in zip(ids, own, strict=True)]
    where = "a relevant document or the query" if documents is not None else "a text of the item"
    name = f"{where} cut at the before model's {before_tok.max_seq_length} tokens"
    slicing = Slicing(name, [CUT if f else WHOLE for f in flags]) if 0 < sum(flags) < len(flags) else None
    changed = None
    if sides[0].max_length != sides[1].max_length:
        share = "; ".join(f"{lb.texts} cut {lb.share_truncated:.0%} before, {la.share_truncated:.0%} after"
                          for lb, la in zip(sides[0].lengths, sides[1].lengths, strict=True))
        changed = (f"max length changed: before {sides[0].max_length} tokens, after {sides[1].max_length} "
                   f"({task}: {share})")
    return TruncationAudit(sides[0], sides[1], slicing.name if slicing else None, changed), slicing


def _sample(texts: list[str]) -> list[str]:
    """The texts, or DOCUMENT_SAMPLE of them drawn without replacement (seed 0, in their order)."""
    if len(texts) <= DOCUMENT_SAMPLE:
        return texts
    keep = np.sort(np.random.default_rng(0).choice(len(texts), DOCUMENT_SAMPLE, replace=False))
    return [texts[i] for i in keep]

