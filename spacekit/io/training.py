"""Fine-tuning data, as the leakage and overlap checks read it: pairs or triplets (anchor, positive[, negative...])
or plain texts, from a table file, a .txt file (one text per line) or a sentence-transformers / Hugging Face
dataset folder. A file that is not training data (a qrels file, ids only) is refused with one line.

Columns, as sentence-transformers' trainer reads them: columns named label / score / category (and id columns: a
name ending in "id", "ids" or "idx", or values that are all single tokens with a digit) are not texts; of the
rest, columns named anchor and positive are used by name, else by order (first the anchor, second the positive,
the rest negatives); one text column alone is plain texts (no positives).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from spacekit.errors import InputError
from spacekit.io.tables import existing_file, file_format, read_rows, text_lines

NOT_TEXT = {"label", "labels", "score", "scores", "grade", "relevance", "category", "class", "intent"}
_ID_NAME = re.compile(r"(^|[_\-\s.])(id|ids|idx)$", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z]Ids?$")
_ID_VALUE = re.compile(r"^\S*\d\S*$")
_TREC_LINE = re.compile(r"^\S+\s+\S+\s+\S+\s+-?\d+$|^\S+\s+\S+\s+\S+\s+\d+\s+-?[\d.eE+-]+\s+\S+$")
TABLES = {".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".parquet"}


@dataclass
class TrainingData:
    """Every distinct training text, and the texts by role (empty when the file has no such column)."""

    path: str
    texts: list[str]
    anchors: list[str] = field(default_factory=list)
    positives: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)
    columns: dict[str, list[str]] = field(default_factory=dict)  # role -> the columns read as it

    def describe(self) -> str:
        """'919 rows read as anchor=anchor, positive=positive' for the report."""
        roles = "; ".join(f"{role}={', '.join(cols)}" for role, cols in self.columns.items())
        return f"{len(self.texts):,} distinct texts ({roles})"


def read_training(path: str | Path) -> TrainingData:
    """The training data at `path` (file or dataset folder), validated; an InputError names what is wrong."""
    path = Path(path)
    if path.is_dir():
        return _from_rows(str(path), _folder_rows(path))
    path = existing_file(path)
    if path.suffix.lower() == ".txt":
        lines = [line for _, line in text_lines(path)]
        if lines and all(_TREC_LINE.match(line.strip()) for line in lines):
            raise InputError(f"{path}: not training data: every line looks like a TREC qrels or run line (ids, not "
                             f"texts); --train takes pairs or triplets (anchor, positive[, negative]) or texts")
        return _texts_only(str(path), [line.strip() for line in lines])
    file_format(path)
    return _from_rows(str(path), [(f"{path}:{lineno}", row) for lineno, row in read_rows(path)])


ROLE_NAMES = {"anchor", "positive", "negative"}   # columns sentence-transformers reads by name


def _from_rows(where: str, rows: list[tuple[str, dict]]) -> TrainingData:
    if not rows:
        raise InputError(f"{where}: no training rows")
    names = list(dict.fromkeys(k for _, row in rows for k in row))
    texts = [c for c in names if _is_text_column(c, [row.get(c) for _, row in rows])]
    for role in ROLE_NAMES & set(names) - set(texts):    # a role's column must hold text, never be dropped silently
        for loc, row in rows:
            if row.get(role) is not None:
                _text(loc, row, role)
    if not texts:
        hint = " (a qrels file?)" if any("query" in c.lower() for c in names) else ""
        raise InputError(f"{where}: not training data: no text column among {', '.join(map(str, names))}{hint}; "
                         f"--train takes pairs or triplets (anchor, positive[, negative]) or a text column")
    if len(texts) == 1:
        return _texts_only(where, [_text(loc, row, texts[0]) for loc, row in rows], texts[0])
    named = [c for c in ("anchor", "positive") if c in texts]
    order = named + [c for c in texts if c not in named] if len(named) == 2 else texts
    anchor, positive, negatives = order[0], order[1], order[2:]
    out = TrainingData(where, [], columns={"anchor": [anchor], "positive": [positive],
                                           **({"negative": negatives} if negatives else {})})
    for loc, row in rows:
        out.anchors.append(_text(loc, row, anchor))
        out.positives.append(_text(loc, row, positive))
        out.negatives += [_text(loc, row, c) for c in negatives]
    out.texts = list(dict.fromkeys(t for t in [*out.anchors, *out.positives, *out.negatives] if t.strip()))
    return out


def _texts_only(where: str, texts: list[str], column: str = "line") -> TrainingData:
    texts = list(dict.fromkeys(t for t in texts if t.strip()))
    if not texts:
        raise InputError(f"{where}: no training texts")
    return TrainingData(where, texts, columns={"text": [column]})


def _is_text_column(name: object, values: list) -> bool:
    """A column of texts: not a label / score / id column by name, its values strings, not all id-like tokens."""
    name = str(name)
    if name.lower() in NOT_TEXT or _ID_NAME.search(name) or _CAMEL_ID.search(name):
        return False
    present = [v for v in values if v is not None]
    if not present or not all(isinstance(v, str) for v in present):
        return False
    return not all(_ID_VALUE.match(v.strip()) for v in present)


def _text(loc: str, row: dict, column: str) -> str:
    value = row.get(column)
    if not isinstance(value, str):
        raise InputError(f"{loc}: field {column!r} must be text, got {value!r}")
    return value


def _folder_rows(folder: Path) -> list[tuple[str, dict]]:
    """Rows of a dataset folder: `save_to_disk` (Arrow files; a DatasetDict's train split) or a folder of data
    files (the Hugging Face Hub layout: the files whose name holds 'train', else all)."""
    if (folder / "dataset_dict.json").is_file():
        splits = [p for p in sorted(folder.iterdir()) if p.is_dir()]
        chosen = [p for p in splits if p.name == "train"] or splits[:1]
        if not chosen:
            raise InputError(f"{folder}: a DatasetDict folder without splits")
        return _folder_rows(chosen[0])
    arrow = sorted(folder.glob("*.arrow"))
    if arrow:
        return [(f"{path}:{i}", row) for path in arrow for i, row in enumerate(_arrow_rows(path), start=1)]
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in TABLES and
                   not p.name.startswith("."))
    files = [p for p in files if "train" in p.name.lower()] or files
    if not files:
        raise InputError(f"{folder}: not a training dataset folder (no .arrow, .parquet, .jsonl, .csv or .tsv files)")
    return [(f"{p}:{lineno}", row) for p in files for lineno, row in read_rows(p)]


def _arrow_rows(path: Path) -> list[dict]:
    import pyarrow as pa

    try:
        with pa.memory_map(str(path)) as source:
            try:
                table = pa.ipc.open_stream(source).read_all()      # what datasets' save_to_disk writes
            except pa.ArrowInvalid:
                source.seek(0)
                table = pa.ipc.open_file(source).read_all()
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(f"{path}: not a readable Arrow file ({e})") from None
    return table.to_pylist()
