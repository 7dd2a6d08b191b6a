"""Text inputs for embedding: ids and texts from JSONL/CSV/TSV/Parquet (BEIR corpus rows included)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

from spacekit.errors import InputError
from spacekit.io.tables import field, read_rows


@dataclass(frozen=True)
class Texts:
    """Parallel lists of unique ids and their texts, in file order."""

    ids: list[str]
    texts: list[str]
    source: str = ""
    fields: dict[str, list[str]] = dataclass_field(default_factory=dict)   # other columns, as text ('' absent)

    def fields_of(self, ids: list[str]) -> dict[str, list[str]]:
        """Each extra column's values for these ids (each one of this file's)."""
        row = {i: r for r, i in enumerate(self.ids)}
        return {name: [values[row[i]] for i in ids] for name, values in self.fields.items()}

    def __len__(self) -> int:
        return len(self.ids)


def read_texts(path: str | Path, *, id_field: str | None = None, text_field: str = "text",
               keep_fields: bool = False) -> Texts:
    """Read ids and texts; a row with a `title` gets text = (title + " " + text).strip() (BEIR/MTEB). keep_fields:
    every other scalar column (and a `metadata` object's, as metadata.KEY) kept as text, per row."""
    path = Path(path)
    ids: list[str] = []
    texts: list[str] = []
    seen: dict[str, int] = {}
    extra: list[dict[str, str]] = []
    for lineno, row in read_rows(path):
        key = id_field or ("_id" if "_id" in row else "id")
        doc_id = field(path, lineno, row, key)
        text = field(path, lineno, row, text_field)
        title = row.get("title") if text_field == "text" else None
        if title is not None and not isinstance(title, str):
            raise InputError(f"{path}:{lineno}: field 'title' must be text, got {type(title).__name__}")
        if title:
            text = (title + " " + text).strip()                         # BEIR/MTEB document text
        if doc_id in seen:
            raise InputError(f"{path}:{lineno}: duplicate id {doc_id!r} (first at line {seen[doc_id]})")
        seen[doc_id] = lineno
        ids.append(doc_id)
        texts.append(text)
        if keep_fields:
            extra.append(_scalars({k: v for k, v in row.items() if k not in (key, text_field, "title")}))
    if not ids:
        raise InputError(f"{path}: no rows")
    names = list(dict.fromkeys(k for e in extra for k in e))
    return Texts(ids, texts, str(path), {k: [e.get(k, "") for e in extra] for k in names})


def _scalars(row: dict) -> dict[str, str]:
    """A row's scalar values as text (a nested `metadata` object's too, as metadata.KEY); lists and objects left."""
    out = {}
    for k, v in row.items():
        if isinstance(v, dict) and k == "metadata":
            out.update({f"metadata.{mk}": str(mv) for mk, mv in v.items() if isinstance(mv, (str, int, float, bool))})
        elif isinstance(v, (str, int, float, bool)):
            out[str(k)] = str(v)
    return out
