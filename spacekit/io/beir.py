"""BEIR folders: corpus.jsonl {_id,title,text}, queries.jsonl {_id,text}, qrels/<split>.tsv, and the same parts in
the layouts datasets come in (io.dataset_folders): gzipped JSONL, Parquet, the Hub snapshot's shard folders, and
save_to_disk folders; ids are read as text whatever the format stores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from spacekit.errors import InputError
from spacekit.io.dataset_folders import find_part, find_qrels
from spacekit.io.tables import read_rows_of
from spacekit.io.texts import Texts, read_texts
from spacekit.io.trec import Qrels, qrels_from_rows, read_qrels


@dataclass(frozen=True)
class BeirData:
    """Corpus, the queries judged in this split (in qrels order), and the qrels."""

    corpus: Texts
    queries: Texts
    qrels: Qrels
    name: str


def read_beir(folder: str | Path, split: str = "test") -> BeirData:
    """Read a BEIR folder; every qrels id must name a query and a corpus document."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a BEIR folder (no such directory)")
    corpus_path = find_part(folder, "corpus") or _missing(folder, "corpus.jsonl", split)
    queries_path = find_part(folder, "queries") or _missing(folder, "queries.jsonl", split)
    qrels_source = find_qrels(folder, split) or _missing(folder, f"qrels/{split}.tsv", split)
    corpus = read_texts(corpus_path)
    all_queries = read_texts(queries_path, keep_fields=True)
    qrels, where = _read_qrels(qrels_source)
    qrels_path = qrels_source[0].parent if isinstance(qrels_source, list) else qrels_source
    doc_set, query_text = set(corpus.ids), dict(zip(all_queries.ids, all_queries.texts, strict=True))
    for (qid, docid), lineno in where.items():
        if qid not in query_text:
            raise InputError(f"{qrels_path}:{lineno}: query id {qid!r} is not in {queries_path.name}")
        if docid not in doc_set:
            raise InputError(f"{qrels_path}:{lineno}: document id {docid!r} is not in {corpus_path.name}")
    ids = list(qrels)
    queries = Texts(ids, [query_text[q] for q in ids], str(queries_path), all_queries.fields_of(ids))
    return BeirData(corpus, queries, qrels, folder.name)


def _missing(folder: Path, part: str, split: str) -> NoReturn:
    """The one line for a BEIR folder without one of its parts."""
    raise InputError(f"{folder / part}: missing (a BEIR folder has corpus.jsonl, queries.jsonl, qrels/{split}.tsv, "
                     f"or the same parts as .jsonl.gz, Parquet, or dataset folders)")


def _read_qrels(source: Path | list[Path]) -> tuple[Qrels, dict[tuple[str, str], int]]:
    """TREC / BEIR TSV qrels, or rows (query-id, corpus-id, score) from Parquet, JSONL or a folder of shards."""
    if isinstance(source, Path) and source.is_file() and source.suffix.lower() in (".tsv", ".txt"):
        return read_qrels(source)
    files = source if isinstance(source, list) else [source]
    return qrels_from_rows(files[0].parent if len(files) > 1 else files[0], read_rows_of(files))
