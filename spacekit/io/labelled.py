"""Labelled text (classification, clustering): CSV/TSV/JSONL with `text` and `label` (else `category`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spacekit.errors import InputError
from spacekit.io.tables import field, read_rows


@dataclass(frozen=True)
class Labelled:
    """Texts with one label each; ids are file:line."""

    ids: list[str]
    texts: list[str]
    labels: list[str]


def read_labelled(path: str | Path, *, text_field: str = "text", label_field: str | None = None) -> Labelled:
    """Read labelled texts; the label column is `label_field`, else `label`, else `category`."""
    path = Path(path)
    ids, texts, labels = [], [], []
    for lineno, row in read_rows(path):
        name = label_field or ("label" if "label" in row else "category")
        ids.append(f"{path.name}:{lineno}")
        texts.append(field(path, lineno, row, text_field))
        labels.append(field(path, lineno, row, name))
    if len(ids) < 2:
        raise InputError(f"{path}: need at least 2 labelled rows, got {len(ids)}")
    if len(set(labels)) < 2:
        raise InputError(f"{path}: need at least 2 distinct labels, got {len(set(labels))}")
    return Labelled(ids, texts, labels)
