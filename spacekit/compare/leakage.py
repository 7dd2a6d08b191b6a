"""Leakage between fine-tuning data and evaluation data: exact (normalised text) and near-duplicate matches, and
how much of a retrieval test's relevant documents were training positives.

Exact: lower-cased, whitespace-collapsed text equal (a sha1 of it). Near: cosine >= threshold between an
evaluation text and its nearest training text under the *before* model (found with ops.topk).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

import numpy as np

from spacekit.compare.config import CompareConfig
from spacekit.compare.entry import Rescore, Subset, TaskEntry, TrainedDocuments
from spacekit.compare.paired import metric_cells
from spacekit.compare.suite import TaskSpec
from spacekit.embed import Model
from spacekit.embed.model import vector_kind
from spacekit.io.training import TrainingData
from spacekit.records import Json
from spacekit.store.vectors import Vectors, pooled
from spacekit.tasks import Task, TaskResult

LEAK_PAIRS = 10  # near-duplicate pairs shown per task, those nearest the threshold first (where judgement is needed)


def normalise(text: str) -> str:
    """Lower case, whitespace collapsed, stripped."""
    return re.sub(r"\s+", " ", text).strip().lower()


def text_hash(text: str) -> str:
    """sha1 of the normalised text."""
    return hashlib.sha1(normalise(text).encode()).hexdigest()


def is_trained(train_texts: list[str]) -> Callable[[str], bool]:
    """text -> whether the training texts hold it (after normalisation)."""
    hashes = {text_hash(t) for t in train_texts}
    return lambda text: text_hash(text) in hashes


@dataclass(frozen=True)
class Leak:
    """One evaluation item that overlaps the training data: its text, the training text it matches, exactly or near
    (cosine under the before model)."""

    item_id: str
    text: str
    match: str
    kind: str          # "exact" | "near"
    cosine: float


@dataclass
class TaskLeakage:
    """Leaked items of one task."""

    items: list[Leak] = field(default_factory=list)

    @property
    def ids(self) -> set[str]:
        """Ids of the leaked items."""
        return {leak.item_id for leak in self.items}

    def counts(self) -> tuple[int, int, int]:
        """Items leaked exactly, near (and not exactly), and in all."""
        exact = {leak.item_id for leak in self.items if leak.kind == "exact"}
        return len(exact), len(self.ids - exact), len(self.ids)


def find_leaks(train_texts: list[str], item_texts: dict[str, list[str]], train_vecs: Vectors | None,
               texts: list[str], text_vecs: Vectors | None, threshold: float = 0.95) -> TaskLeakage:
    """Items any of whose texts match a training text exactly or at cosine >= threshold.

    text_vecs holds the before-model vector of each distinct evaluation text (texts, in order; dense or sparse);
    train_vecs is (n_train, d) in training order; without vectors (None) only exact matches count.
    """
    from spacekit.ops import topk

    exact = {text_hash(t): t for t in train_texts}
    best: dict[str, tuple[float, str]] = {}
    if texts and train_vecs is not None and text_vecs is not None:
        scores, idx = topk(text_vecs, train_vecs, 1)                                     # (n_text, 1) each
        best = {t: (float(s), train_texts[int(i)]) for t, s, i in zip(texts, scores[:, 0], idx[:, 0], strict=True)}
    out = TaskLeakage()
    for item_id, ts in item_texts.items():
        for t in ts:
            h = text_hash(t)
            if h in exact:
                out.items.append(Leak(item_id, t, exact[h], "exact", 1.0))
                break
            cos, match = best.get(t, (0.0, ""))
            if cos >= threshold:
                out.items.append(Leak(item_id, t, match, "near", cos))
                break
    return out


def trained_targets(item_targets: dict[str, list[str]], positives: list[str]) -> set[str]:
    """Ids of the items one of whose targets (a retrieval query's relevant documents) is a training positive, as
    normalised text: not leakage by itself, but how much of the test the training touched."""
    trained = is_trained(positives)
    return {item for item, texts in item_targets.items() if any(trained(t) for t in texts)}


@dataclass(frozen=True)
class TaskLeaks:
    """One task's leaked items: exact, near (and not exact), in all, of n; the pairs nearest the threshold; the
    trained-documents view when its items have targets (retrieval); every leaked item's id (in item order)."""

    exact: int
    near: int
    total: int
    n: int
    pairs: tuple[Leak, ...]
    trained_documents: Annotated[TrainedDocuments | None, Json(omit_none=True)] = None
    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Leakage:
    """The training data checked against every task: the file, its texts, how it was read, the near-duplicate
    threshold, and each task's leaks."""

    train: str
    train_texts: int
    read_as: str
    threshold: float
    tasks: Mapping[str, TaskLeaks]


def leakage_section(before_model: Model, planned: list[tuple[TaskSpec, Task]],
                    results: dict[str, tuple[TaskResult, TaskResult]], entries: dict[str, TaskEntry],
                    training: TrainingData, config: CompareConfig) -> tuple[Leakage, dict[str, TaskEntry]]:
    """Leaked items per task (under the before model), shown as pairs with their cosine; and the entries again, a
    tested task with leaked items with its leak-free re-score (what the verdict judges it by), a task whose items
    have targets with the count of items whose targets were training positives and a "new documents only"
    re-score."""
    train_texts = training.texts
    vectors = vector_kind(before_model) != "run"                 # a run file (rerankers compared): exact matches only
    train_vecs = pooled(config.opts.embed(before_model, train_texts, train_texts)) if vectors else None
    tasks: dict[str, TaskLeaks] = {}
    entries = dict(entries)
    for spec, task in planned:
        before, after = results[task.name]
        if not before.item_texts:
            continue
        texts = list(dict.fromkeys(t for ts in before.item_texts.values() for t in ts))
        leaks = find_leaks(train_texts, before.item_texts, train_vecs, texts,
                           pooled(config.opts.embed(before_model, texts, texts)) if vectors else None,
                           config.leak_threshold)
        pairs = tuple(sorted(leaks.items, key=lambda x: (x.kind == "exact", x.cosine))[:LEAK_PAIRS])
        entry = entries.get(task.name)
        keep = np.array([i not in leaks.ids for i in before.item_ids])
        view = None
        if entry is not None and leaks.ids:                   # too few left to test: judged undecided, never on all
            cells = (metric_cells(task, spec, before, after, config, keep) if keep.sum() >= 2 else
                     {name: cell.undecided() for name, cell in entry.metrics.items()})
            entry = dataclasses.replace(entry, leak_free=Rescore(int(keep.sum()), int((~keep).sum()), cells))
        if entry is not None and before.item_targets is not None and training.positives:
            touched = trained_targets(before.item_targets, training.positives)
            fresh = keep & np.array([i not in touched for i in before.item_ids])
            subset = (Subset(int(fresh.sum()), metric_cells(task, spec, before, after, config, fresh,
                                                            metrics=[spec.metrics[0]])) if fresh.sum() >= 2 else None)
            view = TrainedDocuments(int((keep & ~fresh).sum()), int(keep.sum()), subset)
            entry = dataclasses.replace(entry, trained_documents=view)
        if entry is not None:
            entries[task.name] = entry
        tasks[task.name] = TaskLeaks(*leaks.counts(), before.n, pairs, view,
                                     tuple(i for i in before.item_ids if i in leaks.ids))
    return Leakage(str(config.train), len(train_texts), training.describe(), config.leak_threshold, tasks), entries
