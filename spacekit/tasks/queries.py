"""Actual user queries, no labels: both models search the corpus for every query, and compare observes how their
top-k lists differ (overlap@k, rank-biased overlap, the results that entered the top k), shows the queries whose
results changed most with both lists side by side, and writes a judging sheet whose filled-in labels come back as
qrels (`spacekit ab qrels`) for a labelled retrieval task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from spacekit.embed import EncodeOptions, Model
from spacekit.errors import InputError
from spacekit.io.texts import Texts
from spacekit.tasks.base import Task, TaskResult, task_name, texts_per_item
from spacekit.tasks.registry import register

SHOWN_CHANGED = 10        # the most changed queries shown in the report


@dataclass(kw_only=True)
class QueriesResult(TaskResult):
    """Per query: its top-k document ids; the documents' texts by id (for the side-by-side lists and the sheet)."""

    k: int
    top: list[list[str]]
    documents: dict[str, str]


@register
@dataclass
class QueriesTask(Task[QueriesResult]):
    """Both models' top-k lists on unlabelled queries, compared (observed, not tested)."""

    queries: str | Path
    corpus: str | Path
    k: int = 10
    rbo_p: float = 0.9
    name: str = ""
    kind: ClassVar[str] = "queries"
    roles: ClassVar[tuple[str | None, ...]] = ("query", "document")
    options: ClassVar[dict[str, type]] = {"queries": str, "corpus": str, "k": int, "rbo_p": float}
    paths: ClassVar[tuple[str, ...]] = ("queries", "corpus")
    required: ClassVar[tuple[str, ...]] = ("queries", "corpus")
    section: ClassVar[str | None] = "queries"

    def __post_init__(self) -> None:
        if self.k < 1:
            raise InputError(f"queries: k must be >= 1, got {self.k}")
        if not 0 < self.rbo_p < 1:
            raise InputError(f"queries: rbo_p must be between 0 and 1, got {self.rbo_p}")

    @classmethod
    def from_suite(cls, name: str, metrics: list[str], options: dict) -> QueriesTask:
        """queries, corpus, k, rbo_p from the suite table."""
        return cls(options["queries"], options["corpus"], options.get("k", 10), options.get("rbo_p", 0.9), name=name)

    def read_inputs(self) -> tuple[Texts, Texts]:
        """(queries, corpus): id and text per row; the corpus must hold at least k documents."""
        from spacekit.io.texts import read_texts

        queries, corpus = read_texts(self.queries), read_texts(self.corpus)
        if len(corpus) < self.k:
            raise InputError(f"{self.corpus}: {len(corpus)} documents, fewer than k = {self.k}")
        return queries, corpus

    def run(self, model: Model, opts: EncodeOptions) -> QueriesResult:
        """Exact top-k search of every query by the model's similarity (cosine when it names none; one it names
        that spacekit cannot search by, such as euclidean, is an InputError before anything is encoded)."""
        from spacekit.ops import topk
        from spacekit.tasks.retrieval import searchable_similarity

        metric = searchable_similarity(model)
        queries, corpus = self.inputs()
        docs = opts.embed(model, corpus.ids, corpus.texts, "document")
        q = opts.embed(model, queries.ids, queries.texts, "query")
        _, idx = topk(q, docs, self.k, metric=metric, device=opts.device)
        ids = np.array(corpus.ids, dtype=object)
        top = [[str(d) for d in ids[row]] for row in idx.numpy()]
        return QueriesResult(kind=self.kind, name=task_name(self.name, self.queries), dataset=str(self.queries),
                             model=model.spec, metrics={}, item_ids=queries.ids, per_item={}, k=self.k, top=top,
                             documents=dict(zip(corpus.ids, corpus.texts, strict=True)),
                             item_texts=texts_per_item(queries.ids, queries.texts))

    def observe(self, before: QueriesResult, after: QueriesResult, trained: Callable[[str], bool]) -> dict:
        """Overlap@k, RBO and entered results per query and on average; the most changed queries with both lists;
        the judging sheet (every document either model put in a query's top k)."""
        from spacekit.metrics.ranking_change import entered, overlap_at_k, rbo

        rows: list[dict] = []
        for i, qid in enumerate(before.item_ids):
            a, b = before.top[i], after.top[i]
            rows.append({"id": qid, "query": before.item_texts[qid][0], "overlap": overlap_at_k(a, b, self.k),
                         "rbo": rbo(a, b, self.rbo_p), "entered": len(entered(a, b, self.k)),
                         "before": a, "after": b})
        changed = sorted(rows, key=lambda r: (r["rbo"], r["id"]))[:SHOWN_CHANGED]
        docs = before.documents
        return {"name": before.name, "k": self.k, "n": len(rows), "rbo_p": self.rbo_p,
                f"overlap@{self.k}": float(np.mean([r["overlap"] for r in rows])),
                "rbo": float(np.mean([r["rbo"] for r in rows])),
                "entered_per_query": float(np.mean([r["entered"] for r in rows])),
                "unchanged_queries": sum(r["before"] == r["after"] for r in rows),
                "most_changed": [{**{k: r[k] for k in ("id", "query", "overlap", "rbo", "entered")},
                                  "before": [(d, docs[d]) for d in r["before"]],
                                  "after": [(d, docs[d]) for d in r["after"]]} for r in changed],
                "sheet": judging_sheet(rows, docs)}


def judging_sheet(rows: list[dict], docs: dict[str, str]) -> list[dict]:
    """One row per (query, document) either model showed: which showed it, and an empty label to fill in."""
    out = []
    for r in rows:
        for d in dict.fromkeys([*r["before"], *r["after"]]):
            shown_by = "both" if d in r["before"] and d in r["after"] else ("before" if d in r["before"] else "after")
            out.append({"query_id": r["id"], "query": r["query"], "doc_id": d, "document": docs[d],
                        "shown_by": shown_by, "label": ""})
    return out
