"""TREC qrels (`qid 0 docid rel`, or BEIR's `query-id corpus-id score` TSV) and runs (`qid Q0 docid rank score tag`)."""

from __future__ import annotations

import math
from pathlib import Path

from spacekit.errors import InputError
from spacekit.files import atomic_open
from spacekit.io.tables import existing_file
from spacekit.ranked_run import RankedRun

Qrels = dict[str, dict[str, int]]


def _lines(path: Path):
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if line.strip():
                    yield lineno, line
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def read_qrels(path: str | Path) -> tuple[Qrels, dict[tuple[str, str], int]]:
    """Qrels {qid: {docid: rel}} and the line of each (qid, docid), from TREC or BEIR TSV."""
    path = existing_file(path)
    qrels: Qrels = {}
    where: dict[tuple[str, str], int] = {}
    for lineno, line in _lines(path):
        fields = line.split("\t") if "\t" in line else line.split()
        fields = [f.strip() for f in fields]
        if lineno == 1 and fields[:2] == ["query-id", "corpus-id"]:
            continue  # BEIR header
        if len(fields) == 3:
            qid, docid, rel = fields
        elif len(fields) == 4:
            qid, _, docid, rel = fields
        else:
            raise InputError(f"{path}:{lineno}: expected 'qid 0 docid rel' or 'query-id corpus-id score', "
                             f"got {len(fields)} fields")
        try:
            value = int(float(rel))
        except ValueError:
            raise InputError(f"{path}:{lineno}: relevance must be an integer, got {rel!r}") from None
        if (qid, docid) in where:
            raise InputError(f"{path}:{lineno}: duplicate judgement for query {qid!r}, doc {docid!r} "
                             f"(first at line {where[qid, docid]})")
        where[qid, docid] = lineno
        qrels.setdefault(qid, {})[docid] = value
    if not qrels:
        raise InputError(f"{path}: no judgements")
    return qrels, where


def read_run(path: str | Path) -> RankedRun:
    """A TREC run file as a RankedRun (rows in file order of first appearance; any order within a query)."""
    path = existing_file(path)
    per_query: dict[str, dict[str, float]] = {}
    for lineno, line in _lines(path):
        fields = line.split()
        if len(fields) != 6:
            raise InputError(f"{path}:{lineno}: expected 'qid Q0 docid rank score tag', got {len(fields)} fields")
        qid, _, docid, _, score, _ = fields
        try:
            value = float(score)
        except ValueError:
            raise InputError(f"{path}:{lineno}: score must be a number, got {score!r}") from None
        if math.isnan(value):
            raise InputError(f"{path}:{lineno}: score is NaN")
        docs = per_query.setdefault(qid, {})
        if docid in docs:
            raise InputError(f"{path}:{lineno}: document {docid!r} appears twice for query {qid!r}")
        docs[docid] = value
    if not per_query:
        raise InputError(f"{path}: no results")
    return RankedRun.from_dict(per_query)


def write_run(path: str | Path, run: RankedRun, tag: str = "spacekit") -> None:
    """Write a TREC run (rank by score descending as given), atomically."""
    with atomic_open(path, "w") as f:
        for r, qid in enumerate(run.query_ids):
            for rank, (c, s) in enumerate(zip(run.codes[r], run.scores[r], strict=True), start=1):
                if c >= 0:
                    f.write(f"{qid} Q0 {run.doc_ids[c]} {rank} {float(s)!r} {tag}\n")
