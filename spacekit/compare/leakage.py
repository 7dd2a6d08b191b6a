"""Leakage between fine-tuning data and evaluation data: exact (normalised text) and near-duplicate matches.

Exact: lower-cased, whitespace-collapsed text equal (a sha1 of it). Near: cosine >= threshold between an
evaluation text and its nearest training text under the *before* model (found with ops.topk).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spacekit.compare.config import CompareConfig
from spacekit.compare.paired import paired_test
from spacekit.embed import Model
from spacekit.tasks import Task, TaskResult


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


@dataclass
class Leak:
    """One evaluation item that overlaps the training data."""

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

    def counts(self) -> dict[str, int]:
        """Items leaked exactly, near (and not exactly), and in all."""
        exact = {leak.item_id for leak in self.items if leak.kind == "exact"}
        return {"exact": len(exact), "near": len(self.ids - exact), "total": len(self.ids)}


def find_leaks(train_texts: list[str], item_texts: dict[str, list[str]], train_vecs: np.ndarray,
               item_vecs: dict[str, np.ndarray], threshold: float = 0.95) -> TaskLeakage:
    """Items any of whose texts match a training text exactly or at cosine >= threshold.

    item_vecs[text] is the before-model vector of each evaluation text; train_vecs is (n_train, d) in order.
    """
    from spacekit.ops import topk

    exact = {text_hash(t): t for t in train_texts}
    texts = list(dict.fromkeys(t for ts in item_texts.values() for t in ts))
    best: dict[str, tuple[float, str]] = {}
    if texts:
        scores, idx = topk(np.stack([item_vecs[t] for t in texts]), train_vecs, 1)     # (n_text, 1) each
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


def leakage_section(before_model: Model, tasks: list[Task], results: dict[str, tuple[TaskResult, TaskResult]],
                    entries: dict[str, dict], tested: dict[str, list[str]], train_texts: list[str],
                    config: CompareConfig) -> dict:
    """Leaked items per task (under the before model) and the tested metrics recomputed without them; a tested
    task's entry gets the counts and the recomputed metrics too."""
    train_vecs = config.opts.embed(before_model, train_texts, train_texts)
    out: dict[str, Any] = {"train": str(config.train), "train_texts": len(train_texts),
                           "threshold": config.leak_threshold, "tasks": {}}
    for task in tasks:
        before, after = results[task.name]
        if not before.item_texts:
            continue
        texts = list(dict.fromkeys(t for ts in before.item_texts.values() for t in ts))
        vecs = dict(zip(texts, config.opts.embed(before_model, texts, texts), strict=True))
        leaks = find_leaks(train_texts, before.item_texts, train_vecs, vecs, config.leak_threshold)
        info: dict[str, Any] = {**leaks.counts(), "examples": [vars(x) for x in leaks.items[:config.examples]]}
        if task.name in entries and leaks.ids and len(leaks.ids) < before.n - 1:
            keep = np.array([i not in leaks.ids for i in before.item_ids])
            clean = {}
            for name in tested[task.name]:
                test = paired_test(task, name, before, after, config, config.seed + 7, keep)
                clean[name] = {"before": test.before, "after": test.after, "delta": test.delta,
                               "ci_low": test.ci_low, "ci_high": test.ci_high, "p_value": test.p_value}
            info["without_leaked"] = {"n": int(keep.sum()), "metrics": clean}
            entries[task.name]["leakage"] = {k: v for k, v in info.items() if k != "examples"}
        out["tasks"][task.name] = info
    return out
