"""The reproducibility check: the before model's numbers beside published MTEB result files (--reference)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spacekit.compare.suite import TaskSpec, located
from spacekit.io.mteb_results import REFERENCE_TOLERANCE, find_reference, read_reference, reference_rows
from spacekit.tasks import Task, TaskResult


@dataclass(frozen=True)
class ReferenceCheck:
    """One metric: spacekit's before value, the reference's, the difference, and whether it exceeds the
    tolerance."""

    metric: str
    spacekit: float
    reference: float
    difference: float
    flagged: bool


@dataclass(frozen=True)
class ReferenceTask:
    """One task's MTEB file and each metric both have."""

    task: str
    mteb_task: str
    file: str
    rows: tuple[ReferenceCheck, ...]


@dataclass(frozen=True)
class Reference:
    """The before model's numbers beside published MTEB result files: the tolerance, each task, how many differ."""

    tolerance: float
    tasks: tuple[ReferenceTask, ...]
    flagged: int


def reference_files(folder: str | Path, planned: list[tuple[TaskSpec, Task]]) -> dict[str, tuple[Path, dict]]:
    """{suite task name: (MTEB file, its scores for the task's split)} for every task of a kind MTEB scores; read
    before anything is encoded, so a missing file is one line up front."""
    found = read_reference(folder)
    out = {}
    for spec, task in planned:
        if type(task).mteb is not None:
            with located(f"task {spec.name}"):
                out[spec.name] = find_reference(found, spec.mteb_name, getattr(task, "split", "test"))
    return out


def reference_section(reference: dict[str, tuple[Path, dict]], planned: list[tuple[TaskSpec, Task]],
                      results: dict[str, tuple[TaskResult, TaskResult]]) -> Reference:
    """Per task: the file, and each metric both have: spacekit's before value, the reference, the difference and
    whether it exceeds the tolerance."""
    tasks: list[ReferenceTask] = []
    for spec, task in planned:
        form = type(task).mteb
        if spec.name not in reference or form is None:
            continue
        path, scores = reference[spec.name]
        rows = reference_rows(form, results[spec.name][0].metrics, scores)
        tasks.append(ReferenceTask(spec.name, spec.mteb_name, str(path), tuple(
            ReferenceCheck(r.metric, r.ours, r.reference, r.difference, r.flagged) for r in rows)))
    return Reference(REFERENCE_TOLERANCE, tuple(tasks), sum(r.flagged for t in tasks for r in t.rows))
