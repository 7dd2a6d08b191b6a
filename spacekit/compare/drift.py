"""How the space moved between the two models: neighbourhood overlap, linear CKA, and the geometry of the space
before vs after, all on one set of texts."""

from __future__ import annotations

import numpy as np

from spacekit.compare.config import CompareConfig
from spacekit.embed import Model
from spacekit.tasks import Task, TaskResult


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
                  results: dict[str, tuple[TaskResult, TaskResult]], config: CompareConfig) -> tuple[dict, dict]:
    """(the report's drift section, the vectors the projection plot needs)."""
    from spacekit.ops import geometry as geo

    texts, groups = drift_texts(list(results.values()), config.drift_sample, config.seed)
    if len(texts) <= config.knn_k + 1:
        return {"n": len(texts), "note": "too few texts for drift"}, {}
    xb, xa = (config.opts.embed(m, texts, texts) for m in models)
    dev = config.opts.device
    overlap = geo.knn_overlap(xb, xa, k=config.knn_k, device=dev).numpy()
    shape = {name: {"before": fn(xb, device=dev), "after": fn(xa, device=dev)} for name, fn in
             [("uniformity", geo.uniformity), ("anisotropy", geo.anisotropy), ("effective_rank", geo.effective_rank)]}
    for task in tasks:
        shape.update(task.space_changes(*results[task.name]))
    for v in shape.values():
        v["delta"] = v["after"] - v["before"]
    drift = {"n": len(texts), "k": config.knn_k, "knn_overlap": {
        "mean": float(overlap.mean()), "median": float(np.median(overlap)),
        "p10": float(np.quantile(overlap, 0.1)), "p90": float(np.quantile(overlap, 0.9)),
        "histogram": np.histogram(overlap, bins=10, range=(0, 1))[0].tolist()},
        "linear_cka": geo.linear_cka(xb, xa, device=dev), "geometry": shape}
    return drift, {"texts": texts, "groups": groups, "before": xb, "after": xa, "overlap": overlap}
