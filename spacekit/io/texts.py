"""Text inputs for embedding: ids and texts from JSONL/CSV/TSV/Parquet (BEIR corpus rows included)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spacekit.errors import InputError
from spacekit.io.tables import field, read_rows


@dataclass(frozen=True)
class Texts:
    """Parallel lists of unique ids and their texts, in file order."""

    ids: list[str]
    texts: list[str]
    source: str = ""

    def __len__(self) -> int:
        return len(self.ids)


def read_texts(path: str | Path, *, id_field: str | None = None, text_field: str = "text") -> Texts:
    """Read ids and texts; a row with a `title` gets text = (title + " " + text).strip() (BEIR/MTEB)."""
    path = Path(path)
    ids: list[str] = []
    texts: list[str] = []
    seen: dict[str, int] = {}
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
    if not ids:
        raise InputError(f"{path}: no rows")
    return Texts(ids, texts, str(path))
