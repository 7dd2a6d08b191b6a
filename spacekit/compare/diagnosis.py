"""Why a task changed (issue 34's analyses beyond slices and the label budget), one typed record per task entry:
for retrieval, the judged holes with the band of readings, tie sensitivity, clusters of lost and gained queries,
the displacement of lost queries with hubness; for every kind whose models tokenise, the truncation audit. The
retrieval analyses read the dense run (the runs a result keeps), so a task whose main metric is a hybrid or
reranked run's is analysed on the dense run's metric of the same name (`metric` says which)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import numpy as np

from spacekit.compare.config import CompareConfig
from spacekit.compare.displacement import Displacement, displacement
from spacekit.compare.holes import HoleInputs, JudgedHoles, judged_holes
from spacekit.compare.query_clusters import ClusterGroup, cluster_changes
from spacekit.compare.slicing import Slicing
from spacekit.compare.suite import TaskSpec
from spacekit.compare.ties import TieSensitivity, tie_sensitivity
from spacekit.compare.truncation import TruncationAudit, truncation_audit
from spacekit.embed.model import vector_kind
from spacekit.files import safe_file_name
from spacekit.practical import margin_for
from spacekit.records import Json
from spacekit.store.vectors import Vectors, dense, is_sparse, pooled

if TYPE_CHECKING:
    import scipy.sparse as sp
from spacekit.tasks import Task, TaskResult


@dataclass(frozen=True)
class Diagnosis:
    """A task's why-analyses (each absent where it does not apply): the metric they read, judged holes, ties,
    clusters of lost and of gained queries, displacement with hubness, truncation."""

    metric: str
    holes: Annotated[JudgedHoles | None, Json(omit_none=True)] = None
    ties: Annotated[TieSensitivity | None, Json(omit_none=True)] = None
    lost_clusters: Annotated[ClusterGroup | None, Json(omit_none=True)] = None
    gained_clusters: Annotated[ClusterGroup | None, Json(omit_none=True)] = None
    displacement: Annotated[Displacement | None, Json(omit_none=True)] = None
    truncation: Annotated[TruncationAudit | None, Json(omit_none=True)] = None


def diagnose(task: Task, spec: TaskSpec, before: TaskResult, after: TaskResult, main_metric: str, models,
             config: CompareConfig, trained) -> tuple[Diagnosis, list[Slicing]]:
    """The task's diagnosis, and the slicings it adds to the task's slices (a text cut at max length)."""
    from spacekit.tasks.axes import base_metric
    from spacekit.tasks.retrieval import RetrievalTask

    metric = base_metric(main_metric)[0]
    documents = task.inputs().corpus if isinstance(task, RetrievalTask) else None
    audit = truncation_audit(models, before, documents.texts if documents is not None else None, task.name)
    analysed = _retrieval(task, spec, before, after, metric, models, config, trained)
    extra = [audit[1]] if audit is not None and audit[1] is not None else []
    return Diagnosis(metric=metric, truncation=audit[0] if audit is not None else None, **analysed), extra


def _retrieval(task: Task, spec: TaskSpec, before: TaskResult, after: TaskResult, metric: str, models,
               config: CompareConfig, trained) -> dict:
    """The retrieval analyses of the dense runs (Diagnosis's fields: holes, ties, clusters, displacement); none for
    another kind, or a metric without a cut-off or one beyond the RUN_KEPT results a result keeps (map, recall@1000)."""
    from spacekit.metrics.retrieval import parse_metric
    from spacekit.tasks.retrieval import RUN_KEPT, RetrievalResult, RetrievalTask

    if not (isinstance(task, RetrievalTask) and isinstance(before, RetrievalResult)
            and isinstance(after, RetrievalResult) and metric in before.per_item):
        return {}
    k = parse_metric(metric)[1]
    if k is None or k > RUN_KEPT:                     # the kept runs would not give the task's own values
        return {}
    data = task.inputs()
    doc_text = dict(zip(data.corpus.ids, data.corpus.texts, strict=True))
    query_text = {q: texts[0] for q, texts in before.item_texts.items() if texts}
    inputs = HoleInputs(data.qrels, before.run, after.run, before.item_ids, query_text, doc_text)
    higher = task.metric_spec(metric).higher_is_better
    margin = margin_for(metric, {**config.min_effect, **spec.min_effect})
    holes = judged_holes(inputs, metric, k, margin=margin, higher_is_better=higher, alpha=config.alpha,
                         resamples=config.resamples, seed=config.seed + 41, device=config.opts.placement.device,
                         sheet_name=f"holes-{safe_file_name(task.name)}.csv")
    delta = after.quality(metric) - before.quality(metric)
    ids = before.item_ids
    texts = [query_text.get(q, "") for q in ids]
    opts = [config.opts.with_prompts(p) for p in spec.prompts]
    if vector_kind(models[0]) == "run":              # a run file as the first stage: no vectors to cluster by
        clusters: list = [None, None]
        near = _never_near
    else:
        vectors = pooled(opts[0].embed(models[0], ids, texts, "query"))
        clusters = [cluster_changes(vectors, delta if higher else -delta, ids, texts, direction, seed=config.seed)
                    for direction in ("lost", "gained")]
        near = _near_duplicates(models[1], opts[1], inputs, delta if higher else -delta, k, config.leak_threshold)
    moved = displacement(before.run, after.run, data.qrels, ids, delta if higher else -delta, k,
                         query_text, doc_text, near, trained)
    return {"holes": holes, "ties": tie_sensitivity(inputs, metric), "lost_clusters": clusters[0],
            "gained_clusters": clusters[1], "displacement": moved}


def _near_duplicates(model, opts, data: HoleInputs, delta: np.ndarray, k: int, threshold: float):
    """(doc id, relevant ids) -> whether the document's cosine to one of them (after model) reaches threshold;
    the documents of the lost queries' top k and their relevant documents embedded once (the text cache)."""
    from spacekit.metrics.judged import top_docs

    lost = {data.item_ids[i] for i in np.flatnonzero(delta < -1e-12)}
    top = top_docs(data.after, k)
    wanted = list(dict.fromkeys([d for q in lost for d in top.get(q, [])] +
                                [d for q in lost for d, g in data.qrels.get(q, {}).items() if g >= 1]))
    wanted = [d for d in wanted if d in data.documents]
    vectors = opts.embed(model, wanted, [data.documents[d] for d in wanted], "document") if wanted else None
    unit = _unit_rows(pooled(vectors)) if vectors is not None else None
    row = {d: i for i, d in enumerate(wanted)}

    def near(doc: str, relevant: list[str]) -> bool:
        rows = [row[d] for d in relevant if d in row and d != doc]
        if unit is None or doc not in row or not rows:
            return False
        cosines = unit[rows] @ unit[[row[doc]]].T
        return bool(np.max(cosines.toarray() if is_sparse(cosines) else cosines) >= threshold)

    return near



def _unit_rows(vectors: Vectors) -> np.ndarray | sp.csr_matrix:
    """Rows scaled to unit length (a sparse encoder's stay sparse)."""
    if is_sparse(vectors):
        from spacekit.ops.sparse import normalize_rows

        return normalize_rows(vectors)
    x = dense(vectors)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _never_near(doc: str, relevant: list[str]) -> bool:
    """No near-duplicate test (no vectors)."""
    return False
