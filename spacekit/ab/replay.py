"""`spacekit ab replay`: a log's queries and clicks as a labelled retrieval task (a clicked document is relevant),
so compare can rank both models on real queries; and how much of what each model retrieves the log never showed.

Clicks judge only what the serving (old) model showed: a document the new model retrieves that was never shown is
unjudged and counts as not relevant, which favours the old model. The share of unjudged results is reported beside
the metrics for that reason.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from spacekit.errors import InputError
from spacekit.files import atomic_write
from spacekit.io.ab_log import Impressions
from spacekit.io.texts import Texts


def query_key(text: str) -> str:
    """A stable id for a query text (the log's query_id when it has one)."""
    return "q" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def replay_folder(log: Impressions, corpus: Texts, folder: Path) -> tuple[Path, dict[str, set[str]]]:
    """Write folder/{corpus.jsonl, queries.jsonl, qrels/test.tsv} from the log (queries with a click; relevant =
    clicked); returns the folder and, per query id, every document the log showed for it."""
    known = set(corpus.ids)
    texts: dict[str, str] = {}
    shown: dict[str, set[str]] = {}
    clicked: dict[str, set[str]] = {}
    for i in range(len(log)):
        text = log.queries[i]
        qid = query_key(text)
        texts.setdefault(qid, text)
        for doc in log.shown[i]:
            if doc not in known:
                raise InputError(f"{log.path}:{log.lines[i] if log.lines else i + 1}: shown document {doc!r} is not "
                                 f"in the corpus ({corpus.source})")
        shown.setdefault(qid, set()).update(log.shown[i])
        clicked.setdefault(qid, set()).update(log.clicks[i])
    judged = {q: docs for q, docs in clicked.items() if docs}
    if not judged:
        raise InputError(f"{log.path}: no impression has a click: nothing to judge by")
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "corpus.jsonl", "".join(json.dumps({"_id": d, "text": t}, ensure_ascii=False) + "\n"
                                                  for d, t in zip(corpus.ids, corpus.texts, strict=True)))
    atomic_write(folder / "queries.jsonl", "".join(json.dumps({"_id": q, "text": texts[q]}, ensure_ascii=False)
                                                   + "\n" for q in judged))
    atomic_write(folder / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\n" + "".join(
        f"{q}\t{d}\t1\n" for q, docs in judged.items() for d in sorted(docs)))
    return folder, shown


def unjudged_share(query_ids: list[str], doc_ids: np.ndarray, codes: np.ndarray, shown: dict[str, set[str]],
                   k: int = 10) -> float:
    """The mean share, over queries, of the top-k results the log never showed for that query."""
    shares = [np.mean([str(doc_ids[c]) not in shown.get(q, set()) for c in row[:k]])
              for q, row in zip(query_ids, codes, strict=True)]
    return float(np.mean(shares)) if shares else float("nan")
