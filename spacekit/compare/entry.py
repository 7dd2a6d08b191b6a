"""A tested task's entry in the comparison: each metric's paired test, the per-item changes, the kind's extras, and
the re-scores the leakage check adds (leak-free, new documents only)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

from spacekit.compare.diagnosis import Diagnosis
from spacekit.compare.metric_test import MetricTest
from spacekit.compare.sparsity import SparsityChange
from spacekit.compare.threshold import ThresholdTransfer
from spacekit.records import Json


@dataclass(frozen=True)
class ItemChange:
    """One item whose main metric moved: its id and texts, its quality before and after, and the facts its kind
    shows beside it (retrieval: rank_before, rank_after: the first relevant document's rank, null beyond depth)."""

    id: str
    text: str
    before: float
    after: float
    delta: float
    facts: Annotated[Mapping[str, int | float | str | None], Json(flatten=True)] = field(default_factory=dict)


@dataclass(frozen=True)
class WinTieLoss:
    """Items whose main metric rose, stayed within 1e-12, fell."""

    win: int
    tie: int
    loss: int


@dataclass(frozen=True)
class DeltaHistogram:
    """The per-item changes binned, the zero bin split off: n, ties (|delta| <= 1e-12: counted, not binned),
    undefined, counts and edges (symmetric about 0, over the changed items)."""

    n: int
    ties: int
    undefined: int
    counts: tuple[int, ...]
    edges: tuple[float, ...]


@dataclass(frozen=True)
class Rescore:
    """The task's tests without its leaked items (what the verdict judges it by when it has leaked items)."""

    n: int
    leaked: int
    metrics: Mapping[str, MetricTest]


@dataclass(frozen=True)
class Subset:
    """The main metric's test on a subset of the items (new documents only)."""

    n: int
    metrics: Mapping[str, MetricTest]


@dataclass(frozen=True)
class TrainedDocuments:
    """Items (not leaked) one of whose relevant documents was a training positive, and the main metric's change on
    the others (new documents only; absent when fewer than two are left)."""

    touched: int
    of: int
    new_documents_only: Annotated[Subset | None, Json(omit_none=True)] = None


@dataclass(frozen=True)
class SliceRow:
    """The main metric on one slice of a task's items: the slicing, the group, its items, its paired test (p
    corrected across the task's slices, judged like a task)."""

    slicing: str
    group: str
    n: int
    test: MetricTest


@dataclass(frozen=True)
class TaskSlices:
    """Where a task changed: its main metric on every slice (compare.slices), and the Simpson warning when the task
    moved one way while a slice of at least 5% of its items moved significantly the other; the items sliced (all of
    them: a task judged leak-free is sliced with its leaked items, one slicing being near-duplicates of training)."""

    metric: str
    rows: tuple[SliceRow, ...]
    simpson: str | None
    items: str = "all items"


@dataclass(frozen=True)
class LabelBudget:
    """What the task's items can decide about its main metric (compare.label_budget): n, the sd of the paired
    differences, the level its test faced, the smallest change detectable with 80% power, the smallest equivalence
    margin it can certify, and, when inconclusive, the items a decision needs and how many more that is."""

    n: int
    sd: float
    level: float
    detectable: float
    equivalence_margin: float
    needed_n: int | None
    more: int | None
    method: str


@dataclass(frozen=True)
class TaskEntry:
    """A tested task: every metric's paired test (the main one first), both models' aggregate metrics, what an item
    is, the per-item changes and the kind's extras (retrieval: skipped_queries; classification: mcnemar_p); with
    training data, the leak-free re-score and the trained-documents view; for a kind with scored pairs, how a
    similarity cut-off transfers between the models; for a sparse encoder's retrieval, its sparsity."""

    name: str
    kind: str
    tag: str
    dataset: str
    n: int
    main_metric: str
    metrics: Mapping[str, MetricTest]
    all_metrics: Mapping[str, Mapping[str, float]]
    item_meaning: str
    win_tie_loss: WinTieLoss
    most_improved: tuple[ItemChange, ...]
    most_regressed: tuple[ItemChange, ...]
    delta_histogram: DeltaHistogram
    extras: Annotated[Mapping[str, int | float | None], Json(flatten=True)] = field(default_factory=dict)
    leak_free: Annotated[Rescore | None, Json(omit_none=True)] = None
    trained_documents: Annotated[TrainedDocuments | None, Json(omit_none=True)] = None
    threshold: Annotated[ThresholdTransfer | None, Json(omit_none=True)] = None
    slices: Annotated[TaskSlices | None, Json(omit_none=True)] = None
    label_budget: Annotated[LabelBudget | None, Json(omit_none=True)] = None
    diagnosis: Annotated[Diagnosis | None, Json(omit_none=True)] = None
    sparsity: Annotated[SparsityChange | None, Json(omit_none=True)] = None

    def basis(self) -> tuple[Mapping[str, MetricTest], str | None]:
        """(the tests the task is judged by, how they differ from all items): its leak-free re-score when it has
        one."""
        if self.leak_free is not None:
            return self.leak_free.metrics, f"leak-free, n={self.leak_free.n}"
        return self.metrics, None

    @property
    def main(self) -> MetricTest:
        """The main metric's test as the verdict judges it."""
        return self.basis()[0][self.main_metric]
