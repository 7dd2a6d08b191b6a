"""Judging sheets (a queries task's judging-*.csv, filled in by a person) read back as relevance judgements (which
io.trec.qrels_tsv writes out as BEIR qrels)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spacekit.errors import InputError
from spacekit.escape import cell_value
from spacekit.io.tables import field, read_rows


@dataclass(frozen=True)
class Judged:
    """The sheet's labelled rows as (query id, document id, grade), and how many rows were left blank."""

    judgements: list[tuple[str, str, int]]
    blank: int


def read_judged(sheet: str | Path) -> Judged:
    """Every row with a label (an integer grade >= 0); ids as the spreadsheet shows them, formula guards undone;
    a bad label or a (query, document) judged twice is one line naming the row, a sheet without any label too."""
    path = Path(sheet)
    judgements: list[tuple[str, str, int]] = []
    seen: dict[tuple[str, str], int] = {}
    blank = 0
    for lineno, row in read_rows(path):
        if "label" not in row:
            columns = ", ".join(map(str, row))
            hint = "; saved with ';' between fields? save it as comma-separated CSV" if ";" in columns else ""
            raise InputError(f"{sheet}:1: no 'label' column (columns: {columns}){hint}")
        label = str(row.get("label") or "").strip()
        if not label:
            blank += 1
            continue
        try:
            grade = int(float(label))
        except (ValueError, OverflowError):                    # not a number, or nan / inf
            grade = -1
        if grade < 0 or float(label) != grade:
            raise InputError(f"{sheet}:{lineno}: label must be an integer grade >= 0, got {label!r}")
        key = (cell_value(field(path, lineno, row, "query_id")), cell_value(field(path, lineno, row, "doc_id")))
        if key in seen:
            raise InputError(f"{sheet}:{lineno}: query {key[0]!r}, document {key[1]!r} judged twice (first at line "
                             f"{seen[key]})")
        seen[key] = lineno
        judgements.append((*key, grade))
    if not judgements:
        raise InputError(f"{sheet}: no row has a label yet")
    return Judged(judgements, blank)
