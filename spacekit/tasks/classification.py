"""Classification: a logistic-regression probe on the embeddings (MTEB's protocol by default, or the full train
set), per test item the fraction of experiments that classify it right."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar

import numpy as np

from spacekit.embed import EncodeOptions, Model
from spacekit.errors import InputError
from spacekit.io.labelled import Labelled
from spacekit.io.mteb_results import MtebFormat
from spacekit.settings import Range
from spacekit.store.vectors import flat
from spacekit.tasks.base import MetricSpec, Task, TaskResult, require_metric, task_name, texts_per_item
from spacekit.tasks.options import Option, check_ranges
from spacekit.tasks.registry import register

PROTOCOLS = ("mteb", "full")


@dataclass(kw_only=True)
class ClassificationResult(TaskResult):
    """Per test item: the fraction of experiments right (per_item["accuracy"])."""

    protocol: str
    samples_per_label: int
    n_experiments: int
    item_meaning: ClassVar[str] = ("an item is a test text; Δ is the change in the share of the probe's experiments "
                                   "that label it right (+1: now always right, -1: now always wrong)")

    def paired_inputs(self, metric: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Accuracy is the mean of the per-item fractions."""
        return self.per_item["accuracy"], None

    def quality(self, main_metric: str) -> np.ndarray:
        """The per-item fraction of experiments right."""
        return self.per_item["accuracy"]

    def summary(self) -> dict:
        """The protocol (mteb | full) and, for mteb, its examples per label and experiments."""
        if self.protocol == "full":
            return {"protocol": self.protocol}
        return {"protocol": self.protocol, "samples_per_label": self.samples_per_label,
                "n_experiments": self.n_experiments}


@register
@dataclass
class ClassificationTask(Task[ClassificationResult]):
    """Logistic-regression probe on the embeddings (MTEB protocol by default, or the full train set)."""

    train: Annotated[str | Path, Option("labelled texts to fit on (text, label)", path=True)]
    test: Annotated[str | Path, Option("labelled texts to score", path=True)]
    protocol: Annotated[str, Option("mteb (MTEB's few-shot experiments) | full (fit on the whole train set)")] = "mteb"
    text_field: Annotated[str, Option("the text column")] = "text"
    label_field: Annotated[str | None, Option("the label column (default: label, else category)")] = None
    samples_per_label: Annotated[int, Option("mteb: examples per label (MTEB's 8; some tasks 16 or 32)",
                                             range=Range(1, 100_000, integer=True))] = 8
    n_experiments: Annotated[int, Option("mteb: experiments averaged (MTEB's 10)",
                                         range=Range(1, 1000, integer=True))] = 10
    max_iter: Annotated[int, Option("LogisticRegression's max_iter (MTEB's 100)",
                                    range=Range(1, 100_000, integer=True))] = 100
    name: str = ""
    kind: ClassVar[str] = "classification"
    vectors: ClassVar[tuple[str, ...]] = ("dense", "sparse")   # logistic regression takes CSR rows as they are
    mteb: ClassVar[MtebFormat | None] = MtebFormat("accuracy", {"accuracy": "accuracy", "f1_macro": "f1"})
    default_metrics: ClassVar[tuple[str, ...]] = ("accuracy",)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise InputError(f"classification protocol must be mteb or full, got {self.protocol!r}")
        check_ranges(self)

    @classmethod
    def metric_spec(cls, metric: str) -> MetricSpec:
        """Accuracy: a mean over test items."""
        require_metric(cls.kind, metric, ("accuracy",))
        return MetricSpec("mean")

    def read_inputs(self) -> tuple[Labelled, Labelled]:
        """(train, test); every test label must occur in train."""
        from spacekit.io.labelled import read_labelled

        train = read_labelled(self.train, text_field=self.text_field, label_field=self.label_field)
        test = read_labelled(self.test, text_field=self.text_field, label_field=self.label_field)
        unseen = sorted(set(test.labels) - set(train.labels))
        if unseen:
            raise InputError(f"{self.test}: test labels absent from train ({self.train}): {unseen[:5]}")
        return train, test

    def run(self, model: Model, opts: EncodeOptions) -> ClassificationResult:
        """Accuracy and macro-F1 over the experiments; per test item the fraction right."""
        from spacekit.metrics.classification import ClassificationProtocol, linear_probe

        train, test = self.inputs()
        x_train, x_test = (flat(x) for x in opts.embed_unique(model, train.texts, test.texts))   # sparse: as CSR
        protocol = ClassificationProtocol(self.samples_per_label, self.n_experiments, max_iter=self.max_iter,
                                          full=self.protocol == "full")
        metrics, correct = linear_probe(x_train, np.array(train.labels), x_test, np.array(test.labels), protocol)
        return ClassificationResult(kind=self.kind, name=task_name(self.name, self.test), dataset=str(self.test),
                                    model=model.spec, metrics=metrics, item_ids=test.ids,
                                    per_item={"accuracy": correct}, protocol=self.protocol,
                                    samples_per_label=self.samples_per_label, n_experiments=self.n_experiments,
                                    item_texts=texts_per_item(test.ids, test.texts))

    def report_extras(self, before: ClassificationResult, after: ClassificationResult) -> dict:
        """McNemar's exact test on the items each model gets right in most experiments."""
        from spacekit import stats

        return {"mcnemar_p": stats.mcnemar(before.per_item["accuracy"] >= 0.5, after.per_item["accuracy"] >= 0.5)}
