"""Leakage between fine-tuning data and evaluation data: exact (normalised text) and near-duplicate matches.

Exact: lower-cased, whitespace-collapsed text equal (a sha1 of it). Near: cosine >= threshold between an
evaluation text and its nearest training text under the *before* model (found with ops.topk).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spacekit.errors import InputError
from spacekit.io.tables import existing_file, read_rows


def normalise(text: str) -> str:
    """Lower case, whitespace collapsed, stripped."""
    return re.sub(r"\s+", " ", text).strip().lower()


def text_hash(text: str) -> str:
    """sha1 of the normalised text."""
    return hashlib.sha1(normalise(text).encode()).hexdigest()


def read_training_texts(path: str | Path) -> list[str]:
    """Every text in a training file: all string fields of JSONL/CSV/TSV rows (texts or pairs), or .txt lines."""
    path = existing_file(path)
    if path.suffix.lower() == ".txt":
        texts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        texts = [v for _, row in read_rows(path) for v in row.values() if isinstance(v, str) and v.strip()]
    if not texts:
        raise InputError(f"{path}: no training texts")
    return list(dict.fromkeys(texts))


@dataclass
class Leak:
    """One evaluation item that overlaps the training data."""

    item_id: str
    text: str
    match: str
    kind: str          # "exact" | "near"
    cosine: float


@dataclass
class TaskLeakage:
    """Leaked items of one task."""

    items: list[Leak] = field(default_factory=list)

    @property
    def ids(self) -> set[str]:
        return {leak.item_id for leak in self.items}

    def counts(self) -> dict[str, int]:
        exact = {leak.item_id for leak in self.items if leak.kind == "exact"}
        return {"exact": len(exact), "near": len(self.ids - exact), "total": len(self.ids)}


def find_leaks(train_texts: list[str], item_texts: dict[str, list[str]], train_vecs: np.ndarray,
               item_vecs: dict[str, np.ndarray], threshold: float = 0.95) -> TaskLeakage:
    """Items any of whose texts match a training text exactly or at cosine >= threshold.

    item_vecs[text] is the before-model vector of each evaluation text; train_vecs is (n_train, d) in order.
    """
    from spacekit.ops import topk

    exact = {text_hash(t): t for t in train_texts}
    texts = list(dict.fromkeys(t for ts in item_texts.values() for t in ts))
    best: dict[str, tuple[float, str]] = {}
    if texts:
        scores, idx = topk(np.stack([item_vecs[t] for t in texts]), train_vecs, 1)     # (n_text, 1) each
        best = {t: (float(s), train_texts[int(i)]) for t, s, i in zip(texts, scores[:, 0], idx[:, 0], strict=True)}
    out = TaskLeakage()
    for item_id, ts in item_texts.items():
        for t in ts:
            h = text_hash(t)
            if h in exact:
                out.items.append(Leak(item_id, t, exact[h], "exact", 1.0))
                break
            cos, match = best.get(t, (0.0, ""))
            if cos >= threshold:
                out.items.append(Leak(item_id, t, match, "near", cos))
                break
    return out
