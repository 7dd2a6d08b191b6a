"""How the space moved between the two models: neighbourhood overlap, linear CKA, and the geometry of the space
before vs after, all on one set of texts."""

from __future__ import annotations

import numpy as np

from spacekit.compare.config import CompareConfig
from spacekit.embed import Model
from spacekit.tasks import Task, TaskResult


def drift_texts(results: list[tuple[TaskResult, TaskResult]], limit: int, seed: int) -> list[str]:
    """The texts drift is measured on: the space texts of the tasks that have them (geometry), else every item
    text; at most `limit`, a seeded sample in order."""
    space = [b.space_texts for b, _ in results if b.space_texts is not None]
    if space:
        texts = list(dict.fromkeys(t for ts in space for t in ts))
    else:
        texts = list(dict.fromkeys(t for b, _ in results for ts in b.item_texts.values() for t in ts))
    if len(texts) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(texts), limit, replace=False))
        texts = [texts[i] for i in keep]
    return texts


def drift_section(models: tuple[Model, Model], tasks: list[Task],
                  results: dict[str, tuple[TaskResult, TaskResult]], config: CompareConfig) -> tuple[dict, dict]:
    """(the report's drift section, the vectors the projection plot needs)."""
    from spacekit.ops import geometry as geo

    texts = drift_texts(list(results.values()), config.drift_sample, config.seed)
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
    return drift, {"texts": texts, "before": xb, "after": xa, "overlap": overlap}
