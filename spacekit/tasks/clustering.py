"""Clustering: k-means with k = the number of labels, scored by V-measure, NMI and ARI (scikit-learn's), averaged
over several runs with different seeds (one k-means run's seed moves V-measure by ~0.007 on Banking77: as much as a
fine-tune's effect; compare's bootstrap resamples the runs as well as the items)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from spacekit.embed import EncodeOptions, Model
from spacekit.errors import InputError
from spacekit.io.labelled import Labelled
from spacekit.tasks.base import MetricSpec, Task, TaskResult, require_metric, task_name, texts_per_item
from spacekit.tasks.registry import register

METRICS = ("v_measure", "nmi", "ari")


@dataclass(kw_only=True)
class ClusteringResult(TaskResult):
    """Per run and item: its cluster (pred, (runs, n)); per item its gold label code and the share of runs in which
    its cluster's majority label is its own (per_item["purity"]); metrics: the means over runs."""

    k: int
    seed: int
    runs: int
    pred: np.ndarray
    gold: np.ndarray
    item_meaning: ClassVar[str] = ("an item is a text; Δ is the change in the share of k-means runs in which the "
                                   "majority label of its cluster is its own (+1: now always clustered with its label)")

    def paired_inputs(self, metric: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Cluster labels of every run against gold: the score is recomputed from each resample's contingency tables
        and averaged over a resample of the runs."""
        return self.pred, self.gold

    def quality(self, main_metric: str) -> np.ndarray:
        """Purity: the share of runs in which the item's cluster's majority label is its own."""
        return self.per_item["purity"]

    def summary(self) -> dict:
        """k, the first seed and the number of runs."""
        return {"k": self.k, "seed": self.seed, "runs": self.runs}


@register
@dataclass
class ClusteringTask(Task[ClusteringResult]):
    """k-means with k = number of labels, scored by V-measure, NMI and ARI."""

    data: str | Path
    text_field: str = "text"
    label_field: str | None = None
    seed: int = 42
    n_init: int = 5
    runs: int = 10         # k-means runs, seeds seed .. seed + runs - 1, each the best of n_init restarts
    name: str = ""
    kind: ClassVar[str] = "clustering"
    options: ClassVar[dict[str, type]] = {"data": str, "text_field": str, "label_field": str, "seed": int,
                                          "runs": int}

    def __post_init__(self) -> None:
        if self.runs < 1:
            raise InputError(f"clustering runs must be >= 1, got {self.runs}")
    default_metrics: ClassVar[tuple[str, ...]] = ("v_measure", "ari")

    @classmethod
    def metric_spec(cls, metric: str) -> MetricSpec:
        """V-measure, NMI or ARI, from weighted contingency tables."""
        require_metric(cls.kind, metric, METRICS)
        return MetricSpec(metric)

    @classmethod
    def from_suite(cls, name: str, metrics: list[str], options: dict) -> ClusteringTask:
        """data, text_field, label_field, seed, runs from the suite table."""
        return cls(options["data"], options.get("text_field", "text"), options.get("label_field"),
                   options.get("seed", 42), runs=options.get("runs", 10), name=name)

    def read_inputs(self) -> Labelled:
        """The labelled texts."""
        from spacekit.io.labelled import read_labelled

        return read_labelled(self.data, text_field=self.text_field, label_field=self.label_field)

    def run(self, model: Model, opts: EncodeOptions) -> ClusteringResult:
        """Cluster the texts once per run; the metrics' means over runs, per item its clusters and purity."""
        from spacekit.metrics.clustering import cluster_scores
        from spacekit.ops.kmeans import kmeans

        data = self.inputs()
        (x,) = opts.embed_unique(model, data.texts)
        gold = np.unique(np.array(data.labels), return_inverse=True)[1]
        k = int(gold.max()) + 1
        pred = np.stack([kmeans(x, k, n_init=self.n_init, seed=self.seed + r, device=opts.device)[0].numpy()
                         for r in range(self.runs)])                                   # (runs, n)
        scores = [cluster_scores(gold, p) for p in pred]
        metrics = {name: float(np.mean([s[name] for s in scores])) for name in scores[0]}
        return ClusteringResult(kind=self.kind, name=task_name(self.name, self.data), dataset=str(self.data),
                                model=model.spec, metrics=metrics, item_ids=data.ids,
                                per_item={"purity": np.mean([_purity(gold, p) for p in pred], axis=0)}, k=k,
                                seed=self.seed, runs=self.runs, pred=pred, gold=gold,
                                item_texts=texts_per_item(data.ids, data.texts))


def _purity(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """1.0 where the majority label of the item's cluster is its own label."""
    majority = {c: np.bincount(gold[pred == c]).argmax() for c in np.unique(pred)}
    return np.array([gold[i] == majority[pred[i]] for i in range(len(gold))], dtype=float)
