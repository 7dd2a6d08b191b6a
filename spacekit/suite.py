"""Suites: a TOML list of tasks (kind, data, split, tag, metrics) that `compare` runs for both models."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from spacekit.errors import InputError
from spacekit.metrics.retrieval import parse_metric

KINDS = ("retrieval", "sts", "classification", "clustering", "probes", "geometry")
TAGS = ("in-domain", "holdout")
# Metrics that compare can test per kind (the first is the default main metric).
TESTABLE = {"sts": ["spearman", "pearson"], "classification": ["accuracy"], "clustering": ["v_measure", "nmi", "ari"]}
DEFAULT_METRICS = {"retrieval": ["ndcg@10", "recall@100", "mrr@10"], "sts": ["spearman", "pearson"],
                   "classification": ["accuracy"], "clustering": ["v_measure", "ari"], "probes": [], "geometry": []}


@dataclass(frozen=True)
class TaskSpec:
    """One suite entry: what to run and how to judge it."""

    name: str
    kind: str
    tag: str
    metrics: list[str]
    options: dict = field(default_factory=dict)

    @property
    def main_metric(self) -> str | None:
        return self.metrics[0] if self.metrics else None

    def build(self):
        """The task object (spacekit.tasks) for this spec."""
        from spacekit import tasks

        o = self.options
        if self.kind == "retrieval":
            names = sorted(set(self.metrics) | {"ndcg@10", "recall@100", "mrr@10"})
            return tasks.RetrievalTask(o["data"], o.get("split", "test"), names, name=self.name,
                                       backend=o.get("backend", "spacekit"))
        if self.kind == "sts":
            return tasks.StsTask(o["data"], name=self.name)
        if self.kind == "classification":
            return tasks.ClassificationTask(o["train"], o["test"], o.get("protocol", "mteb"),
                                            o.get("text_field", "text"), o.get("label_field"), name=self.name)
        if self.kind == "clustering":
            return tasks.ClusteringTask(o["data"], o.get("text_field", "text"), o.get("label_field"),
                                        int(o.get("seed", 42)), name=self.name)
        if self.kind == "probes":
            return tasks.ProbesTask(o.get("data", "builtin"), name=self.name)
        return tasks.GeometryTask(o["data"], o.get("pairs"), o.get("text_field", "text"), name=self.name)


def read_suite(path: str | Path) -> list[TaskSpec]:
    """Parse a suite file; relative data paths are relative to the suite file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such suite file")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid TOML ({e})") from None
    entries = doc.get("task")
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{path}: no [[task]] tables")
    specs = [_spec(path, i, entry) for i, entry in enumerate(entries, start=1)]
    names = [s.name for s in specs]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise InputError(f"{path}: task name {dup!r} is used twice (names must be unique)")
    return specs


def _spec(path: Path, i: int, entry: dict) -> TaskSpec:
    where = f"{path}: task {i}"
    if not isinstance(entry, dict):
        raise InputError(f"{where}: expected a table")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise InputError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    name = str(entry.get("name") or f"{kind}-{i}")
    tag = entry.get("tag", "in-domain")
    if tag not in TAGS:
        raise InputError(f"{where} ({name}): tag must be in-domain or holdout, got {tag!r}")
    metrics = entry.get("metrics", DEFAULT_METRICS[kind])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise InputError(f"{where} ({name}): metrics must be a list of names")
    metrics = [m.lower() for m in metrics]
    for m in metrics:
        if kind == "retrieval":
            parse_metric(m)
        elif m not in TESTABLE.get(kind, []):
            raise InputError(f"{where} ({name}): metric {m!r} cannot be compared for {kind} "
                             f"(use {', '.join(TESTABLE.get(kind, [])) or 'none'})")
    options = {k: v for k, v in entry.items() if k not in {"name", "kind", "tag", "metrics"}}
    needs = ["train", "test"] if kind == "classification" else ([] if kind == "probes" else ["data"])
    for key in needs:
        if key not in options:
            raise InputError(f"{where} ({name}): missing {key!r}")
    for key in ("data", "train", "test", "pairs"):
        if key in options and options[key] != "builtin":
            options[key] = str((path.parent / str(options[key])).resolve())
    return TaskSpec(name, kind, tag, metrics, options)
