"""Suites: a TOML list of tasks (kind, data, split, tag, metrics, prompts) that `compare` runs for both models, and
optional [before] / [after] tables of prompts for one model."""

from __future__ import annotations

import contextlib
import math
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from spacekit.embed.prompts import PROMPT_KEYS, PromptChoice
from spacekit.errors import InputError
from spacekit.files import safe_file_name
from spacekit.practical import is_margin
from spacekit.tasks import Task, task_class

if TYPE_CHECKING:
    from spacekit.ab.replay import Replay

TAGS = ("in-domain", "holdout")
RESERVED = {"name", "kind", "tag", "metrics", "min_effect", "mteb_task", "threshold", *PROMPT_KEYS}
MODELS = ("before", "after")


@dataclass(frozen=True)
class TaskSpec:
    """One suite entry: what to run and how to judge it."""

    name: str
    kind: str
    tag: str
    metrics: list[str]
    options: dict = field(default_factory=dict)
    prompts: tuple[PromptChoice, PromptChoice] = (PromptChoice(), PromptChoice())  # (before, after) models
    min_effect: dict[str, float] = field(default_factory=dict)  # this task's margins (over --min-effect's)
    mteb_task: str | None = None    # the MTEB task it is (--mteb-out file names, --reference lookups)
    threshold: float | None = None  # the similarity cut-off used with the before model (over --threshold)

    @property
    def mteb_name(self) -> str:
        """The task's name in MTEB result files: mteb_task, else the suite name."""
        return self.mteb_task or self.name

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
        doc = tomllib.loads(path.read_text(encoding="utf-8-sig"))                # a BOM is skipped
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid TOML ({e})") from None
    entries = doc.get("task")
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{path}: no [[task]] tables")
    unknown = sorted(set(doc) - {"task", *MODELS})
    if unknown:
        raise InputError(f"{path}: unknown table {unknown[0]!r} (a suite has [[task]], [before] and [after])")
    per_model = tuple(_prompts(f"{path}: [{m}]", doc.get(m, {})) for m in MODELS)
    specs = [_spec(path, i, entry, per_model) for i, entry in enumerate(entries, start=1)]
    names = [s.name for s in specs]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise InputError(f"{path}: task name {dup!r} is used twice (names must be unique)")
    clash = file_name_clash([(name, name) for name in names])
    if clash:
        raise InputError(f"{path}: task names {clash[0]!r} and {clash[1]!r} would write the same files "
                         f"({safe_file_name(clash[0])!r} in file names); rename one")
    return specs


def file_name_clash(named: list[tuple[str, str]]) -> tuple[str, str] | None:
    """(label, name) pairs -> the labels of the first two whose names give one file name (files.safe_file_name
    folds them together, or they are equal), if any."""
    seen: dict[str, str] = {}
    for label, name in named:
        other = seen.setdefault(safe_file_name(name), label)
        if other != label:
            return other, label
    return None


def _prompts(where: str, table: object) -> PromptChoice:
    """The prompt keys of a table (prompt, prompt_name, query_prompt, ...), each a string; no other key."""
    if not isinstance(table, dict):
        raise InputError(f"{where}: expected a table")
    for key, value in table.items():
        if key not in PROMPT_KEYS:
            raise InputError(f"{where}: unknown key {key!r} (prompt keys: {', '.join(PROMPT_KEYS)})")
        if not isinstance(value, str):
            raise InputError(f"{where}: {key} must be a string, got {value!r}")
    with located(where):
        return PromptChoice.from_options(table)


def _spec(path: Path, i: int, entry: dict, per_model: tuple[PromptChoice, ...] = ()) -> TaskSpec:
    where = f"{path}: task {i}"
    if not isinstance(entry, dict):
        raise InputError(f"{where}: expected a table")
    if "kind" not in entry:
        raise InputError(f"{where}: missing 'kind'")
    with located(where):
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
    with located(where):
        for m in metrics:
            cls.metric_spec(m)
    with located(where):
        options = cls.flat_options({k: v for k, v in entry.items() if k not in RESERVED})
    for key, value in options.items():
        want = cls.options.get(key)
        if want is None:
            raise InputError(f"{where}: unknown key {key!r} for {cls.kind} (it takes "
                             f"{', '.join([*sorted(RESERVED), *cls.options])})")
        if not isinstance(value, (int, float) if want is float else want) or isinstance(value, bool):
            kind = {int: "an integer", str: "a string", list: "a list"}.get(want, want.__name__)
            raise InputError(f"{where}: {key} must be {kind}, got {value!r}")
    task_prompts = _prompts(where, {k: v for k, v in entry.items() if k in PROMPT_KEYS})
    prompts = tuple(task_prompts.over(m) for m in per_model or (PromptChoice(), PromptChoice()))
    for key in cls.required:
        if key not in options:
            raise InputError(f"{where}: missing {key!r}")
    for key in cls.paths:
        if key in options and options[key] != "builtin" and not str(options[key]).startswith(("builtin:", "store:")):
            options[key] = str((path.parent / str(options[key])).resolve())
    mteb_task = entry.get("mteb_task")
    if mteb_task is not None and (not isinstance(mteb_task, str) or not mteb_task.strip()):
        raise InputError(f"{where}: mteb_task must be a task name, got {mteb_task!r}")
    spec = TaskSpec(name, cls.kind, tag, metrics, options, (prompts[0], prompts[1]),
                    _min_effect(where, entry.get("min_effect", {})), mteb_task, _threshold(where, cls, entry))
    with located(where):
        return with_derived_metrics(spec)


def with_derived_metrics(spec: TaskSpec) -> TaskSpec:
    """The spec with its task's settings checked (an InputError) and its metrics as the task scores them: the main
    metric the first one stands for first (a hybrid search's: the fused run's; a reranked one's: the reranked
    run's), then the variants it also scores."""
    task = spec.build()
    metrics = spec.metrics
    main = task.main_metric(metrics[0]) if metrics else None
    if main is not None and main != metrics[0]:
        metrics = [main, *[m for m in metrics if m != main]]
    extra = [m for m in (task.variant_metrics(metrics[0]) if metrics else []) if m not in metrics]
    return replace(spec, metrics=metrics + extra)


def _threshold(where: str, cls: type[Task], entry: dict) -> float | None:
    """threshold = 0.65: a finite number, on a kind with scored pairs."""
    if "threshold" not in entry:
        return None
    value = entry["threshold"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{where}: threshold must be a number (a similarity cut-off), got {value!r}")
    if not cls.scored_pairs:
        raise InputError(f"{where}: threshold applies to tasks with scored pairs (sts, pair_classification, "
                         f"retrieval), not {cls.kind}")
    return float(value)


def _min_effect(where: str, value: object) -> dict[str, float]:
    """min_effect = 0.02 (every metric of the task) or a table {metric = margin}, margins >= 0."""
    table = value if isinstance(value, dict) else {"*": value}
    out = {}
    for metric, margin in table.items():
        if not is_margin(margin):
            raise InputError(f"{where}: min_effect {metric}: the margin must be a number >= 0, got {margin!r}")
        out[str(metric).lower()] = float(margin)
    return out


@contextlib.contextmanager
def located(where: str) -> Iterator[None]:
    """An InputError raised inside, prefixed with the suite file and task it comes from."""
    try:
        yield
    except InputError as e:
        raise InputError(f"{where}: {e}") from None


def replay_spec(replay: Replay) -> TaskSpec:
    """The suite entry of a replayed log (spacekit.ab.replay): a retrieval task named "replay", in-domain."""
    return TaskSpec("replay", "retrieval", "in-domain", list(replay.metrics), replay.task_options())
