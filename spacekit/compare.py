"""Before/after orchestration: run every suite task for both models, test every metric, and build one report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spacekit import __version__, stats
from spacekit.analysis import item_changes, overfitting
from spacekit.encode import Model, load_model
from spacekit.errors import InputError
from spacekit.suite import TaskSpec
from spacekit.tasks import EncodeOptions, TaskResult

LOWER_IS_BETTER = {"alignment", "uniformity", "anisotropy"}
TESTED_KINDS = ("retrieval", "sts", "classification", "clustering")


@dataclass
class CompareConfig:
    """Settings of one comparison."""

    alpha: float = 0.05
    seed: int = 0
    resamples: int = stats.RESAMPLES
    train: str | Path | None = None
    leak_threshold: float = 0.95
    examples: int = 5
    drift_sample: int = 2000
    knn_k: int = 10
    opts: EncodeOptions = field(default_factory=EncodeOptions)


@dataclass
class Comparison:
    """The report object (JSON-ready) plus in-memory data the plots need."""

    report: dict
    plot_data: dict

    @property
    def verdict(self) -> str:
        return self.report["verdict"]

    def has_regression(self) -> bool:
        """True when any corrected test found a significant regression."""
        return any(m["verdict"] == "regressed" for t in self.report["tasks"] for m in t["metrics"].values())


def compare(before: str, after: str, suite: list[TaskSpec], config: CompareConfig | None = None) -> Comparison:
    """Run the suite for both models and compare them."""
    config = config or CompareConfig()
    if not 0 < config.alpha < 1:
        raise InputError(f"--alpha must be between 0 and 1, got {config.alpha}")
    models = load_model(before), load_model(after)
    tasks, results, probes, geometry = [], {}, [], []
    for spec in suite:
        pair = tuple(spec.build().run(m, config.opts) for m in models)
        results[spec.name] = pair
        if spec.kind in TESTED_KINDS:
            tasks.append(_task_entry(spec, *pair, config))
        elif spec.kind == "probes":
            probes.append(pair)
        else:
            geometry.append(pair)
    _correct(tasks, config.alpha)
    train_texts = _training_texts(config)
    leakage = _leakage(models[0], suite, results, tasks, train_texts, config) if train_texts else None
    drift, vectors = _drift(models, geometry, results, config)
    if probes:  # probe texts under both models, for the projection plot's joined pairs
        ptexts = list(dict.fromkeys(t for b, _ in probes for ts in b.extra["item_texts"].values() for t in ts))
        row = {t: i for i, t in enumerate(ptexts)}
        vectors["probe_texts"] = ptexts
        vectors["probe_pairs"] = [(row[a], row[b_]) for b, _ in probes for a, b_ in b.extra["item_texts"].values()]
        vectors["probe_before"], vectors["probe_after"] = (config.opts.embed(m, ptexts, ptexts) for m in models)
    report = {
        "spacekit_version": __version__, "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "before": before, "after": after, "alpha": config.alpha, "seed": config.seed,
        "resamples": config.resamples, "correction": "holm", "verdict": _overall(tasks), "tasks": tasks,
        "overfitting": overfitting(tasks), "leakage": leakage, "drift": drift,
        "probes": [_probe_entry(b, a, train_texts) for b, a in probes],
    }
    return Comparison(report, {"vectors": vectors, "probes": probes, "tasks": results})


def _task_entry(spec: TaskSpec, before: TaskResult, after: TaskResult, config: CompareConfig) -> dict:
    if before.item_ids != after.item_ids:
        raise InputError(f"task {spec.name}: the two models were evaluated on different items")
    metrics = {}
    for i, name in enumerate(spec.metrics):
        test = _paired(spec.kind, name, before, after, config, seed=config.seed + 101 * i)
        metrics[name] = {"before": test.before, "after": test.after, "delta": test.delta, "ci_low": test.ci_low,
                         "ci_high": test.ci_high, "p_value": test.p_value, "p_adjusted": None, "verdict": None,
                         "test": test.test, "t_test_p": test.t_p_value, "effect_size_dz": test.effect_size}
    entry = {"name": spec.name, "kind": spec.kind, "tag": spec.tag, "dataset": before.dataset, "n": before.n,
             "main_metric": spec.main_metric, "metrics": metrics,
             "all_metrics": {"before": before.metrics, "after": after.metrics}}
    entry.update(item_changes(before, after, spec.main_metric, config.examples))
    if spec.kind == "classification":
        entry["mcnemar_p"] = stats.mcnemar(before.per_item["accuracy"] >= 0.5, after.per_item["accuracy"] >= 0.5)
    if spec.kind == "retrieval":
        entry["skipped_queries"] = before.extra["skipped_queries"]
    return entry


def _paired(kind: str, name: str, before: TaskResult, after: TaskResult, config: CompareConfig,
            seed: int, keep: np.ndarray | None = None) -> stats.PairedTest:
    """The paired test of one metric (optionally on a subset of items)."""
    sel = slice(None) if keep is None else keep
    common = {"resamples": config.resamples, "seed": seed, "device": config.opts.device}
    if kind == "retrieval":
        return stats.compare_metric(before.per_item[name][sel], after.per_item[name][sel], "mean", **common)
    if kind == "classification":
        return stats.compare_metric(before.per_item["accuracy"][sel], after.per_item["accuracy"][sel], "mean",
                                    **common)
    if kind == "sts":
        return stats.compare_metric(before.per_item["similarity"][sel], after.per_item["similarity"][sel], name,
                                    gold=before.extra["gold"][sel], **common)
    return stats.compare_metric(before.extra["pred"][sel], after.extra["pred"][sel], name,
                                gold=before.extra["gold"][sel], **common)


def _correct(tasks: list[dict], alpha: float) -> None:
    """Holm–Bonferroni over every tested metric in the report, then verdicts."""
    cells = [m for t in tasks for m in t["metrics"].values()]
    for cell, p_adj in zip(cells, stats.holm([c["p_value"] for c in cells]), strict=True):
        cell["p_adjusted"] = p_adj
    for t in tasks:
        for name, m in t["metrics"].items():
            m["verdict"] = stats.verdict(m["delta"], m["p_adjusted"], m["ci_low"], m["ci_high"], alpha,
                                         name not in LOWER_IS_BETTER)


def _overall(tasks: list[dict]) -> str:
    verdicts = {t["metrics"][t["main_metric"]]["verdict"] for t in tasks if t["main_metric"]}
    if "improved" in verdicts and "regressed" in verdicts:
        return "mixed"
    if "improved" in verdicts:
        return "improved"
    if "regressed" in verdicts:
        return "regressed"
    return "no significant change"


def _training_texts(config: CompareConfig) -> list[str] | None:
    if config.train is None:
        return None
    from spacekit.leakage import read_training_texts

    return read_training_texts(config.train)


def _leakage(before_model: Model, suite: list[TaskSpec], results: dict, tasks: list[dict], train_texts: list[str],
             config: CompareConfig) -> dict:
    """Leaked items per task (under the before model) and the tested metrics recomputed without them."""
    from spacekit.leakage import find_leaks

    train_vecs = config.opts.embed(before_model, train_texts, train_texts)
    entries = {t["name"]: t for t in tasks}
    out = {"train": str(config.train), "train_texts": len(train_texts), "threshold": config.leak_threshold,
           "tasks": {}}
    for spec in suite:
        before, after = results[spec.name]
        item_texts = before.extra.get("item_texts")
        if not item_texts:
            continue
        texts = list(dict.fromkeys(t for ts in item_texts.values() for t in ts))
        vecs = dict(zip(texts, config.opts.embed(before_model, texts, texts), strict=True))
        leaks = find_leaks(train_texts, item_texts, train_vecs, vecs, config.leak_threshold)
        info = {**leaks.counts(), "examples": [vars(x) for x in leaks.items[:config.examples]]}
        if spec.name in entries and leaks.ids and len(leaks.ids) < before.n - 1:
            keep = np.array([i not in leaks.ids for i in before.item_ids])
            clean = {}
            for name in spec.metrics:
                test = _paired(spec.kind, name, before, after, config, config.seed + 7, keep)
                clean[name] = {"before": test.before, "after": test.after, "delta": test.delta,
                               "ci_low": test.ci_low, "ci_high": test.ci_high, "p_value": test.p_value}
            info["without_leaked"] = {"n": int(keep.sum()), "metrics": clean}
            entries[spec.name]["leakage"] = {k: v for k, v in info.items() if k != "examples"}
        out["tasks"][spec.name] = info
    return out


def _drift_texts(geometry: list, results: dict, limit: int, seed: int) -> list[str]:
    if geometry:
        texts = list(dict.fromkeys(t for b, _ in geometry for t in b.extra["texts"]))
    else:
        texts = list(dict.fromkeys(t for b, _ in results.values() for ts in b.extra.get("item_texts", {}).values()
                                   for t in ts))
    if len(texts) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(texts), limit, replace=False))
        texts = [texts[i] for i in keep]
    return texts


def _drift(models: tuple[Model, Model], geometry: list, results: dict, config: CompareConfig) -> tuple[dict, dict]:
    """How the space moved: neighbourhood overlap, CKA, and geometry before vs after on one set of texts."""
    from spacekit.ops import geometry as geo

    texts = _drift_texts(geometry, results, config.drift_sample, config.seed)
    if len(texts) <= config.knn_k + 1:
        return {"n": len(texts), "note": "too few texts for drift"}, {}
    xb, xa = (config.opts.embed(m, texts, texts) for m in models)
    dev = config.opts.device
    overlap = geo.knn_overlap(xb, xa, k=config.knn_k, device=dev).numpy()
    shape = {name: {"before": fn(xb, device=dev), "after": fn(xa, device=dev)} for name, fn in
             [("uniformity", geo.uniformity), ("anisotropy", geo.anisotropy), ("effective_rank", geo.effective_rank)]}
    for b, a in geometry:
        if "alignment" in b.metrics:
            shape[f"alignment ({b.name})"] = {"before": b.metrics["alignment"], "after": a.metrics["alignment"]}
    for v in shape.values():
        v["delta"] = v["after"] - v["before"]
    drift = {"n": len(texts), "k": config.knn_k, "knn_overlap": {
        "mean": float(overlap.mean()), "median": float(np.median(overlap)),
        "p10": float(np.quantile(overlap, 0.1)), "p90": float(np.quantile(overlap, 0.9)),
        "histogram": np.histogram(overlap, bins=10, range=(0, 1))[0].tolist()},
        "linear_cka": geo.linear_cka(xb, xa, device=dev), "geometry": shape}
    return drift, {"texts": texts, "before": xb, "after": xa, "overlap": overlap}


def _probe_entry(before: TaskResult, after: TaskResult, train_texts: list[str] | None) -> dict:
    """Probe cosines before vs after; pairs whose texts occur in the training data are marked."""
    from spacekit.leakage import text_hash

    trained = {text_hash(t) for t in train_texts or []}
    probes = before.extra["probes"]
    pairs = [{"id": i, "group": g, "text_a": a, "text_b": b, "expect": e, "before": float(cb), "after": float(ca),
              "delta": float(ca - cb), "trained_on": text_hash(a) in trained or text_hash(b) in trained}
             for i, g, a, b, e, cb, ca in zip(probes.ids, probes.group, probes.text_a, probes.text_b, probes.expect,
                                               before.per_item["cosine"], after.per_item["cosine"], strict=True)]
    groups = {g: {"before": before.extra["groups"][g], "after": after.extra["groups"][g]}
              for g in before.extra["groups"]}
    return {"name": before.name, "dataset": before.dataset, "pairs": pairs, "groups": groups,
            "groups_passed": {"before": before.metrics["groups_passed"], "after": after.metrics["groups_passed"]}}
