"""`spacekit ab replay`: a log's queries and clicks as a labelled retrieval task (a clicked document is relevant),
so compare can rank both models on real queries; and how much of what each model retrieves the log never showed.

    prepared = spacekit.ab.replay(read_log(log, replay=True), read_texts(corpus), folder)
    comparison = run_suite(before, after, [replay_spec(prepared)], config)      # spacekit.compare
    prepared.unjudged(comparison.runs[0].before, comparison.runs[0].after)

Clicks judge only what the serving (old) model showed: a document the new model retrieves that was never shown is
unjudged and counts as not relevant, which favours the old model. The share of unjudged results is reported beside
the metrics for that reason.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from spacekit.errors import InputError
from spacekit.files import atomic_write
from spacekit.io.ab_log import Impressions
from spacekit.io.texts import Texts
from spacekit.io.trec import qrels_tsv

if TYPE_CHECKING:
    from spacekit.tasks import TaskResult

REPLAY_METRICS = ("ndcg@10", "mrr@10", "recall@10")


@dataclass(frozen=True)
class Unjudged:
    """The mean share, over the replayed queries, of each model's top k that the log never showed for the query
    (unjudged, so counted as not relevant: the model that served the log is favoured)."""

    k: int
    before: float
    after: float
    queries: int

    def as_json(self) -> dict:
        """replay.json's object: {"unjudged@10": {"before": ..., "after": ...}, "queries": n}."""
        return {f"unjudged@{self.k}": {"before": self.before, "after": self.after}, "queries": self.queries}


@dataclass(frozen=True)
class Replay:
    """A log replayed as a retrieval task: the BEIR folder written from it (test split; clicked = relevant), its
    metrics, and per query id every document the log showed (what its clicks can judge)."""

    folder: Path
    shown: dict[str, set[str]]
    metrics: tuple[str, ...] = REPLAY_METRICS

    def task_options(self) -> dict:
        """The retrieval task's suite options: the folder and its split."""
        return {"data": str(self.folder), "split": "test"}

    def unjudged(self, before: TaskResult, after: TaskResult, k: int = 10) -> Unjudged:
        """The share of each model's top k (their retrieval results on this task) the log never showed."""
        from spacekit.tasks.retrieval import RetrievalResult

        if not (isinstance(before, RetrievalResult) and isinstance(after, RetrievalResult)):
            raise InputError("replay: the results are not a retrieval task's (no ranked run)")
        b, a = (unjudged_share(r.run.query_ids, r.run.doc_ids, r.run.codes, self.shown, k) for r in (before, after))
        return Unjudged(k, b, a, len(before.run.query_ids))


def replay(log: Impressions, corpus: Texts, folder: str | Path) -> Replay:
    """The log as a retrieval task written under folder (queries with a click; relevant = clicked): the library's
    `ab replay`."""
    written, shown = replay_folder(log, corpus, Path(folder))
    return Replay(written, shown)


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
    qrels = qrels_tsv([(q, d, 1) for q, docs in judged.items() for d in sorted(docs)], log.path)  # ids checked
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "corpus.jsonl", "".join(json.dumps({"_id": d, "text": t}, ensure_ascii=False) + "\n"
                                                  for d, t in zip(corpus.ids, corpus.texts, strict=True)))
    atomic_write(folder / "queries.jsonl", "".join(json.dumps({"_id": q, "text": texts[q]}, ensure_ascii=False)
                                                   + "\n" for q in judged))
    atomic_write(folder / "qrels" / "test.tsv", qrels)
    return folder, shown


def unjudged_share(query_ids: list[str], doc_ids: np.ndarray, codes: np.ndarray, shown: dict[str, set[str]],
                   k: int = 10) -> float:
    """The mean share, over queries, of the top-k results the log never showed for that query."""
    shares = [np.mean([str(doc_ids[c]) not in shown.get(q, set()) for c in row[:k]])
              for q, row in zip(query_ids, codes, strict=True)]
    return float(np.mean(shares)) if shares else float("nan")
