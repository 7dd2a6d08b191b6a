"""How the space moved between the two models: neighbourhood overlap, linear CKA, and the geometry of the space
before vs after, all on one set of texts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

import numpy as np

from spacekit.compare.config import CompareConfig
from spacekit.embed import Model
from spacekit.embed.model import vector_kind
from spacekit.records import Json
from spacekit.store.vectors import dense
from spacekit.tasks import Task, TaskResult


@dataclass(frozen=True)
class Overlap:
    """Per text, the share of its k nearest neighbours both models agree on: mean, median, 10th and 90th
    percentiles, and a 10-bin histogram over [0, 1]."""

    mean: float
    median: float
    p10: float
    p90: float
    histogram: tuple[int, ...]


@dataclass(frozen=True)
class GeometryChange:
    """One statistic of the space under each model, and the change."""

    before: float
    after: float
    delta: float


@dataclass(frozen=True)
class Drift:
    """How the space moved, on n texts: kNN overlap, linear CKA and the geometry before vs after (absent, with a
    note, when there are too few texts)."""

    n: int
    note: Annotated[str | None, Json(omit_none=True)] = None
    k: Annotated[int | None, Json(omit_none=True)] = None
    knn_overlap: Annotated[Overlap | None, Json(omit_none=True)] = None
    linear_cka: Annotated[float | None, Json(omit_none=True)] = None
    geometry: Annotated[Mapping[str, GeometryChange] | None, Json(omit_none=True)] = None


@dataclass(frozen=True)
class SpaceSample:
    """The texts drift was measured on (each with its task), both models' vectors of them and each text's overlap;
    and the probe pairs' texts and vectors, which the projection plot joins by lines. In memory only."""

    texts: list[str]
    groups: list[str]
    before: np.ndarray
    after: np.ndarray
    overlap: np.ndarray
    probe_texts: list[str] = field(default_factory=list)
    probe_pairs: list[tuple[int, int]] = field(default_factory=list)
    probe_before: np.ndarray | None = None
    probe_after: np.ndarray | None = None


def drift_texts(results: list[tuple[TaskResult, TaskResult]], limit: int, seed: int) -> tuple[list[str], list[str]]:
    """(texts, the task each comes from) that drift is measured on: the space texts of the tasks that have them
    (geometry), else every item text; at most `limit`, a seeded sample stratified by task (each task gets an equal
    share, a small task's unused share going to the others), in order."""
    space = [(b.name, b.space_texts) for b, _ in results if b.space_texts is not None]
    per_task = space or [(b.name, [t for ts in b.item_texts.values() for t in ts]) for b, _ in results]
    owner: dict[str, str] = {}
    for name, texts in per_task:
        for t in texts:
            owner.setdefault(t, name)
    groups: dict[str, list[str]] = {}
    for t, name in owner.items():
        groups.setdefault(name, []).append(t)
    rng, left = np.random.default_rng(seed), limit
    chosen: set[str] = set()
    for i, texts in enumerate(sorted(groups.values(), key=len)):
        share = left // (len(groups) - i)
        picked = texts if len(texts) <= share else [texts[j] for j in rng.choice(len(texts), share, replace=False)]
        chosen.update(picked)
        left -= len(picked)
    texts = [t for t in owner if t in chosen]
    return texts, [owner[t] for t in texts]


def drift_section(models: tuple[Model, Model], tasks: list[Task],
                  results: dict[str, tuple[TaskResult, TaskResult]],
                  config: CompareConfig) -> tuple[Drift, SpaceSample | None]:
    """(the report's drift section, the vectors the projection plot needs)."""
    from spacekit.ops import geometry as geo

    texts, groups = drift_texts(list(results.values()), config.drift_sample, config.seed)
    if len(texts) <= config.knn_k + 1:
        return Drift(len(texts), note="too few texts for drift"), None
    other = [f"{m.spec} ({vector_kind(m)})" for m in models if vector_kind(m) != "dense"]
    if other:
        verb = "is not a dense model" if len(other) == 1 else "are not dense models"
        return Drift(len(texts), note=f"not measured: {' and '.join(other)} {verb} (neighbourhoods, CKA and the "
                                      f"geometry are measured between dense spaces)"), None
    xb, xa = (dense(config.opts.embed(m, texts, texts)) for m in models)
    dev = config.opts.placement.device
    overlap = geo.knn_overlap(xb, xa, k=config.knn_k, device=dev).numpy()
    shape = {name: (fn(xb, device=dev), fn(xa, device=dev)) for name, fn in
             [("uniformity", geo.uniformity), ("anisotropy", geo.anisotropy), ("effective_rank", geo.effective_rank)]}
    for task in tasks:
        shape.update(task.space_changes(*results[task.name]))
    drift = Drift(len(texts), k=config.knn_k, knn_overlap=Overlap(
        float(overlap.mean()), float(np.median(overlap)), float(np.quantile(overlap, 0.1)),
        float(np.quantile(overlap, 0.9)), tuple(int(c) for c in np.histogram(overlap, bins=10, range=(0, 1))[0])),
        linear_cka=geo.linear_cka(xb, xa, device=dev),
        geometry={name: GeometryChange(b, a, a - b) for name, (b, a) in shape.items()})
    return drift, SpaceSample(texts, groups, xb, xa, overlap)
