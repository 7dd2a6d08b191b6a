"""A task = data + model -> per-item scores + aggregate metrics, one interface for every kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spacekit.cache import embeddings
from spacekit.encode import Model
from spacekit.errors import InputError


@dataclass(frozen=True)
class EncodeOptions:
    """How a task turns texts into vectors: device, precision, batch size and the cache."""

    device: str | None = None
    dtype: str | None = None
    batch_tokens: int | None = None
    cache_dir: str | None = None
    use_cache: bool = True

    def embed(self, model: Model, ids: list[str], texts: list[str]) -> np.ndarray:
        """(n, d) float32 vectors through the per-model cache."""
        return embeddings(model, ids, texts, cache_dir=self.cache_dir, use_cache=self.use_cache,
                          device=self.device, dtype=self.dtype, batch_tokens=self.batch_tokens)


@dataclass
class TaskResult:
    """Aggregate metrics plus the per-item values behind them (what the paired statistics resample)."""

    kind: str
    name: str
    dataset: str
    model: str
    metrics: dict[str, float]
    item_ids: list[str]
    per_item: dict[str, np.ndarray]
    extra: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.item_ids)

    def as_json(self) -> dict:
        """The DESIGN.md shape: {task, model, dataset, n, metrics, ...extra scalars}."""
        out = {"task": self.kind, "model": self.model, "dataset": self.dataset, "n": self.n,
               "metrics": {k: float(v) for k, v in self.metrics.items()}}
        out.update({k: v for k, v in self.extra.items() if isinstance(v, (int, float, str, bool))})
        return out


DEFAULT_KS = (1, 3, 5, 10, 100, 1000)


def retrieval_metric_names(ks=DEFAULT_KS) -> list[str]:
    """ndcg/recall/mrr/map/precision/hit at every k."""
    return [f"{m}@{k}" for m in ("ndcg", "recall", "mrr", "map", "precision", "hit") for k in ks]


@dataclass
class RetrievalTask:
    """Embed corpus and queries, exact top-k search, trec_eval metrics per query."""

    data: str | Path
    split: str = "test"
    metrics: list[str] = field(default_factory=lambda: retrieval_metric_names())
    depth: int = 1000
    similarity: str = "cosine"
    all_queries: bool = False
    name: str = ""
    kind: str = "retrieval"

    def run(self, model: Model, opts: EncodeOptions = EncodeOptions()) -> TaskResult:
        """Evaluate `model`; the ranked run is kept in extra['run'] and per-query texts in extra['texts']."""
        from spacekit.io.beir import read_beir
        from spacekit.metrics.retrieval import RankedRun, evaluate
        from spacekit.ops import topk

        if self.depth < 1:
            raise InputError(f"retrieval depth must be >= 1, got {self.depth}")
        data = read_beir(self.data, self.split)
        docs = opts.embed(model, data.corpus.ids, data.corpus.texts)      # (n, d)
        queries = opts.embed(model, data.queries.ids, data.queries.texts)  # (nq, d)
        scores, idx = topk(queries, docs, self.depth, metric=self.similarity, device=opts.device)
        run = RankedRun(data.queries.ids, np.array(data.corpus.ids, dtype=object), idx.numpy(),
                        scores.numpy().astype(np.float64), ordered=True)
        result = evaluate(data.qrels, run, self.metrics, all_queries=self.all_queries)
        return TaskResult(self.kind, self.name or data.name, str(self.data), model.spec, result.means(),
                          result.query_ids, result.per_query,
                          {"split": self.split, "skipped_queries": result.skipped, "run": run,
                           "first_relevant_rank": result.first_relevant_rank,
                           "texts": dict(zip(data.queries.ids, data.queries.texts, strict=True))})
