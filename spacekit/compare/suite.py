"""Suites: a TOML list of tasks (kind, data, split, tag, metrics) that `compare` runs for both models."""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from spacekit.errors import InputError
from spacekit.tasks import Task, task_class

TAGS = ("in-domain", "holdout")
RESERVED = {"name", "kind", "tag", "metrics"}


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
        """The first metric: the one the task's verdict rests on."""
        return self.metrics[0] if self.metrics else None

    def build(self) -> Task:
        """The task object this spec describes."""
        return task_class(self.kind).from_suite(self.name, self.metrics, self.options)


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
    if "kind" not in entry:
        raise InputError(f"{where}: missing 'kind'")
    with _located(where):
        cls = task_class(str(entry["kind"]))
    name = str(entry.get("name") or f"{cls.kind}-{i}")
    where = f"{where} ({name})"
    tag = entry.get("tag", "in-domain")
    if tag not in TAGS:
        raise InputError(f"{where}: tag must be in-domain or holdout, got {tag!r}")
    metrics = entry.get("metrics", list(cls.default_metrics))
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise InputError(f"{where}: metrics must be a list of names")
    metrics = [m.lower() for m in metrics]
    if cls.default_metrics and not metrics:
        raise InputError(f"{where}: metrics must name at least one metric (the first is the main metric)")
    with _located(where):
        for m in metrics:
            cls.metric_spec(m)
    options = {k: v for k, v in entry.items() if k not in RESERVED}
    for key, value in options.items():
        want = cls.options.get(key)
        if want is None:
            raise InputError(f"{where}: unknown key {key!r} for {cls.kind} (it takes "
                             f"{', '.join([*sorted(RESERVED), *cls.options])})")
        if not isinstance(value, want) or isinstance(value, bool):
            raise InputError(f"{where}: {key} must be {'an integer' if want is int else 'a string'}, got {value!r}")
    for key in cls.required:
        if key not in options:
            raise InputError(f"{where}: missing {key!r}")
    for key in cls.paths:
        if key in options and options[key] != "builtin":
            options[key] = str((path.parent / str(options[key])).resolve())
    spec = TaskSpec(name, cls.kind, tag, metrics, options)
    with _located(where):
        spec.build()                                                      # its settings checked now
    return spec


@contextlib.contextmanager
def _located(where: str) -> Iterator[None]:
    """An InputError raised inside, prefixed with the suite file and task it comes from."""
    try:
        yield
    except InputError as e:
        raise InputError(f"{where}: {e}") from None
