"""Fine-tuning data as the leakage check reads it: every text in a training file."""

from __future__ import annotations

from pathlib import Path

from spacekit.errors import InputError
from spacekit.io.tables import existing_file, read_rows, text_lines


def read_training_texts(path: str | Path) -> list[str]:
    """Every distinct text in a training file: all string fields of JSONL/CSV/TSV rows (texts or pairs), or .txt
    lines, in file order."""
    path = existing_file(path)
    if path.suffix.lower() == ".txt":
        texts = [line.strip() for _, line in text_lines(path)]
    else:
        texts = [v for _, row in read_rows(path) for v in row.values() if isinstance(v, str) and v.strip()]
    if not texts:
        raise InputError(f"{path}: no training texts")
    return list(dict.fromkeys(texts))
