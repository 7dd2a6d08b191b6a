"""Retrieval: embed corpus and queries, exact top-k search, trec_eval metrics per query (BEIR folders)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from spacekit.embed import EncodeOptions, Model
from spacekit.errors import InputError
from spacekit.metrics.retrieval import parse_metric
from spacekit.ranked_run import RankedRun
from spacekit.tasks.base import MetricSpec, Task, TaskResult, texts_per_item
from spacekit.tasks.registry import register

DEFAULT_KS = (1, 3, 5, 10, 100, 1000)
REPORTED = ("ndcg@10", "recall@100", "mrr@10")  # always computed in a suite, whatever it tests


def retrieval_metric_names(ks=DEFAULT_KS) -> list[str]:
    """ndcg/recall/mrr/map/precision/hit at every k."""
    return [f"{m}@{k}" for m in ("ndcg", "recall", "mrr", "map", "precision", "hit") for k in ks]


@dataclass(kw_only=True)
class RetrievalResult(TaskResult):
    """Per query: every metric; the ranked run; the rank of the first relevant document (0: none retrieved)."""

    run: RankedRun
    first_relevant_rank: np.ndarray
    skipped_queries: int
    split: str | None = None

    def item_facts(self, i: int) -> dict:
        """The first relevant document's rank, None when it is beyond the retrieved depth."""
        return {"rank": int(self.first_relevant_rank[i]) or None}

    def summary(self) -> dict:
        """split (when searched) and how many qrels queries the run skipped."""
        return {**({"split": self.split} if self.split is not None else {}), "skipped_queries": self.skipped_queries}


@register
@dataclass
class RetrievalTask(Task[RetrievalResult]):
    """Embed corpus and queries, exact top-k search, trec_eval metrics per query."""

    data: str | Path
    split: str = "test"
    metrics: list[str] = field(default_factory=lambda: retrieval_metric_names())
    depth: int = 1000
    similarity: str = "cosine"
    all_queries: bool = False
    name: str = ""
    backend: str = "spacekit"  # or "faiss": an exact faiss flat index (optional dependency)
    kind: ClassVar[str] = "retrieval"
    options: ClassVar[dict[str, type]] = {"data": str, "split": str, "backend": str, "depth": int}
    default_metrics: ClassVar[tuple[str, ...]] = REPORTED

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise InputError(f"retrieval depth must be >= 1, got {self.depth}")
        if self.backend not in ("spacekit", "faiss"):
            raise InputError(f"search backend must be 'spacekit' or 'faiss', got {self.backend!r}")
        if self.similarity not in ("cosine", "dot"):
            raise InputError(f"similarity must be 'cosine' or 'dot', got {self.similarity!r}")

    @classmethod
    def metric_spec(cls, metric: str) -> MetricSpec:
        """Every trec_eval metric is a mean over queries."""
        parse_metric(metric)
        return MetricSpec("mean")

    @classmethod
    def from_suite(cls, name: str, metrics: list[str], options: dict) -> RetrievalTask:
        """data, split, backend, depth from the suite table."""
        return cls(options["data"], options.get("split", "test"), sorted(set(metrics) | set(REPORTED)),
                   options.get("depth", 1000), name=name, backend=options.get("backend", "spacekit"))

    def run(self, model: Model, opts: EncodeOptions) -> RetrievalResult:
        """Evaluate `model`: the ranked run, per-query metrics and texts."""
        from spacekit.io.beir import read_beir
        from spacekit.metrics.retrieval import Judgements, evaluate
        from spacekit.ops import topk

        data = read_beir(self.data, self.split)
        docs = opts.embed(model, data.corpus.ids, data.corpus.texts)      # (n, d)
        queries = opts.embed(model, data.queries.ids, data.queries.texts)  # (nq, d)
        if self.backend == "faiss":
            from spacekit.ops.faiss_search import faiss_topk

            scores, idx = faiss_topk(queries, docs, self.depth, metric=self.similarity)
        else:
            scores, idx = topk(queries, docs, self.depth, metric=self.similarity, device=opts.device)
        run = RankedRun(data.queries.ids, np.array(data.corpus.ids, dtype=object), idx.numpy(),
                        scores.numpy().astype(np.float64), ordered=True)
        judged = Judgements.build(data.qrels, {d: c for c, d in enumerate(data.corpus.ids)})
        result = evaluate(judged, run, self.metrics, all_queries=self.all_queries)
        return RetrievalResult(
            kind=self.kind, name=self.name or data.name, dataset=str(self.data), model=model.spec,
            metrics=result.means(), item_ids=result.query_ids, per_item=result.per_query,
            item_texts=texts_per_item(data.queries.ids, data.queries.texts), run=run,
            first_relevant_rank=result.first_relevant_rank, skipped_queries=result.skipped, split=self.split)

    def report_extras(self, before: RetrievalResult, after: RetrievalResult) -> dict:
        """How many qrels queries the run skipped."""
        return {"skipped_queries": before.skipped_queries}

