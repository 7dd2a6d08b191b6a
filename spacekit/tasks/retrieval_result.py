"""A retrieval task's result: every metric per query, each query's top results kept, and a sparse encoder's
sparsity."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from spacekit.io.beir import BeirData
from spacekit.metrics.sparsity import SparsityStats
from spacekit.ranked_run import RankedRun
from spacekit.tasks.base import TaskResult

if TYPE_CHECKING:
    from spacekit.metrics.threshold import ScoredPairs

RUN_KEPT = 100          # each query's top results a RetrievalResult keeps (the whole run streams to run_out)


@dataclass(kw_only=True)
class RetrievalResult(TaskResult):
    """Per query: every metric; its top RUN_KEPT results (the ranked run, cut; rows in query file order); the rank
    of the first relevant document in the whole run (0: none retrieved); per item, which of its kept results are
    relevant and how many relevant documents its qrels hold."""

    run: RankedRun
    first_relevant_rank: np.ndarray
    kept_relevant: np.ndarray        # (items, RUN_KEPT) bool, aligned with item_ids (not the run's rows)
    relevant_total: np.ndarray       # (items,) int
    skipped_queries: int
    split: str | None = None
    similarity: str = "cosine"
    sparsity: SparsityStats | None = None   # a sparse encoder's active dimensions and FLOPs per query
    item_meaning: ClassVar[str] = ("an item is a query; Δ is the change in its {metric}; rank is the rank of its first "
                                   "relevant document (> when beyond the depth searched)")
    positive_meaning: ClassVar[str | None] = (f"a query's relevant document among its top {RUN_KEPT} results (relevant "
                                              f"documents below them count as missed)")

    def sparsity_stats(self) -> SparsityStats | None:
        """The sparse encoder's active dimensions and FLOPs (None for a dense model)."""
        return self.sparsity

    def item_facts(self, i: int) -> dict:
        """The first relevant document's rank, None when it is beyond the retrieved depth."""
        return {"rank": int(self.first_relevant_rank[i]) or None}

    def threshold_pairs(self) -> ScoredPairs:
        """Each query's kept results (its top RUN_KEPT) as scored pairs, a relevant document a positive; relevant
        documents beyond them are missed positives."""
        from spacekit.metrics.threshold import ScoredPairs

        row_of = {q: r for r, q in enumerate(self.run.query_ids)}
        rows = np.array([row_of.get(q, -1) for q in self.item_ids], np.int64)
        scores = np.where(rows[:, None] >= 0, self.run.scores[rows], -np.inf)
        found = np.isfinite(scores) & (self.run.codes[rows] >= 0)
        item = np.broadcast_to(np.arange(len(rows))[:, None], scores.shape)
        return ScoredPairs(scores[found], self.kept_relevant[found], item[found],
                           self.relevant_total - self.kept_relevant.sum(axis=1))

    def summary(self) -> dict:
        """split (when searched), the similarity searched with, and how many qrels queries the run skipped."""
        return {**({"split": self.split} if self.split is not None else {}), "similarity": self.similarity,
                "skipped_queries": self.skipped_queries,
                **({"sparsity": dataclasses.asdict(self.sparsity)} if self.sparsity is not None else {})}


def present_fields(queries, item_ids: list[str]) -> dict[str, list[str]]:
    """The queries file's other columns per item ('' for a judged query the file does not hold)."""
    row = {q: r for r, q in enumerate(queries.ids)}
    return {name: [values[row[q]] if q in row else "" for q in item_ids] for name, values in queries.fields.items()}


def relevant_texts(data: BeirData) -> dict[str, list[str]]:
    """{query id: the texts of its relevant documents (grade > 0)}."""
    text = dict(zip(data.corpus.ids, data.corpus.texts, strict=True))
    return {q: [text[d] for d, grade in docs.items() if grade > 0] for q, docs in data.qrels.items()}
