"""Clustering: k-means with k = the number of labels, scored by V-measure, NMI and ARI (scikit-learn's)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from spacekit.embed import EncodeOptions, Model
from spacekit.io.labelled import Labelled
from spacekit.tasks.base import MetricSpec, Task, TaskResult, require_metric, task_name, texts_per_item
from spacekit.tasks.registry import register

METRICS = ("v_measure", "nmi", "ari")


@dataclass(kw_only=True)
class ClusteringResult(TaskResult):
    """Per item: its cluster (pred), its gold label code, and whether its cluster's majority label is its own
    (per_item["purity"])."""

    k: int
    seed: int
    pred: np.ndarray
    gold: np.ndarray
    item_meaning: ClassVar[str] = ("an item is a text; Δ is the change in whether the majority label of its cluster "
                                   "is its own (+1: now clustered with its label, -1: no longer)")

    def paired_inputs(self, metric: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Cluster labels against gold: the score is recomputed from each resample's contingency table."""
        return self.pred, self.gold

    def quality(self, main_metric: str) -> np.ndarray:
        """Purity: 1 where the item's cluster's majority label is its own."""
        return self.per_item["purity"]

    def summary(self) -> dict:
        """k and the seed."""
        return {"k": self.k, "seed": self.seed}


@register
@dataclass
class ClusteringTask(Task[ClusteringResult]):
    """k-means with k = number of labels, scored by V-measure, NMI and ARI."""

    data: str | Path
    text_field: str = "text"
    label_field: str | None = None
    seed: int = 42
    n_init: int = 5
    name: str = ""
    kind: ClassVar[str] = "clustering"
    options: ClassVar[dict[str, type]] = {"data": str, "text_field": str, "label_field": str, "seed": int}
    default_metrics: ClassVar[tuple[str, ...]] = ("v_measure", "ari")

    @classmethod
    def metric_spec(cls, metric: str) -> MetricSpec:
        """V-measure, NMI or ARI, from weighted contingency tables."""
        require_metric(cls.kind, metric, METRICS)
        return MetricSpec(metric)

    @classmethod
    def from_suite(cls, name: str, metrics: list[str], options: dict) -> ClusteringTask:
        """data, text_field, label_field, seed from the suite table."""
        return cls(options["data"], options.get("text_field", "text"), options.get("label_field"),
                   options.get("seed", 42), name=name)

    def read_inputs(self) -> Labelled:
        """The labelled texts."""
        from spacekit.io.labelled import read_labelled

        return read_labelled(self.data, text_field=self.text_field, label_field=self.label_field)

    def run(self, model: Model, opts: EncodeOptions) -> ClusteringResult:
        """Cluster the texts; per item its cluster and purity."""
        from spacekit.metrics.clustering import cluster_scores
        from spacekit.ops.kmeans import kmeans

        data = self.inputs()
        (x,) = opts.embed_unique(model, data.texts)
        gold = np.unique(np.array(data.labels), return_inverse=True)[1]
        labels, _ = kmeans(x, int(gold.max()) + 1, n_init=self.n_init, seed=self.seed, device=opts.device)
        pred = labels.numpy()
        majority = {c: np.bincount(gold[pred == c]).argmax() for c in np.unique(pred)}
        purity = np.array([gold[i] == majority[pred[i]] for i in range(len(gold))], dtype=float)
        return ClusteringResult(kind=self.kind, name=task_name(self.name, self.data), dataset=str(self.data),
                                model=model.spec, metrics=cluster_scores(gold, pred), item_ids=data.ids,
                                per_item={"purity": purity}, k=int(gold.max()) + 1, seed=self.seed, pred=pred,
                                gold=gold, item_texts=texts_per_item(data.ids, data.texts))
