"""STS pairs: the STS-B distribution format (tab-separated; fields 4, 5, 6 = score, sentence1, sentence2; extra
trailing fields ignored) or a TSV/CSV/JSONL with columns sentence1, sentence2, score."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spacekit.errors import InputError
from spacekit.io.tables import existing_file, field, read_rows, text_lines


@dataclass(frozen=True)
class StsPairs:
    """Sentence pairs with gold similarity scores, and an id per pair (file line)."""

    ids: list[str]
    sentence1: list[str]
    sentence2: list[str]
    score: np.ndarray  # (n,) float64


def _is_stsb_distribution(path: Path) -> bool:
    first = next(text_lines(path), (0, ""))[1].split("\t")
    return len(first) >= 7 and "sentence1" not in first


def read_sts(path: str | Path) -> StsPairs:
    """Read STS pairs from either format (or a dataset folder of the columns); every error names file:line."""
    path = Path(path) if Path(path).is_dir() else existing_file(path)
    rows = _read_stsb(path) if path.suffix.lower() in {".csv", ".tsv", ".txt"} and _is_stsb_distribution(path) \
        else _read_columns(path)
    if len(rows) < 2:
        raise InputError(f"{path}: need at least 2 sentence pairs, got {len(rows)}")
    ids, s1, s2, score = zip(*rows, strict=True)
    if len(set(score)) == 1:
        raise InputError(f"{path}: every gold score is {score[0]}: Spearman and Pearson are undefined")
    return StsPairs(list(ids), list(s1), list(s2), np.array(score, dtype=np.float64))


def _read_stsb(path: Path) -> list[tuple[str, str, str, float]]:
    # Split on tabs only: sentences contain unbalanced quotes, so no CSV quote handling.
    rows = []
    for lineno, line in text_lines(path):
        fields = line.split("\t")
        if len(fields) < 7:
            raise InputError(f"{path}:{lineno}: expected at least 7 tab-separated fields "
                             f"(genre file year id score sentence1 sentence2), got {len(fields)}")
        try:
            score = float(fields[4])
        except ValueError:
            raise InputError(f"{path}:{lineno}: score must be a number, got {fields[4]!r}") from None
        if not math.isfinite(score):
            raise InputError(f"{path}:{lineno}: score must be finite, got {fields[4]!r}")
        rows.append((f"{path.name}:{lineno}", fields[5], fields[6], score))
    return rows


def _read_columns(path: Path) -> list[tuple[str, str, str, float]]:
    return [(f"{path.name}:{lineno}", field(path, lineno, row, "sentence1"), field(path, lineno, row, "sentence2"),
             field(path, lineno, row, "score", kind=float)) for lineno, row in read_rows(path)]
