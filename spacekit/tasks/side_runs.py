"""The runs a retrieval task scores beside its exact dense run, block by block of queries: each Matryoshka /
precision variant, each approximate index, BM25's run, the hybrid of it with the dense run, and the first stage
reranked by a cross-encoder. Each is scored on the task's axis metrics under its tag (ndcg@10/int8, ndcg@10/hnsw,
ndcg@10/hybrid, ndcg@10/rerank); a variant in full dimension and an index also report KNN_METRIC, the share of the
exact dense top-KNN_K they return. Each *_search function makes the search of one run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from spacekit.metrics.retrieval import Judgements, RunScorer
from spacekit.ranked_run import RankedRun
from spacekit.store.vectors import Vectors, dense

if TYPE_CHECKING:
    import torch

    from spacekit.backend import Placement
    from spacekit.tasks.axes import Variant

KNN_K = 10
KNN_METRIC = f"knn_recall@{KNN_K}"
# (queries of the block, the block's rows, the exact dense run of the block) -> (codes, scores), best first
Search = Callable[[Vectors, slice, RankedRun], tuple[np.ndarray, np.ndarray]]


@dataclass
class SideRun:
    """One run scored beside the exact dense one: its tag, how a block of queries is searched, its scorer, and
    (knn) each query's k-NN recall against the exact run."""

    tag: str
    search: Search
    scorer: RunScorer
    knn: dict[str, float] | None = field(default=None)

    def add(self, queries: Vectors, rows: slice, exact: RankedRun) -> None:
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


def variant_search(docs: np.ndarray | None, v: Variant, depth: int, similarity: str, rescore: int,
                   device: torch.device | None) -> Search:
    """One Matryoshka / precision variant's exact search (search_variant) of each block."""
    assert docs is not None                            # a Ray cluster searches no variant (RetrievalTask refuses)

    def search(q: Vectors, rows: slice, exact: RankedRun) -> tuple[np.ndarray, np.ndarray]:
        scores, codes = search_variant(dense(q), docs, v, depth, similarity, rescore, device)
        return codes, scores
    return search


def index_search(kind: str, docs: np.ndarray | None, similarity: str, depth: int) -> Search:
    """The search through an approximate index (spacekit.ops.ann) built once over the model's corpus vectors."""
    from spacekit.ops.ann import AnnIndex
    from spacekit.progress import stage

    assert docs is not None
    with stage(f"{kind} index over {len(docs):,} documents"):
        index = AnnIndex(kind, docs, similarity)

    def search(q: Vectors, rows: slice, exact: RankedRun) -> tuple[np.ndarray, np.ndarray]:
        scores, codes = index.search(dense(q), depth)
        return codes, scores
    return search


def lexical_search(run: tuple[np.ndarray, np.ndarray]) -> Search:
    """BM25's run (codes, scores of every query, computed once) read block by block."""
    codes, scores = run

    def search(q: Vectors, rows: slice, exact: RankedRun) -> tuple[np.ndarray, np.ndarray]:
        return codes[rows].astype(np.int64), scores[rows].astype(np.float64)
    return search


def hybrid_search(lexical: Search, depth: int, method: str, k: int, weight: float) -> Search:
    """The exact dense run fused with the lexical one (spacekit.ops.fusion)."""
    from spacekit.ops.fusion import fuse

    def search(q: Vectors, rows: slice, exact: RankedRun) -> tuple[np.ndarray, np.ndarray]:
        return fuse((exact.codes, exact.scores), lexical(q, rows, exact), depth, method=method, k=k, weight=weight)
    return search


def rerank_search(reranker: str, queries: list[str], corpus: list[str], depth: int, placement: Placement,
                  first_stage: Search | None = None) -> Search:
    """The first stage (the exact dense run, or first_stage's: the hybrid one) reranked by the cross-encoder in a
    folder: each query's top `depth` only (those below are dropped)."""
    from spacekit.embed.cross_encoder import load_cross_encoder

    model = load_cross_encoder(reranker)

    def search(q: Vectors, rows: slice, exact: RankedRun) -> tuple[np.ndarray, np.ndarray]:
        codes = exact.codes if first_stage is None else first_stage(q, rows, exact)[0]
        return rerank_codes(model, queries[rows], corpus, codes[:, :depth], placement)
    return search


def rerank_codes(model, queries: list[str], corpus: list[str], codes: np.ndarray,
                 placement: Placement | None) -> tuple[np.ndarray, np.ndarray]:
    """(codes, scores) of each query's first-stage documents (codes; -1: none) reordered by the cross-encoder's
    score of (query, document), best first, equal scores in first-stage order; -1 / -inf where none."""
    rows, cols = np.nonzero(codes >= 0)
    scores = np.full(codes.shape, -np.inf)
    scores[rows, cols] = model.score([queries[r] for r in rows], [corpus[c] for c in codes[rows, cols]], placement)
    order = np.lexsort((np.broadcast_to(np.arange(codes.shape[1]), codes.shape), -scores), axis=1)
    return np.take_along_axis(codes, order, 1), np.take_along_axis(scores, order, 1)


def search_variant(queries: np.ndarray, docs: np.ndarray, v: Variant, depth: int, similarity: str, rescore: int,
                   device: torch.device | None) -> tuple[np.ndarray, np.ndarray]:
    """(scores, indices) of one variant's exact search: the vectors truncated (re-normalised) to v.dim, then
    searched in float32 by the similarity, or quantised (spacekit.ops.quantize)."""
    from spacekit import backend
    from spacekit.ops import topk
    from spacekit.ops.quantize import quantized_topk, truncate

    if v.dim is not None:
        queries, docs = truncate(queries, v.dim), truncate(docs, v.dim)
    if v.precision == "float32":
        scores, idx = topk(queries, docs, depth, metric=similarity, device=device)
        return scores.numpy().astype(np.float64), idx.numpy()
    return quantized_topk(queries, docs, depth, v.precision, rescore=rescore, device=backend.device(device))


def run_file_search(path: str, data, depth: int) -> Callable[[Vectors, slice], tuple[torch.Tensor, torch.Tensor]]:
    """search(queries, rows) -> (scores, codes) of a TREC run file's rankings for those query rows (data: a BeirData;
    each query's results by score, equal scores by lower corpus index, cut at depth; a query the run lacks has none);
    a document the corpus lacks is an InputError naming it."""
    import torch

    from spacekit.errors import InputError
    from spacekit.io.trec import read_run

    run = read_run(path)
    code = {d: c for c, d in enumerate(data.corpus.ids)}
    unknown = next(((q, d) for q, docs in run.items() for d in docs if d not in code), None)
    if unknown is not None:
        raise InputError(f"{path}: document {unknown[1]!r} (query {unknown[0]!r}) is not in the corpus")
    width = max(1, min(depth, max(len(docs) for docs in run.values())))
    codes = np.full((len(data.queries.ids), width), -1, np.int64)
    scores = np.full(codes.shape, -np.inf)
    for row, q in enumerate(data.queries.ids):
        ranked = sorted((-s, code[d]) for d, s in run.get(q, {}).items())[:width]
        codes[row, :len(ranked)] = [c for _, c in ranked]
        scores[row, :len(ranked)] = [-s for s, _ in ranked]

    def search(q: Vectors, rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(scores[rows]), torch.from_numpy(codes[rows])
    return search
