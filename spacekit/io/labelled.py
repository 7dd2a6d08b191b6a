"""Labelled text (classification, clustering): CSV/TSV/JSONL/Parquet with `text` and `label` (else `category`).

MTEB's clustering layout is read too: one row per set, holding a list of texts (`sentences`) and a list of labels
(`labels`); its items are the texts of every row, and each row is a set (the mteb-v1 clustering protocol clusters
each set on its own). A flat file can name its sets by a column instead (`set_field`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spacekit.errors import InputError
from spacekit.io.tables import field, read_rows


@dataclass(frozen=True)
class Labelled:
    """Texts with one label each; ids are file:line (file:line:position for a row of lists); sets: each item's set
    (None when the file has no sets)."""

    ids: list[str]
    texts: list[str]
    labels: list[str]
    sets: list[str] | None = None


def read_labelled(path: str | Path, *, text_field: str = "text", label_field: str | None = None,
                  set_field: str | None = None) -> Labelled:
    """Read labelled texts; the label column is `label_field`, else `label`, else `labels`, else `category`."""
    path = Path(path)
    ids, texts, labels, sets = [], [], [], []
    for lineno, row in read_rows(path):
        text_name = text_field if text_field in row or text_field != "text" or "sentences" not in row \
            else "sentences"
        name = label_field or next((c for c in ("label", "labels") if c in row), "category")
        if isinstance(row.get(text_name), list):                  # MTEB's clustering layout: a row is a set
            row_texts, row_labels = _row_of_lists(path, lineno, row, text_name, name)
            ids += [f"{path.name}:{lineno}:{i}" for i in range(len(row_texts))]
            texts += row_texts
            labels += row_labels
            sets += [f"{path.name}:{lineno}"] * len(row_texts)
            continue
        ids.append(f"{path.name}:{lineno}")
        texts.append(field(path, lineno, row, text_name))
        labels.append(field(path, lineno, row, name))
        if set_field is not None:
            sets.append(field(path, lineno, row, set_field))
    if len(ids) < 2:
        raise InputError(f"{path}: need at least 2 labelled rows, got {len(ids)}")
    if len(set(labels)) < 2:
        raise InputError(f"{path}: need at least 2 distinct labels, got {len(set(labels))}")
    if sets and len(sets) != len(ids):
        raise InputError(f"{path}: rows of lists (one set each) mixed with rows of single texts")
    return Labelled(ids, texts, labels, sets or None)


def _row_of_lists(path: Path, lineno: int, row: dict, text_name: str, label_name: str) -> tuple[list, list]:
    """The texts and labels of one row of MTEB's clustering layout, checked to pair up."""
    row_texts, row_labels = row[text_name], row.get(label_name)
    if not isinstance(row_labels, list) or len(row_labels) != len(row_texts):
        raise InputError(f"{path}:{lineno}: field {text_name!r} is a list of {len(row_texts)} texts, so "
                         f"{label_name!r} must be a list of as many labels")
    if not row_texts:
        raise InputError(f"{path}:{lineno}: an empty set (no texts in {text_name!r})")
    for i, (text, label) in enumerate(zip(row_texts, row_labels, strict=True)):
        if not isinstance(text, str) or isinstance(label, (dict, list)) or label is None:
            raise InputError(f"{path}:{lineno}: item {i} of {text_name!r}/{label_name!r} must be a text and a label")
    return row_texts, [str(label) for label in row_labels]
