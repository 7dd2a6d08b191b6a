"""Retrieval: embed corpus and queries, exact top-k search, trec_eval metrics per query (BEIR folders)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar

import numpy as np

from spacekit.distributed.cluster import RaySettings
from spacekit.embed import EncodeOptions, Model
from spacekit.embed.model import vector_kind
from spacekit.errors import InputError
from spacekit.io.beir import BeirData
from spacekit.io.mteb_results import MtebFormat
from spacekit.metrics.retrieval import parse_metric
from spacekit.metrics.sparsity import sparsity_stats
from spacekit.ranked_run import RankedRun
from spacekit.settings import Range
from spacekit.store.vectors import Vectors, is_sparse, layout_of
from spacekit.tasks.axes import FUSIONS, INDEX_TAGS, PRECISIONS, RERANKED, RUNS, Variant, base_metric, variants
from spacekit.tasks.base import MetricSpec, Task, texts_per_item
from spacekit.tasks.options import Option, check_ranges
from spacekit.tasks.registry import register
from spacekit.tasks.retrieval_result import RUN_KEPT, RetrievalResult, present_fields, relevant_texts
from spacekit.tasks.side_runs import KNN_K, KNN_METRIC, Search, SideRun, run_file_search, side_run

if TYPE_CHECKING:
    import torch


DEFAULT_KS = (1, 3, 5, 10, 100, 1000)
REPORTED = ("ndcg@10", "recall@100", "mrr@10")  # always computed in a suite, whatever it tests
BLOCK_CELLS = 1 << 21   # ranked entries (queries x depth) searched and scored at once
TABLES = {"hybrid": {"lexical": "", "fusion": "hybrid", "weight": "hybrid_weight", "k": "rrf_k"},   # table key ->
          "rerank": {"model": "rerank", "depth": "rerank_depth", "model_after": "rerank_after"}}  # its flat keys


def searchable_similarity(model: Model) -> str:
    """The model's own similarity (sentence-transformers' similarity_fn_name; cosine when it names none) when
    spacekit searches by it (cosine or dot), else an InputError."""
    own = getattr(getattr(model, "config", None), "similarity", "cosine")
    if own not in ("cosine", "dot"):
        raise InputError(f"{model.spec}: the model's similarity {own!r} is not searchable yet (spacekit searches "
                         f"by cosine or dot; pass --similarity)")
    return own


def retrieval_metric_names(ks=DEFAULT_KS) -> list[str]:
    """ndcg/recall/mrr/map/precision/hit at every k."""
    return [f"{m}@{k}" for m in ("ndcg", "recall", "mrr", "map", "precision", "hit") for k in ks]


@register
@dataclass
class RetrievalTask(Task[RetrievalResult]):
    """Embed corpus and queries, exact top-k search, trec_eval metrics per query."""

    data: Annotated[str | Path, Option("a BEIR folder (corpus, queries, qrels/<split>.tsv; MTEB / Hub layouts "
                                       "too)", path=True)]
    split: Annotated[str, Option("the qrels split")] = "test"
    metrics: list[str] = field(default_factory=lambda: retrieval_metric_names())
    depth: Annotated[int, Option("documents retrieved per query", range=Range(1, 100_000, integer=True))] = 1000
    similarity: Annotated[str, Option("model (the model's own, cosine when it names none) | cosine | dot")] = "model"
    all_queries: bool = False
    name: str = ""
    backend: Annotated[str, Option("spacekit | faiss (an exact faiss flat index; the faiss extra)")] = "spacekit"
    dims: Annotated[tuple[int, ...], Option("Matryoshka dimensions also scored")] = ()
    quantize: Annotated[tuple[str, ...], Option("precisions also scored: int8, uint8, binary, ubinary")] = ()
    rescore: Annotated[int, Option("quantised search: re-score the top k x rescore in float (0: no)",
                                   range=Range(0, 1000, integer=True))] = 0
    hybrid: Annotated[str, Option("hybrid search: rrf | weighted (the dense run fused with BM25's; the main "
                                  "metric becomes the hybrid's; the hybrid extra)")] = ""
    hybrid_weight: Annotated[float, Option("weighted fusion: the dense run's weight (BM25's: 1 - it)",
                                           range=Range(0, 1))] = 0.5
    rrf_k: Annotated[int, Option("rrf: the constant k in 1 / (k + rank)", range=Range(1, 100_000, integer=True))] = 60
    rerank: Annotated[str, Option("a cross-encoder folder (sentence-transformers' CrossEncoder layout) reranking "
                                  "each model's first stage (the hybrid run with hybrid); the main metric becomes "
                                  "the reranked run's", path=True)] = ""
    rerank_after: Annotated[str, Option("compare: the after model's reranker, when it is another (a fine-tuned "
                                        "reranker against rerank over the same first stage)", path=True)] = ""
    first_stage: Annotated[str, Option("compare two rerankers (BEFORE and AFTER cross-encoders): the model or TREC "
                                       "run file whose results both rerank", path=True)] = ""
    rerank_depth: Annotated[int, Option("first-stage results reranked per query",
                                        range=Range(1, 10_000, integer=True))] = 100
    index: Annotated[tuple[str, ...], Option("indexes the corpus is also searched through: hnsw, ivf (faiss, the "
                                             "faiss extra), int8, binary (as quantize); each scored, with its "
                                             "k-NN recall@10 of the exact search")] = ()
    token_budget: Annotated[float, Option("a multi-vector model's token store: the most GiB its corpus may take "
                                          "(checked before encoding)", range=Range(0.001, 1e6))] = 16.0
    run_out: str | Path | None = None   # the whole TREC run is written here (streamed, block by block)
    ray: RaySettings | None = None      # a Ray cluster (local | auto | address): the corpus encoded and searched there
    axis_metrics: tuple[str, ...] = REPORTED  # the metrics scored for each variant
    scored_variants: list[Variant] = field(init=False, default_factory=list)
    kind: ClassVar[str] = "retrieval"
    vectors: ClassVar[tuple[str, ...]] = ("dense", "sparse", "multi-vector", "run")
    scored_pairs: ClassVar[bool] = True
    mteb: ClassVar[MtebFormat | None] = MtebFormat("ndcg_at_10", ranking=True)
    roles: ClassVar[tuple[str | None, ...]] = ("query", "document")
    default_metrics: ClassVar[tuple[str, ...]] = REPORTED

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.backend not in ("spacekit", "faiss"):
            raise InputError(f"search backend must be 'spacekit' or 'faiss', got {self.backend!r}")
        if self.similarity not in ("model", "cosine", "dot"):
            raise InputError(f"similarity must be 'model', 'cosine' or 'dot', got {self.similarity!r}")
        if self.ray is not None and (self.backend != "spacekit" or self.dims or self.quantize or self.index):
            raise InputError("--ray searches the float vectors with spacekit's engine: not with --backend faiss, "
                             "--dims, --quantize or --index")
        self._check_system()
        self.scored_variants = variants(tuple(self.dims), tuple(self.quantize))
        tags = ({v.tag for v in self.scored_variants} | (set(RUNS) if self.hybrid else set()) | set(self.indexes)
                | ({RERANKED} if self.rerank else set()))
        for m in self.metrics:
            base, tag = base_metric(m)
            if tag not in {"", *tags} or (base == KNN_METRIC and tag not in self._knn_tags()):
                raise InputError(f"metric {m!r} names a variant the task does not score (dims / quantize / hybrid / "
                                 f"index)")

    def _check_system(self) -> None:
        """The settings of the system around the embedder (index, hybrid, rerank), each from its files or
        libraries alone, before anything is encoded; an index's precisions join quantize."""
        from spacekit.embed.cross_encoder import check_cross_encoder

        for kind in self.index:
            if kind not in (*INDEX_TAGS, *PRECISIONS[1:]):
                raise InputError(f"index must be one of {', '.join((*INDEX_TAGS, *PRECISIONS[1:]))}, got {kind!r}")
        if set(self.index) & set(INDEX_TAGS):
            from spacekit.ops.ann import check_available as check_faiss

            check_faiss()
        self.quantize = tuple(dict.fromkeys([*self.quantize, *[k for k in self.index if k in PRECISIONS]]))
        if self.hybrid not in ("", *FUSIONS):
            raise InputError(f"hybrid must be {' or '.join(FUSIONS)}, got {self.hybrid!r}")
        if self.hybrid:
            from spacekit.ops.lexical import check_available

            check_available()
        if self.rerank:
            check_cross_encoder(self.rerank)
        if self.rerank_after:
            if not self.rerank:
                raise InputError("rerank_after needs rerank (the before model's reranker)")
            check_cross_encoder(self.rerank_after)

    @classmethod
    def metric_spec(cls, metric: str) -> MetricSpec:
        """Every trec_eval metric is a mean over queries (so is each under a dimension / precision)."""
        base, tag = base_metric(metric)
        if base == KNN_METRIC and not tag:
            raise InputError(f"metric {metric!r}: {KNN_METRIC} is measured for an index or a precision "
                             f"({KNN_METRIC}/hnsw)")
        if base != KNN_METRIC:
            parse_metric(base)
        return MetricSpec("mean")

    @classmethod
    def flat_options(cls, options: dict) -> dict:
        """The issue-style tables spread into flat keys: hybrid = {lexical = "bm25", fusion, weight, k} and
        rerank = {model, depth, model_after}."""
        out = dict(options)
        for key, keys in TABLES.items():
            table = out.get(key)
            if not isinstance(table, dict):
                continue
            del out[key]
            if key == "hybrid" and table.get("lexical", "bm25") != "bm25":
                raise InputError(f"hybrid lexical must be 'bm25', got {table['lexical']!r}")
            for sub, value in table.items():
                if sub not in keys:
                    raise InputError(f"{key}: unknown key {sub!r} (it takes {', '.join(keys)})")
                if keys[sub]:
                    out[keys[sub]] = value
        return out

    @classmethod
    def from_suite(cls, name: str, metrics: list[str], options: dict) -> RetrievalTask:
        """data, split, backend, depth, dims, quantize, rescore, hybrid, index from the suite table; variants are
        scored on the listed metrics and REPORTED."""
        plain = sorted({base_metric(m)[0] for m in metrics if base_metric(m)[0] != KNN_METRIC} | set(REPORTED))
        return cls(options["data"], options.get("split", "test"), [*plain, *[m for m in metrics if base_metric(m)[1]]],
                   options.get("depth", 1000), name=name, backend=options.get("backend", "spacekit"),
                   dims=tuple(options.get("dims", ())), quantize=tuple(options.get("quantize", ())),
                   rescore=options.get("rescore", 0), axis_metrics=tuple(plain),
                   similarity=options.get("similarity", "model"), hybrid=options.get("hybrid", ""),
                   hybrid_weight=options.get("hybrid_weight", 0.5), rrf_k=options.get("rrf_k", 60),
                   index=tuple(options.get("index", ())), rerank=options.get("rerank", ""),
                   rerank_after=options.get("rerank_after", ""), rerank_depth=options.get("rerank_depth", 100),
                   token_budget=options.get("token_budget", 16.0), first_stage=options.get("first_stage", ""))

    def read_inputs(self) -> BeirData:
        """The BEIR folder's corpus, queries and qrels of the split."""
        from spacekit.io.beir import read_beir

        return read_beir(self.data, self.split)

    def run(self, model: Model, opts: EncodeOptions) -> RetrievalResult:
        """Evaluate `model`: per-query metrics and texts, and each query's top RUN_KEPT (the whole run streams to
        run_out). Queries are searched and scored in blocks of about BLOCK_CELLS ranked entries, so memory follows
        one block, not queries x depth."""
        import contextlib

        from spacekit import backend
        from spacekit.io.trec import run_writer
        from spacekit.metrics.retrieval import Judgements, RunScorer, relevance_of

        data = self.inputs()
        self._check_kind(model)
        doc_ids = np.array(data.corpus.ids, dtype=object)
        sink = run_writer(self.run_out, data.queries.ids, doc_ids) if self.run_out else \
            contextlib.nullcontext(lambda run: None)
        queries = opts.embed(model, data.queries.ids, data.queries.texts, "query") if vector_kind(model) != "run" \
            else np.zeros((len(data.queries.ids), 0), np.float32)          # a run file: its rankings, no vectors
        similarity = self.similarity_for(model)
        search, docs = self._searcher(model, opts, data, similarity, backend.device(opts.placement.device))
        judged = Judgements.build(data.qrels, {d: c for c, d in enumerate(data.corpus.ids)})
        main = RunScorer(judged, [m for m in self.metrics if not base_metric(m)[1]], all_queries=self.all_queries)
        sides = self._side_runs(docs, similarity, opts, data, judged)
        kept: list[RankedRun] = []
        step = max(1, BLOCK_CELLS // self.depth)                              # queries a block
        with sink as write:
            for lo in range(0, queries.shape[0], step):
                rows = slice(lo, lo + step)
                scores, idx = search(queries[rows], rows)
                block = RankedRun(data.queries.ids[rows], doc_ids, idx.numpy(), scores.numpy().astype(np.float64),
                                  ordered=True)
                main.add(block)
                write(block)
                kept.append(block.top(RUN_KEPT))
                for side in sides:
                    side.add(queries[rows], rows, block)
        result = main.result()
        kept_run = RankedRun.concat(kept, doc_ids)
        kept_relevant, relevant_total = relevance_of(kept_run, judged, result.query_ids)
        metrics, per_item = result.means(), dict(result.per_query)
        for side in sides:
            means, per_query = side.scored(result.query_ids)
            metrics.update(means)
            per_item.update(per_query)
        stats = sparsity_stats(queries, docs) if is_sparse(docs) else None
        return RetrievalResult(
            kind=self.kind, name=self.name or data.name, dataset=str(self.data), model=model.spec,
            metrics=metrics, item_ids=result.query_ids, per_item=per_item,
            item_texts=texts_per_item(data.queries.ids, data.queries.texts), item_targets=relevant_texts(data),
            item_fields=present_fields(data.queries, result.query_ids),
            run=kept_run, kept_relevant=kept_relevant, relevant_total=relevant_total,
            first_relevant_rank=result.first_relevant_rank, skipped_queries=result.skipped, split=self.split,
            similarity=similarity, sparsity=stats)

    def _side_runs(self, docs: np.ndarray | None, similarity: str, opts: EncodeOptions, data: BeirData,
                   judged) -> list[SideRun]:
        """The runs scored beside the exact dense one (tasks.side_runs): each variant, each index, BM25's, the
        hybrid, and the first stage reranked."""
        from spacekit.tasks import side_runs as sr

        depth, device = self._variant_depth(), opts.placement.device

        def side(tag: str, search: Search, knn: bool = False) -> SideRun:
            return side_run(tag, search, judged, list(self.axis_metrics), all_queries=self.all_queries, knn=knn)

        runs = [side(v.tag, sr.variant_search(docs, v, depth, similarity, self.rescore, device), knn=v.dim is None)
                for v in self.scored_variants]
        runs += [side(kind, sr.index_search(kind, docs, similarity, depth), knn=True) for kind in self.indexes]
        lexical = sr.lexical_search(self._lexical(data)) if self.hybrid else None   # the same for both models
        fused = sr.hybrid_search(lexical, self.depth, self.hybrid, self.rrf_k, self.hybrid_weight) if lexical \
            else None
        if lexical is not None and fused is not None:
            runs += [side("bm25", lexical), side("hybrid", fused)]
        reranker = opts.reranker or self.rerank
        if reranker:
            runs.append(side(RERANKED, sr.rerank_search(reranker, data.queries.texts, data.corpus.texts,
                                                        self.rerank_depth, opts.placement, fused)))
        return runs

    @property
    def indexes(self) -> tuple[str, ...]:
        """The approximate indexes searched (faiss's; the index option's precisions are quantize variants)."""
        return tuple(k for k in dict.fromkeys(self.index) if k in INDEX_TAGS)

    def _knn_tags(self) -> set[str]:
        """The tags whose k-NN recall is measured: each precision in full dimension, each index."""
        return {v.tag for v in self.scored_variants if v.dim is None} | set(self.indexes)

    def _lexical(self, data: BeirData) -> tuple[np.ndarray, np.ndarray]:
        """BM25's run of every query (codes, scores), computed once and shared by both models' runs."""
        if "_lexical_run" not in self.__dict__:
            from spacekit.ops.lexical import Bm25
            from spacekit.progress import stage

            with stage(f"BM25 over {len(data.corpus.ids):,} documents"):
                self.__dict__["_lexical_run"] = Bm25(data.corpus.texts).search(data.queries.texts, self.depth)
        return self.__dict__["_lexical_run"]

    def _searcher(self, model: Model, opts: EncodeOptions, data: BeirData, similarity: str, device: torch.device):
        """(search(queries, rows) -> (scores, indices) over the corpus, its vectors here (None when a Ray cluster
        or a run file holds the ranking)): the corpus is encoded once, then searched block by block of queries."""
        import torch

        from spacekit.ops import topk

        if vector_kind(model) == "run":                 # a run file (two rerankers compared over it)
            return self._run_file(model.spec), None
        if self.ray is not None:                        # the corpus is encoded and searched on the cluster
            from spacekit.distributed.retrieval import ray_corpus_searcher

            ray_search = ray_corpus_searcher(model, opts, data.corpus.ids, data.corpus.texts, self.depth, similarity,
                                             self.ray)
            return lambda q, rows: ray_search(q), None
        docs = opts.embed(model, data.corpus.ids, data.corpus.texts, "document")  # (n, d)
        if layout_of(docs) != "dense":        # a sparse encoder's or a multi-vector model's: exact, on the device
            return lambda q, rows: topk(q, docs, self.depth, metric=similarity, device=device), docs
        if self.backend == "faiss":
            from spacekit.ops.faiss_search import faiss_topk

            return lambda q, rows: faiss_topk(q, docs, self.depth, metric=similarity), docs
        on_device = torch.as_tensor(docs).to(device) if device.type != "cpu" else docs  # moved once, not per block
        return lambda q, rows: topk(q, on_device, self.depth, metric=similarity, device=device), docs

    def check_model(self, model: Model, opts: EncodeOptions) -> None:
        """What this model can do here, before anything is encoded: no variant a sparse or multi-vector model
        cannot have, and a multi-vector model's token store within the budget (its size said)."""
        self._check_kind(model)
        from spacekit.embed.multi_vector import MultiVectorModel

        if vector_kind(model) == "run":
            self._run_file(model.spec)                  # read and checked against the corpus now
        if isinstance(model, MultiVectorModel):
            mv = model.for_role("document")
            mv.check_token_budget(self.inputs().corpus.texts, mv.prompt_for("document", opts.prompts),
                                  self.token_budget)

    def _run_file(self, path: str) -> Callable[[Vectors, slice], tuple[torch.Tensor, torch.Tensor]]:
        """The search of a run file's rankings, read once."""
        if self.__dict__.get("_run_file_of") != path:
            self.__dict__.update(_run_file_of=path, _run_file_search=run_file_search(path, self.inputs(), self.depth))
        return self.__dict__["_run_file_search"]

    def _check_kind(self, model: Model) -> None:
        """A sparse encoder or a multi-vector model is searched exactly by spacekit (with BM25 fusion and
        reranking): not through faiss, an index, a Ray cluster, Matryoshka dimensions or quantised vectors."""
        kind = vector_kind(model)
        if kind == "dense":
            return
        refused = [name for name, on in (("backend faiss", self.backend == "faiss"), ("dims", self.dims),
                                         ("quantize", self.quantize), ("index", self.index),
                                         ("ray", self.ray is not None)) if on]
        if refused:
            raise InputError(f"task {self.name or self.kind}: {model.spec} is a {kind} model; its exact search "
                             f"takes no {', '.join(refused)}")

    def options_for(self, which: str, opts: EncodeOptions) -> EncodeOptions:
        """The after model reranked by rerank_after when it is set."""
        return opts.with_reranker(self.rerank_after) if which == "after" and self.rerank_after else opts

    def similarity_for(self, model: Model) -> str:
        """The similarity searched with: the task's, or with "model" the model's own (cosine or dot); a
        multi-vector model's is MaxSim."""
        if vector_kind(model) == "run":
            return "run"
        if vector_kind(model) == "multi-vector":
            if self.similarity != "model":
                raise InputError(f"task {self.name or self.kind}: {model.spec} is a multi-vector model, scored by "
                                 f"MaxSim (similarity {self.similarity!r} does not apply)")
            return "maxsim"
        return self.similarity if self.similarity != "model" else searchable_similarity(model)

    def variant_metrics(self, metric: str) -> list[str]:
        """The metric under each variant the task scores (and for a hybrid search, BM25's run and the fused one; for
        an index, through it), then each k-NN recall."""
        base = base_metric(metric)[0]
        return ([v.metric(base) for v in self.scored_variants] + [f"{base}/{kind}" for kind in self.indexes]
                + [f"{base}/{r}" for r in RUNS if self.hybrid] + ([f"{base}/{RERANKED}"] if self.rerank else [])
                + [f"{KNN_METRIC}/{t}" for t in sorted(self._knn_tags())])

    def main_metric(self, metric: str) -> str:
        """A reranked task's main metric is the reranked run's; a hybrid search's, the fused run's."""
        if base_metric(metric)[1]:
            return metric
        return f"{metric}/{RERANKED}" if self.rerank else f"{metric}/hybrid" if self.hybrid else metric

    def _variant_depth(self) -> int:
        """Results a variant retrieves: the deepest cut-off its metrics need, at least KNN_K (the task's depth for
        map)."""
        cuts = [parse_metric(m)[1] for m in self.axis_metrics]
        return self.depth if None in cuts else min(self.depth, max(KNN_K, *(c for c in cuts if c is not None)))

    def report_extras(self, before: RetrievalResult, after: RetrievalResult) -> dict:
        """How many qrels queries the run skipped."""
        return {"skipped_queries": before.skipped_queries}
