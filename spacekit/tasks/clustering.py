"""Clustering: k-means with k = the number of labels, scored by V-measure, NMI and ARI (scikit-learn's), averaged
over several runs (one k-means run's seed moves V-measure by ~0.007 on Banking77: as much as a fine-tune's effect;
compare's bootstrap resamples the runs as well as the items).

Protocols: `full` (default) clusters the whole file `runs` times with spacekit's k-means (GPU when there is one);
`mteb-v1` and `mteb-v2` follow MTEB's procedures exactly (spacekit.metrics.mteb_clustering): a run is one set, or
one bootstrap sample, and each item carries its multiplicity in each run."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar

import numpy as np

from spacekit.embed import EncodeOptions, Model
from spacekit.errors import InputError
from spacekit.io.labelled import Labelled, read_labelled
from spacekit.io.mteb_results import MtebFormat
from spacekit.metrics.mteb_clustering import V2_FRACTION, V2_SUBSET_SIZE, V2_SUBSETS, v1_runs, v2_documents, v2_runs
from spacekit.settings import Range
from spacekit.store.vectors import dense
from spacekit.tasks.base import MetricSpec, Task, TaskResult, require_metric, task_name, texts_per_item
from spacekit.tasks.options import Option, check_ranges, from_options
from spacekit.tasks.registry import register

METRICS = ("v_measure", "nmi", "ari")
PROTOCOLS = ("full", "mteb-v1", "mteb-v2")


@dataclass(kw_only=True)
class ClusteringResult(TaskResult):
    """Per run and item: its cluster (pred, (runs, n)) and, for MTEB's protocols, its multiplicity in the run
    (counts, (runs, n)); per item its gold label code and the share of runs in which its cluster's majority label is
    its own (per_item["purity"]); metrics: the means over runs."""

    k: int
    seed: int
    runs: int
    pred: np.ndarray
    gold: np.ndarray
    protocol: str = "full"
    counts: np.ndarray | None = None
    item_meaning: ClassVar[str] = ("an item is a text; Δ is the change in the share of k-means runs in which the "
                                   "majority label of its cluster is its own (+1: now always clustered with its label)")

    def paired_inputs(self, metric: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Cluster labels of every run against gold (with each item's multiplicity per run, for MTEB's protocols):
        the score is recomputed from each resample's contingency tables and averaged over a resample of the runs."""
        if self.counts is None:
            return self.pred, self.gold
        return self.pred, np.column_stack([self.gold, self.counts.T])

    def quality(self, main_metric: str) -> np.ndarray:
        """Purity: the share of runs in which the item's cluster's majority label is its own."""
        return self.per_item["purity"]

    def summary(self) -> dict:
        """The protocol, k, the seed and the number of runs (sets or samples, for MTEB's protocols)."""
        return {"protocol": self.protocol, "k": self.k, "seed": self.seed, "runs": self.runs}


