"""The runs a retrieval task scores beside its exact dense run, block by block of queries: each Matryoshka /
precision variant, each approximate index, BM25's run and the hybrid of it with the dense run. Each is scored on
the task's axis metrics under its tag (ndcg@10/int8, ndcg@10/hnsw, ndcg@10/hybrid); a variant in full dimension
and an index also report KNN_METRIC, the share of the exact dense top-KNN_K they return."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from spacekit.metrics.retrieval import Judgements, RunScorer
from spacekit.ranked_run import RankedRun

KNN_K = 10
KNN_METRIC = f"knn_recall@{KNN_K}"
# (queries of the block, the block's rows, the exact dense run of the block) -> (codes, scores), best first
Search = Callable[[np.ndarray, slice, RankedRun], tuple[np.ndarray, np.ndarray]]


@dataclass
class SideRun:
    """One run scored beside the exact dense one: its tag, how a block of queries is searched, its scorer, and
    (knn) each query's k-NN recall against the exact run."""

    tag: str
    search: Search
    scorer: RunScorer
    knn: dict[str, float] | None = field(default=None)

    def add(self, queries: np.ndarray, rows: slice, exact: RankedRun) -> None:
        """Search one block of queries, score it, and measure its recall of the exact top-KNN_K."""
        codes, scores = self.search(queries, rows, exact)
        self.scorer.add(RankedRun(exact.query_ids, exact.doc_ids, codes, scores, ordered=True))
        if self.knn is not None:
            from spacekit.ops.ann import knn_recall

            self.knn.update(zip(exact.query_ids, knn_recall(codes[:, :KNN_K], exact.codes[:, :KNN_K]).tolist(),
                                strict=True))

    def tagged(self, metric: str) -> str:
        """metric under this run's tag: ndcg@10 -> ndcg@10/hnsw."""
        return f"{metric}/{self.tag}"

    def scored(self, query_ids: list[str]) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """(means, per-query values) of every metric under the tag, in query_ids' order (the dense run's)."""
        result = self.scorer.result()
        assert result.query_ids == query_ids
        means = {self.tagged(m): x for m, x in result.means().items()}
        per_query = {self.tagged(m): x for m, x in result.per_query.items()}
        if self.knn is not None:
            values = np.array([self.knn.get(q, 1.0) for q in query_ids])
            means[self.tagged(KNN_METRIC)] = float(values.mean()) if len(values) else 0.0
            per_query[self.tagged(KNN_METRIC)] = values
        return means, per_query


def side_run(tag: str, search: Search, judged: Judgements, metrics: list[str], *, all_queries: bool,
             knn: bool) -> SideRun:
    """A side run scored on `metrics` (and, with knn, its k-NN recall)."""
    return SideRun(tag, search, RunScorer(judged, metrics, all_queries=all_queries), {} if knn else None)
