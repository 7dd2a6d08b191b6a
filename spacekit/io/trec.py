"""TREC qrels (`qid 0 docid rel`, or BEIR's `query-id corpus-id score` TSV) and runs (`qid Q0 docid rank score tag`)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path

from spacekit.errors import InputError
from spacekit.files import atomic_open
from spacekit.io.tables import existing_file, text_lines
from spacekit.ranked_run import RankedRun

Qrels = dict[str, dict[str, int]]


def read_qrels(path: str | Path) -> tuple[Qrels, dict[tuple[str, str], int]]:
    """Qrels {qid: {docid: rel}} and the line of each (qid, docid), from TREC or BEIR TSV."""
    path = existing_file(path)
    qrels: Qrels = {}
    where: dict[tuple[str, str], int] = {}
    beir = False                                                          # a header says: BEIR's three columns
    for lineno, line in text_lines(path):
        fields = line.split("\t") if "\t" in line else line.split()
        fields = [f.strip() for f in fields]
        if not where and not beir and fields[:2] == ["query-id", "corpus-id"]:
            beir = True
            continue
        if beir and len(fields) != 3:
            raise InputError(f"{path}:{lineno}: expected 'qid 0 docid rel' or 'query-id corpus-id score', got "
                             f"{len(fields)} fields (under a 'query-id corpus-id score' header: 3)")
        if len(fields) == 3:
            qid, docid, rel = fields
        elif len(fields) == 4:
            qid, _, docid, rel = fields
        else:
            raise InputError(f"{path}:{lineno}: expected 'qid 0 docid rel' or 'query-id corpus-id score', "
                             f"got {len(fields)} fields")
        _judge(qrels, where, path, lineno, qid, docid, rel)
    return _nonempty(path, qrels), where


def qrels_from_rows(path: Path, rows) -> tuple[Qrels, dict[tuple[str, str], int]]:
    """Qrels from table rows with query-id, corpus-id, score (BEIR's columns, as MTEB's Parquet qrels have them)."""
    from spacekit.io.tables import field

    qrels: Qrels = {}
    where: dict[tuple[str, str], int] = {}
    for lineno, row in rows:
        qid, docid = field(path, lineno, row, "query-id"), field(path, lineno, row, "corpus-id")
        _judge(qrels, where, path, lineno, qid, docid, field(path, lineno, row, "score"), unit="row")
    return _nonempty(path, qrels), where


def _judge(qrels: Qrels, where: dict, path: Path, lineno: int, qid: str, docid: str, grade: str,
           unit: str = "line") -> None:
    """Record one judgement; a second one for the same query and document is an InputError naming both places."""
    value = _relevance(path, lineno, grade)
    if (qid, docid) in where:
        raise InputError(f"{path}:{lineno}: duplicate judgement for query {qid!r}, doc {docid!r} "
                         f"(first at {unit} {where[qid, docid]})")
    where[qid, docid] = lineno
    qrels.setdefault(qid, {})[docid] = value


def _nonempty(path: Path, qrels: Qrels) -> Qrels:
    """The qrels, or an InputError when the file judged nothing."""
    if not qrels:
        raise InputError(f"{path}: no judgements")
    return qrels


def _relevance(path: Path, lineno: int, text: str) -> int:
    """A relevance grade: an integer (written as one, or as a float with no fraction)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value != int(value):
        raise InputError(f"{path}:{lineno}: relevance must be an integer, got {text!r}")
    return int(value)


def read_run(path: str | Path) -> dict[str, dict[str, float]]:
    """A TREC run file as {qid: {docid: score}} (queries in file order of first appearance; any order within a
    query): ragged, so memory follows the file's size (metrics.retrieval.evaluate_ragged scores it)."""
    path = existing_file(path)
    per_query: dict[str, dict[str, float]] = {}
    for lineno, line in text_lines(path):
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
    return per_query


def qrels_tsv(judgements: list[tuple[str, str, int]], source: str | Path) -> str:
    """BEIR qrels text: a header, then query-id, corpus-id, score per judgement; an id the format cannot hold as
    it is (empty, a tab or line break, space at either end: read_qrels would split or strip it) is an InputError
    naming source, before anything is written."""
    for q, d, _ in judgements:
        for kind, value in (("query", q), ("document", d)):
            if len(value.splitlines()) != 1 or "\t" in value or value != value.strip():   # empty, a line break
                raise InputError(f"{source}: {kind} id {value!r} is empty, holds a tab or line break, or starts or "
                                 f"ends with a space: BEIR qrels cannot hold it")
    return "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{grade}\n" for q, d, grade in judgements)


def write_run(path: str | Path, run: RankedRun, tag: str = "spacekit") -> None:
    """Write a TREC run (rank by score descending as given), atomically; an id TREC's whitespace-separated format
    cannot hold (empty, or with whitespace) is refused before anything is written."""
    with run_writer(path, run.query_ids, run.doc_ids, tag) as write:
        write(run)


def run_writer(path: str | Path, query_ids, doc_ids,
               tag: str = "spacekit") -> contextlib.AbstractContextManager[Callable[[RankedRun], None]]:
    """A TREC run written block by block: `with run_writer(...) as write`, write(block) for each block (a RankedRun
    of some queries in rank order); the file appears at `path` only when the `with` block ends without an error.
    Every id is checked now, before anything is written: one TREC's whitespace-separated format cannot hold (empty,
    or with whitespace) is an InputError."""
    for kind, ids in (("query", query_ids), ("document", doc_ids)):
        bad = next((i for i in ids if not str(i) or any(c.isspace() for c in str(i))), None)
        if bad is not None:
            raise InputError(f"{path}: {kind} id {str(bad)!r} is empty or holds whitespace: a TREC run cannot hold it")
    return _run_file(path, tag)


@contextlib.contextmanager
def _run_file(path: str | Path, tag: str) -> Iterator[Callable[[RankedRun], None]]:
    """write(block) appending each block's lines to the run file, which appears only on success."""
    with atomic_open(path, "w") as f:
        yield lambda run: f.writelines(run_lines(run, tag))


def run_lines(run: RankedRun, tag: str = "spacekit") -> Iterator[str]:
    """The TREC lines of a run's queries, rank 1 first (padding skipped)."""
    for r, qid in enumerate(run.query_ids):
        codes, scores = run.codes[r].tolist(), run.scores[r].tolist()
        yield from (f"{qid} Q0 {run.doc_ids[c]} {rank} {float(s)!r} {tag}\n"
                    for rank, (c, s) in enumerate(zip(codes, scores, strict=True), start=1) if c >= 0)
