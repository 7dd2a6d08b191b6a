"""The task contract: what every kind of task declares, how it runs, what it returns, and how compare tests it.

A kind is one file in spacekit/tasks/ holding a Task class (registered with @register) and its TaskResult
subclass. compare reads only what this file declares: the kind's metrics and how each is tested (MetricSpec), the
result's per-item values (paired_inputs), and the hooks for kinds that are observed rather than tested.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import numpy as np

from spacekit.errors import InputError
from spacekit.io.mteb_results import MtebFormat

if TYPE_CHECKING:
    from spacekit.embed import EncodeOptions, Model
    from spacekit.metrics.sparsity import SparsityStats
    from spacekit.metrics.threshold import ScoredPairs
    from spacekit.tasks.sections import ObservedSection


@dataclass(frozen=True)
class MetricSpec:
    """How compare tests one metric: the paired statistic it resamples (stats.compare_metric's kind: a name, or a
    function gold -> statistic(values, weights) of the kind's own) and its direction."""

    statistic: str | Callable[[np.ndarray], Callable]
    higher_is_better: bool = True


@dataclass(kw_only=True)
class TaskResult:
    """Aggregate metrics plus the per-item values behind them (what the paired statistics resample).

    item_texts: per item, the texts it was built from (leakage checks and examples); item_targets: per item, the
    texts it must find (retrieval: its relevant documents), checked against the training positives; space_texts:
    texts that describe the space itself (a geometry task's), preferred for drift; joined_pairs: text pairs the
    projection plot joins by a line (probes). item_meaning: what one item is and what its per-item change measures
    (the report says it beside the most changed items; "{metric}" stands for the main metric).
    """

    item_meaning: ClassVar[str] = "an item is one evaluation item; Δ is the change in its {metric}"
    positive_meaning: ClassVar[str | None] = None   # what a positive pair is, for a similarity cut-off (None: no pairs)

    kind: str
    name: str
    dataset: str
    model: str
    metrics: dict[str, float]
    item_ids: list[str]
    per_item: dict[str, np.ndarray]
    item_texts: dict[str, list[str]] = field(default_factory=dict)
    item_targets: dict[str, list[str]] | None = None
    space_texts: list[str] | None = None
    joined_pairs: list[tuple[str, str]] | None = None
    item_fields: dict[str, list[str]] = field(default_factory=dict)   # per item, its other columns (query fields)
    seconds: float | None = None        # how long the task ran (MTEB result files' evaluation_time)

    @property
    def n(self) -> int:
        """Number of items."""
        return len(self.item_ids)

    def paired_inputs(self, metric: str) -> tuple[np.ndarray, np.ndarray | None]:
        """(per-item values, gold or None) that the metric's paired statistic resamples."""
        return self.per_item[metric], None

    def quality(self, main_metric: str) -> np.ndarray:
        """One higher-is-better number per item that moves with the main metric (win/tie/loss, examples)."""
        return self.per_item[main_metric]

    def summary(self) -> dict:
        """Scalars the --json output adds after the metrics (split, protocol, k, ...)."""
        return {}

    def threshold_pairs(self) -> ScoredPairs | None:
        """The scored pairs a similarity cut-off would select from (a positive: a true match), None for a kind
        without them."""
        return None

    def item_facts(self, i: int) -> dict:
        """Facts about item i that the report shows beside its change (retrieval: the first relevant rank)."""
        return {}

    def sparsity_stats(self) -> SparsityStats | None:
        """A sparse encoder's sparsity on the task (retrieval), None otherwise."""
        return None

    def as_json(self) -> dict:
        """The DESIGN.md shape: {task, model, dataset, n, metrics, ...summary}."""
        return {"task": self.kind, "model": self.model, "dataset": self.dataset, "n": self.n,
                "metrics": {k: float(v) for k, v in self.metrics.items()}, **self.summary()}


R = TypeVar("R", bound=TaskResult)


class Task(Protocol[R]):
    """One kind of evaluation: built from a suite table (or the CLI), run on one model; R: its result type.

    Class attributes: kind (its name in suites), default_metrics (the first is the main metric; empty: compare
    observes the kind instead of testing it); options (the suite keys it takes besides name, kind, tag and
    metrics, with their TOML types: any other key is an error), paths (those holding file paths, resolved against
    the suite file) and required (those that must be given), all three derived by @register from the fields
    annotated with an Option (spacekit.tasks.options); section (the report key an observed kind's sections go
    under) and observed (their type: a spacekit.tasks.sections.ObservedSection dataclass), roles
    (the prompt roles its texts are encoded in: "query" / "document" for retrieval, None for any other text), mteb
    (how its metrics are keyed in MTEB's result files; None: MTEB has no result format for the kind).
    """

    kind: ClassVar[str]
    roles: ClassVar[tuple[str | None, ...]] = (None,)
    default_metrics: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[dict[str, type]] = {"data": str}
    paths: ClassVar[tuple[str, ...]] = ("data",)
    required: ClassVar[tuple[str, ...]] = ("data",)
    section: ClassVar[str | None] = None
    observed: ClassVar[type | None] = None
    mteb: ClassVar[MtebFormat | None] = None
    scored_pairs: ClassVar[bool] = False       # its results have threshold_pairs (a similarity cut-off applies)
    vectors: ClassVar[tuple[str, ...]] = ("dense",)   # the vectors it evaluates: dense, sparse (a sparse encoder's)
    name: str

    @classmethod
    def metric_spec(cls, metric: str) -> MetricSpec:
        """How compare tests `metric` for this kind; an InputError when it cannot be tested."""
        raise InputError(f"metric {metric!r} cannot be compared for {cls.kind} (use none)")

    @classmethod
    def flat_options(cls, options: dict) -> dict:
        """The suite table's options with any table the kind takes as a group of keys (a retrieval task's
        `hybrid = {fusion = "rrf", k = 60}`) spread into its flat keys; the kind's own options unchanged."""
        return options

    @classmethod
    def from_suite(cls, name: str, metrics: list[str], options: dict) -> Task[R]:
        """The task a suite table describes (options: its keys besides name, kind, tag and metrics, each into the
        field it names: spacekit.tasks.options)."""
        from spacekit.tasks.options import from_options

        return from_options(cls, name, options)

    def run(self, model: Model, opts: EncodeOptions) -> R:
        """Evaluate one model."""
        ...

    def check_model(self, model: Model, opts: EncodeOptions) -> None:
        """An InputError when the task cannot evaluate this model as set up (checked before anything is encoded;
        check_vectors has passed)."""
        return

    def options_for(self, which: str, opts: EncodeOptions) -> EncodeOptions:
        """The options compare runs the before or after model (`which`) with: opts, unless the task sets something
        per model (a retrieval task's rerank_after)."""
        return opts

    def read_inputs(self) -> Any:
        """Read and validate the task's input files (an InputError names the first problem)."""
        return None

    def inputs(self) -> Any:
        """The task's inputs, read once: compare reads every task's before it encodes anything, so a bad file
        fails in seconds, and run() uses what was read."""
        if "_inputs" not in self.__dict__:
            self.__dict__["_inputs"] = self.read_inputs()
        return self.__dict__["_inputs"]

    def variant_metrics(self, metric: str) -> list[str]:
        """The metric under each dimension / precision the task also scores (spacekit.tasks.axes); compare tests
        the main metric's variants too."""
        return []

    def main_metric(self, metric: str) -> str:
        """The metric a suite's first metric stands for (a retrieval task with a hybrid search: the fused run's)."""
        return metric

    def report_extras(self, before: R, after: R) -> dict[str, int | float | None]:
        """Numbers compare adds to a tested task's entry (keys of its own, after the per-item analysis)."""
        return {}

    def observe(self, before: R, after: R, trained: Callable[[str], bool]) -> ObservedSection | None:
        """An observed kind's section of the report (trained(text): whether the training data holds it)."""
        return None

    def space_changes(self, before: R, after: R) -> dict[str, tuple[float, float]]:
        """Rows this task adds to the drift section's geometry table: {label: (before, after)}."""
        return {}


def check_vectors(task: Task, model: Model) -> None:
    """An InputError (one line) when the task cannot evaluate the model's kind of vectors (a sparse encoder's: only
    retrieval and sts take them)."""
    from spacekit.embed.model import vector_kind
    from spacekit.tasks.registry import kinds

    kind = vector_kind(model)
    if kind not in task.vectors:
        takes = sorted(k for k, cls in kinds().items() if kind in cls.vectors)
        raise InputError(f"task {task.name or task.kind}: {model.spec} is a {kind} model and a {task.kind} task "
                         f"takes {' or '.join(task.vectors)} vectors only ({kind} models are evaluated by "
                         f"{', '.join(takes)} tasks)")


def check_task_model(task: Task, model: Model, opts: EncodeOptions) -> None:
    """Whether the task can evaluate the model as set up, before anything is encoded: its kind of vectors
    (check_vectors), then the task's own check_model; an InputError (one line) when not."""
    check_vectors(task, model)
    task.check_model(model, opts)


def run_checked(task: Task[R], model: Model, opts: EncodeOptions) -> R:
    """task.run(model, opts) once check_task_model passes."""
    check_task_model(task, model, opts)
    return task.run(model, opts)


def require_metric(kind: str, metric: str, allowed: tuple[str, ...]) -> None:
    """An InputError unless compare can test `metric` for this kind (one of `allowed`)."""
    if metric not in allowed:
        raise InputError(f"metric {metric!r} cannot be compared for {kind} (use {', '.join(allowed)})")


def pair_cosines(opts: EncodeOptions, model: Model, first: list[str], second: list[str]) -> np.ndarray:
    """(n,) float64 cosine of each pair (first[i], second[i]), each distinct text embedded once."""
    from spacekit.ops.similarity import pairwise_cosine

    a, b = opts.embed_unique(model, first, second)
    return pairwise_cosine(a, b).numpy()


def task_name(name: str, data: object) -> str:
    """The task's name, else its data file's name."""
    from pathlib import Path

    return name or Path(str(data)).name


def texts_per_item(ids: list[str], *columns: list[str]) -> dict[str, list[str]]:
    """{item id: [its text in each column]}."""
    return {i: list(texts) for i, *texts in zip(ids, *columns, strict=True)}
