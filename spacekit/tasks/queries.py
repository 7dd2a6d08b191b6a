"""Actual user queries, no labels: both models search the corpus for every query, and compare observes how their
top-k lists differ (overlap@k, rank-biased overlap, the results that entered the top k), shows the queries whose
results changed most with both lists side by side, and writes a judging sheet whose filled-in labels come back as
qrels (`spacekit ab qrels`) for a labelled retrieval task."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np

from spacekit.embed import EncodeOptions, Model
from spacekit.errors import InputError
from spacekit.escape import html, md
from spacekit.files import safe_file_name
from spacekit.io.texts import Texts
from spacekit.records import Json
from spacekit.settings import Range
from spacekit.tasks.base import Task, TaskResult, task_name, texts_per_item
from spacekit.tasks.options import Option, check_ranges
from spacekit.tasks.registry import register
from spacekit.tasks.sections import fixed

SHOWN_CHANGED = 10        # the most changed queries shown in the report


@dataclass(frozen=True)
class ChangedQuery:
    """One query whose top-k list changed much: its overlap@k, RBO, how many results entered, and both lists as
    (document id, text)."""

    id: str
    query: str
    overlap: float
    rbo: float
    entered: int
    before: tuple[tuple[str, str], ...]
    after: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class QueriesSection:
    """The report's section of one queries task: on average over its n queries, overlap@k, rank-biased overlap
    (persistence rbo_p), the results that entered the top k, the queries whose lists did not change; the most
    changed queries; and the judging sheet's file (every document either model showed, a label to fill in)."""

    name: str
    k: int
    n: int
    rbo_p: float
    overlap: Annotated[Mapping[str, float], Json(flatten=True)]     # {"overlap@<k>": the mean overlap@k}
    rbo: float
    entered_per_query: float
    unchanged_queries: int
    most_changed: tuple[ChangedQuery, ...]
    sheet: str
    sheet_rows: Annotated[tuple[Mapping[str, str], ...], Json(skip=True)]

    def summary(self) -> str | None:
        """Overlap, RBO, results entering the top k, unchanged queries: one sentence."""
        k = self.k
        return (f"{self.name}: {self.n:,} queries without labels; overlap@{k} {self.overlap[f'overlap@{k}']:.3f}, "
                f"RBO (p={self.rbo_p:g}) {self.rbo:.3f}, {self.entered_per_query:.2f} results per query entered the "
                f"top {k}; {self.unchanged_queries:,} queries' lists unchanged")

    def markdown(self) -> list[str]:
        """The summary and the most changed queries with both lists."""
        lines = ["", f"## Actual queries ({md(self.name)})", "", md(self.summary()) + ".",
                 f"Judging sheet: {md(self.sheet)} (fill in `label`; `spacekit ab qrels` turns it into qrels).", "",
                 "The queries whose results changed most (lowest RBO):", ""]
        for x in self.most_changed:
            lines += [f"- **{md(x.query[:160])}** (RBO {fixed(x.rbo)}, {x.entered} entered)",
                      f"  - before: {md('; '.join(t[:60] for _, t in x.before[:5]))}",
                      f"  - after: {md('; '.join(t[:60] for _, t in x.after[:5]))}"]
        return lines

    def html(self, figure: str) -> str:
        """Both models' top results, side by side, for the queries whose lists changed most."""
        rows = "".join(
            f"<tr><td class='l'>{html(x.query)}<br><span class='muted'>RBO {x.rbo:.3f}, {x.entered} entered</span>"
            f"</td><td class='l'>{'<br>'.join(html(t[:90]) for _, t in x.before)}</td>"
            f"<td class='l'>{'<br>'.join(html(t[:90]) for _, t in x.after)}</td></tr>" for x in self.most_changed)
        return (f"<h2>Actual queries: {html(self.name)}</h2><p>{html(self.summary())}. Judging sheet: "
                f"<code>{html(self.sheet)}</code>.</p>{figure}<table><tr><th class='l'>query</th>"
                f"<th class='l'>before</th><th class='l'>after</th></tr>{rows}</table>")

    def figure(self) -> Any:
        """None."""
        return None

    def files(self) -> Mapping[str, list[dict[str, str]]]:
        """The judging sheet."""
        return {self.sheet: [dict(r) for r in self.sheet_rows]}


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

    queries: Annotated[str | Path, Option("the users' queries (id, text), no labels", path=True)]
    corpus: Annotated[str | Path, Option("the documents (id, text)", path=True)]
    k: Annotated[int, Option("results per list compared", range=Range(1, 10_000, integer=True))] = 10
    rbo_p: Annotated[float, Option("rank-biased overlap's persistence", range=Range(0, 1, True, True))] = 0.9
    name: str = ""
    kind: ClassVar[str] = "queries"
    roles: ClassVar[tuple[str | None, ...]] = ("query", "document")
    section: ClassVar[str | None] = "queries"
    observed: ClassVar[type | None] = QueriesSection

    def __post_init__(self) -> None:
        check_ranges(self)

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
        _, idx = topk(q, docs, self.k, metric=metric, device=opts.placement.device)
        ids = np.array(corpus.ids, dtype=object)
        top = [[str(d) for d in ids[row]] for row in idx.numpy()]
        return QueriesResult(kind=self.kind, name=task_name(self.name, self.queries), dataset=str(self.queries),
                             model=model.spec, metrics={}, item_ids=queries.ids, per_item={}, k=self.k, top=top,
                             documents=dict(zip(corpus.ids, corpus.texts, strict=True)),
                             item_texts=texts_per_item(queries.ids, queries.texts))

    def observe(self, before: QueriesResult, after: QueriesResult, trained: Callable[[str], bool]) -> QueriesSection:
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
        return QueriesSection(
            name=before.name, k=self.k, n=len(rows), rbo_p=self.rbo_p,
            overlap={f"overlap@{self.k}": float(np.mean([r["overlap"] for r in rows]))},
            rbo=float(np.mean([r["rbo"] for r in rows])),
            entered_per_query=float(np.mean([r["entered"] for r in rows])),
            unchanged_queries=sum(r["before"] == r["after"] for r in rows),
            most_changed=tuple(ChangedQuery(r["id"], r["query"], r["overlap"], r["rbo"], r["entered"],
                                            tuple((d, docs[d]) for d in r["before"]),
                                            tuple((d, docs[d]) for d in r["after"])) for r in changed),
            sheet=f"judging-{safe_file_name(before.name)}.csv", sheet_rows=tuple(judging_sheet(rows, docs)))


def judging_sheet(rows: list[dict], docs: Mapping[str, str]) -> list[dict]:
    """One row per (query, document) either model showed: which showed it, and an empty label to fill in."""
    out = []
    for r in rows:
        for d in dict.fromkeys([*r["before"], *r["after"]]):
            shown_by = "both" if d in r["before"] and d in r["after"] else ("before" if d in r["before"] else "after")
            out.append({"query_id": r["id"], "query": r["query"], "doc_id": d, "document": docs[d],
                        "shown_by": shown_by, "label": ""})
    return out
