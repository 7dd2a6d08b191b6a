"""BEIR folders: corpus.jsonl {_id,title,text}, queries.jsonl {_id,text}, qrels/<split>.tsv."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spacekit.errors import InputError
from spacekit.io.texts import Texts, read_texts
from spacekit.io.trec import Qrels, read_qrels


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
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for need in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_path):
        if not need.is_file():
            raise InputError(f"{need}: missing (a BEIR folder has corpus.jsonl, queries.jsonl, qrels/{split}.tsv)")
    corpus = read_texts(folder / "corpus.jsonl")
    all_queries = read_texts(folder / "queries.jsonl")
    qrels, where = read_qrels(qrels_path)
    doc_set, query_text = set(corpus.ids), dict(zip(all_queries.ids, all_queries.texts, strict=True))
    for (qid, docid), lineno in where.items():
        if qid not in query_text:
            raise InputError(f"{qrels_path}:{lineno}: query id {qid!r} is not in queries.jsonl")
        if docid not in doc_set:
            raise InputError(f"{qrels_path}:{lineno}: document id {docid!r} is not in corpus.jsonl")
    ids = list(qrels)
    queries = Texts(ids, [query_text[q] for q in ids], str(folder / "queries.jsonl"))
    return BeirData(corpus, queries, qrels, folder.name)