@register
@dataclass
class ClusteringTask(Task[ClusteringResult]):
    """k-means with k = number of labels, scored by V-measure, NMI and ARI."""

    data: Annotated[str | Path, Option("labelled texts (text, label)", path=True)]
    text_field: Annotated[str, Option("the text column")] = "text"
    label_field: Annotated[str | None, Option("the label column (default: label, else category)")] = None
    seed: Annotated[int, Option("the first k-means seed", range=Range(0, 2**32 - 1, integer=True))] = 42
    n_init: int = 5
    runs: Annotated[int, Option("full: k-means runs, seeds seed .. seed + runs - 1, each the best of 5 restarts",
                                range=Range(1, 1000, integer=True))] = 10
    name: str = ""
    protocol: Annotated[str, Option("full | mteb-v1 | mteb-v2 (MTEB's procedures)")] = "full"
    set_field: Annotated[str | None, Option("mteb-v1: the column naming each item's set")] = None
    max_fraction: Annotated[float | None, Option("mteb-v2: the share of documents embedded ...",
                                                 range=Range(0, 1, open_low=True))] = V2_FRACTION
    max_documents: Annotated[int | None, Option("... or their number (one of the two, or neither: all)",
                                                range=Range(2, 10**8, integer=True))] = None
    subsets: Annotated[int, Option("mteb-v2: bootstrap samples ...", range=Range(1, 1000, integer=True))] = V2_SUBSETS
    subset_size: Annotated[int, Option("... of this many documents each",
                                       range=Range(1, 10**7, integer=True))] = V2_SUBSET_SIZE
    kind: ClassVar[str] = "clustering"
    mteb: ClassVar[MtebFormat | None] = MtebFormat("v_measure", {m: m for m in ("v_measure", "nmi", "ari")})

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise InputError(f"clustering protocol must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")
        check_ranges(self)
        if self.max_fraction is not None and self.max_documents is not None:
            raise InputError("clustering: set max_fraction or max_documents, not both")
        if self.set_field is not None and self.protocol != "mteb-v1":
            raise InputError(f"clustering: set_field ({self.set_field!r}) groups rows into MTEB's sets, which only "
                             f"the mteb-v1 protocol uses (this task's is {self.protocol!r})")
    default_metrics: ClassVar[tuple[str, ...]] = ("v_measure", "ari")

    @classmethod
    def metric_spec(cls, metric: str) -> MetricSpec:
        """V-measure, NMI or ARI, from weighted contingency tables."""
        require_metric(cls.kind, metric, METRICS)
        return MetricSpec(metric)

    @classmethod
    def from_suite(cls, name: str, metrics: list[str], options: dict) -> ClusteringTask:
        """data, text_field, label_field, seed, runs, protocol and its knobs from the suite table."""
        if "max_documents" in options and "max_fraction" not in options:
            options = {**options, "max_fraction": None}
        return from_options(cls, name, options)

    def read_inputs(self) -> Labelled:
        """The labelled texts."""
        data = read_labelled(self.data, text_field=self.text_field, label_field=self.label_field,
                             set_field=self.set_field if self.protocol == "mteb-v1" else None)
        if self.protocol != "mteb-v1" and data.sets is not None:
            raise InputError(f"{self.data}: rows of lists (MTEB's sets) need the mteb-v1 protocol; "
                             f"the {self.protocol} protocol clusters one flat list of texts")
        return data

    def run(self, model: Model, opts: EncodeOptions) -> ClusteringResult:
        """Cluster the texts once per run; the metrics' means over runs, per item its clusters and purity."""
        from spacekit.metrics.clustering import weighted_scores
        from spacekit.ops.kmeans import kmeans

        data, counts = self.inputs(), None
        ids, texts, labels = data.ids, data.texts, data.labels
        if self.protocol == "mteb-v2":
            rng = random.Random(self.seed)                    # MTEB's rng_state: documents first, then samples
            keep = v2_documents(len(texts), rng, self.max_fraction, self.max_documents)
            if len(keep) < 2:
                raise InputError(f"{self.data}: the mteb-v2 protocol keeps {len(keep)} of its {len(texts)} texts "
                                 f"(max_fraction {self.max_fraction}, max_documents {self.max_documents}): too few "
                                 f"to cluster; raise max_fraction / max_documents or use another protocol")
            ids, texts, labels = [ids[i] for i in keep], [texts[i] for i in keep], [labels[i] for i in keep]
        x = dense(opts.embed_unique(model, texts)[0])
        gold = np.unique(np.array(labels), return_inverse=True)[1]
        k = int(gold.max()) + 1
        if self.protocol == "full":
            dev = opts.placement.device
            pred = np.stack([kmeans(x, k, n_init=self.n_init, seed=self.seed + r, device=dev)[0].numpy()
                             for r in range(self.runs)])                                   # (runs, n)
        elif self.protocol == "mteb-v1":
            sets = np.array(data.sets if data.sets is not None else ["all"] * len(texts))
            pred, counts = v1_runs(x, gold, sets, self.seed)
        else:
            pred, counts = v2_runs(x, gold, rng, self.subsets, self.subset_size, self.seed)
        weights = np.ones_like(pred, dtype=np.float64) if counts is None else counts
        scores = [weighted_scores(gold, p, m) for p, m in zip(pred, weights, strict=True)]
        metrics = {name: float(np.mean([s[name] for s in scores])) for name in scores[0]}
        return ClusteringResult(kind=self.kind, name=task_name(self.name, self.data), dataset=str(self.data),
                                model=model.spec, metrics=metrics, item_ids=ids,
                                per_item={"purity": _purity(gold, pred, weights)}, k=k, seed=self.seed,
                                runs=len(pred), pred=pred, gold=gold, protocol=self.protocol, counts=counts,
                                item_texts=texts_per_item(ids, texts))


def _purity(gold: np.ndarray, pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per item, the weighted share of its runs in which the majority label of its cluster is its own label (0 for
    an item no run holds: an MTEB sample may miss a document)."""
    hits = np.zeros(len(gold))
    for p, m in zip(pred, weights, strict=True):
        table = np.zeros((int(p.max()) + 1, int(gold.max()) + 1))
        np.add.at(table, (p, gold), m)
        hits += m * (table.argmax(1)[p] == gold)
    total = weights.sum(0)
    return np.divide(hits, total, out=np.zeros(len(gold)), where=total > 0)
