"""Text pairs: positive pairs (alignment), fine-tuning pairs, and 0/1-labelled pairs (pair classification)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spacekit.errors import InputError
from spacekit.io.tables import field, read_rows

# the column pairs a pair file may use, in the order they are looked for
PAIR_FIELDS = [("anchor", "positive"), ("query", "positive"), ("sentence1", "sentence2"), ("text_a", "text_b")]


@dataclass(frozen=True)
class TextPairs:
    """Parallel lists of pair ids (file:line) and the two texts of each pair."""

    ids: list[str]
    first: list[str]
    second: list[str]

    def __len__(self) -> int:
        return len(self.ids)


def read_pairs(path: str | Path, *, minimum: int = 1) -> TextPairs:
    """Pairs from rows with one of PAIR_FIELDS' column pairs (the first the first row has); every error names
    file:line."""
    path = Path(path)
    return _pairs(path, read_rows(path), minimum)


def _pairs(path: Path, rows, minimum: int) -> TextPairs:
    ids, first, second = [], [], []
    keys = None
    for lineno, row in rows:
        keys = keys or next((k for k in PAIR_FIELDS if k[0] in row and k[1] in row), None)
        if keys is None:
            raise InputError(f"{path}:{lineno}: expected a pair of fields "
                             f"({', '.join('/'.join(k) for k in PAIR_FIELDS)})")
        ids.append(f"{path.name}:{lineno}")
        first.append(field(path, lineno, row, keys[0]))
        second.append(field(path, lineno, row, keys[1]))
    if len(ids) < minimum:
        raise InputError(f"{path}: need at least {minimum} pair{'s' if minimum > 1 else ''}, got {len(ids)}")
    return TextPairs(ids, first, second)


@dataclass(frozen=True)
class LabelledPairs(TextPairs):
    """Text pairs with a 0/1 label each (1: the two texts are duplicates / paraphrases)."""

    labels: np.ndarray  # (n,) int64


def read_labelled_pairs(path: str | Path) -> LabelledPairs:
    """Pairs with a 0/1 `label` (or `labels`, MTEB's name) column; every error names file:line. MTEB's layout, one
    row holding lists (sentence1, sentence2, labels), is read as one pair per position (ids file:line:position)."""
    path = Path(path)
    rows = _unrolled(path, list(read_rows(path)))
    pairs = _pairs(path, rows, minimum=2)
    labels = []
    for lineno, row in rows:
        value = field(path, lineno, row, "label" if "label" in row else "labels", kind=float)
        if value not in (0, 1):
            raise InputError(f"{path}:{lineno}: label must be 0 or 1, got {row.get('label', row.get('labels'))!r}")
        labels.append(int(value))
    if len(set(labels)) < 2:
        raise InputError(f"{path}: need both labels, 0 and 1 (got only {labels[0]})")
    return LabelledPairs(pairs.ids, pairs.first, pairs.second, np.array(labels, np.int64))


def _unrolled(path: Path, rows: list[tuple[int, dict]]) -> list[tuple[int | str, dict]]:
    """Rows of lists (MTEB's pair-classification layout) as one row per position; other rows as they are."""
    out: list[tuple[int | str, dict]] = []
    for lineno, row in rows:
        lists = {k: v for k, v in row.items() if isinstance(v, list)}
        if not lists:
            out.append((lineno, row))
            continue
        lengths = {len(v) for v in lists.values()}
        if len(lengths) != 1:
            raise InputError(f"{path}:{lineno}: the list fields ({', '.join(lists)}) differ in length")
        out += [(f"{lineno}:{i}", {k: v[i] for k, v in lists.items()}) for i in range(lengths.pop())]
    return out
