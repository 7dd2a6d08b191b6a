"""Pair probes: does the model put pairs that should be close closer than pairs that should be far?

A probe file is TSV/CSV/JSONL with text_a, text_b, expect (close | far) and an optional group. Within a group,
the probe passes when every close pair is more similar than every far pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spacekit.errors import InputError
from spacekit.io.tables import field, read_rows

# (group, text_a, text_b, expect): obvious cases across domains.
BUILTIN = [
    ("python", "Python programming", "coding in Python", "close"),
    ("python", "Python programming", "snake species", "far"),
    ("cardiology", "myocardial infarction", "heart attack", "close"),
    ("cardiology", "myocardial infarction", "stock market crash", "far"),
    ("finance", "How do I reset my card PIN?", "I forgot the PIN for my debit card", "close"),
    ("finance", "How do I reset my card PIN?", "Best hiking trails near Denver", "far"),
    ("apple", "Apple released a new iPhone", "the company launched its latest smartphone", "close"),
    ("apple", "Apple released a new iPhone", "apple pie recipe with cinnamon", "far"),
    ("bank", "I need to open a bank account", "how can I start a new savings account", "close"),
    ("bank", "I need to open a bank account", "we sat on the river bank", "far"),
    ("weather", "It is raining heavily today", "there is a downpour outside", "close"),
    ("weather", "It is raining heavily today", "the database query timed out", "far"),
    ("translation", "The cat sits on the mat", "A cat is sitting on a rug", "close"),
    ("translation", "The cat sits on the mat", "Quarterly revenue grew by ten percent", "far"),
    ("negation", "The server is running", "The service is up", "close"),
    ("negation", "The server is running", "A marathon runner crossed the finish line", "far"),
]


@dataclass(frozen=True)
class Probes:
    """Probe pairs: ids, texts, expected relation, group."""

    ids: list[str]
    text_a: list[str]
    text_b: list[str]
    expect: list[str]
    group: list[str]


def builtin_probes() -> Probes:
    """The built-in probe set."""
    g, a, b, e = zip(*BUILTIN, strict=True)
    return Probes([f"builtin:{i}" for i in range(len(BUILTIN))], list(a), list(b), list(e), list(g))


def read_probes(path: str | Path) -> Probes:
    """Read a probe file (or 'builtin' for the built-in set)."""
    if str(path) == "builtin":
        return builtin_probes()
    path = Path(path)
    ids, a, b, e, g = [], [], [], [], []
    for lineno, row in read_rows(path):
        expect = field(path, lineno, row, "expect").strip().lower()
        if expect not in {"close", "far"}:
            raise InputError(f"{path}:{lineno}: expect must be 'close' or 'far', got {expect!r}")
        ids.append(f"{path.name}:{lineno}")
        a.append(field(path, lineno, row, "text_a"))
        b.append(field(path, lineno, row, "text_b"))
        e.append(expect)
        g.append(str(row.get("group") or "all"))
    if not ids:
        raise InputError(f"{path}: no probe pairs")
    return Probes(ids, a, b, e, g)
