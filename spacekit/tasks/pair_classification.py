"""Pair classification (MTEB's PairClassification): are the two texts of a pair duplicates? The cosine of each pair
against its 0/1 label: average precision (the main metric, as MTEB's), and the best threshold's accuracy and F1."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar

import numpy as np

from spacekit.embed import EncodeOptions, Model
from spacekit.io.mteb_results import MtebFormat
from spacekit.io.pairs import LabelledPairs
from spacekit.store.vectors import dense
from spacekit.tasks.base import MetricSpec, Task, TaskResult, require_metric, task_name, texts_per_item
from spacekit.tasks.options import Option
from spacekit.tasks.registry import register

if TYPE_CHECKING:
    from spacekit.metrics.threshold import ScoredPairs

METRICS = ("ap", "accuracy", "f1")


def _statistic(metric: str):
    """gold labels -> statistic(similarities, weights): the metric on each weighted resample."""
    def for_labels(labels: np.ndarray):
        from spacekit.metrics.pair_classification import weighted_pair_scores

        return lambda sim, w: weighted_pair_scores(sim, labels, w)[metric]
    return for_labels


@dataclass(kw_only=True)
class PairClassificationResult(TaskResult):
    """Per pair: the cosine (per_item["similarity"]) and the 0/1 label."""

    labels: np.ndarray
    item_meaning: ClassVar[str] = ("an item is a pair; Δ is the change in its cosine, signed by its label (+: a "
                                   "duplicate pair closer, or a non-duplicate pair further apart)")
    positive_meaning: ClassVar[str | None] = "a pair labelled 1 (a duplicate)"

    def threshold_pairs(self) -> ScoredPairs:
        """Every pair, scored by its cosine; a positive when labelled 1."""
        from spacekit.metrics.threshold import ScoredPairs

        return ScoredPairs(self.per_item["similarity"], self.labels == 1, np.arange(self.n),
                           np.zeros(self.n, np.int64))

    def paired_inputs(self, metric: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Similarities against the labels: the metric is recomputed on each resample."""
        return self.per_item["similarity"], self.labels

    def quality(self, main_metric: str) -> np.ndarray:
        """The cosine of a duplicate pair, the negated cosine of a non-duplicate: higher is better either way."""
        return np.where(self.labels == 1, 1.0, -1.0) * self.per_item["similarity"]


@register
@dataclass
class PairClassificationTask(Task[PairClassificationResult]):
    """Cosine of each pair against its 0/1 label: AP, best-threshold accuracy and F1 (MTEB's cos_sim scores)."""

    data: Annotated[str | Path, Option("labelled pairs: sentence1, sentence2, label (0 / 1); MTEB's layout too",
                                       path=True)]
    name: str = ""
    kind: ClassVar[str] = "pair_classification"
    scored_pairs: ClassVar[bool] = True
    mteb: ClassVar[MtebFormat | None] = MtebFormat("max_ap", {
        "ap": "cosine_ap", "accuracy": "cosine_accuracy", "f1": "cosine_f1",
        **{f"{f}_{m}": f"{f}_{m}" for f in ("dot", "euclidean", "manhattan", "max") for m in ("ap", "accuracy", "f1")}})
    default_metrics: ClassVar[tuple[str, ...]] = METRICS

    @classmethod
    def metric_spec(cls, metric: str) -> MetricSpec:
        """AP, accuracy or F1, recomputed on each bootstrap resample."""
        require_metric(cls.kind, metric, METRICS)
        return MetricSpec(_statistic(metric))

    def read_inputs(self) -> LabelledPairs:
        """The labelled pairs."""
        from spacekit.io.pairs import read_labelled_pairs

        return read_labelled_pairs(self.data)

    def run(self, model: Model, opts: EncodeOptions) -> PairClassificationResult:
        """Per pair: the cosine and the label."""
        from spacekit.metrics.pair_classification import pair_scores, scoring_scores
        from spacekit.ops.similarity import pairwise_cosine

        pairs = self.inputs()
        a, b = (dense(x) for x in opts.embed_unique(model, pairs.first, pairs.second))
        sim = pairwise_cosine(a, b).numpy()                                        # (n,)
        metrics = {**pair_scores(sim, pairs.labels), **scoring_scores(a, b, pairs.labels, sim)}
        return PairClassificationResult(
            kind=self.kind, name=task_name(self.name, self.data), dataset=str(self.data), model=model.spec,
            metrics=metrics, item_ids=pairs.ids, per_item={"similarity": sim},
            labels=pairs.labels, item_texts=texts_per_item(pairs.ids, pairs.first, pairs.second))
