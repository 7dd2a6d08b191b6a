"""The reproducibility check: the before model's numbers beside published MTEB result files (--reference)."""

from __future__ import annotations

from pathlib import Path

from spacekit.compare.suite import TaskSpec, located
from spacekit.io.mteb_results import REFERENCE_TOLERANCE, find_reference, read_reference, reference_rows
from spacekit.tasks import Task, TaskResult


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
                      results: dict[str, tuple[TaskResult, TaskResult]]) -> dict:
    """Per task: the file, and each metric both have: spacekit's before value, the reference, the difference and
    whether it exceeds the tolerance."""
    tasks: list[dict] = []
    for spec, task in planned:
        form = type(task).mteb
        if spec.name not in reference or form is None:
            continue
        path, scores = reference[spec.name]
        rows = reference_rows(form, results[spec.name][0].metrics, scores)
        tasks.append({"task": spec.name, "mteb_task": spec.mteb_name, "file": str(path),
                      "rows": [{"metric": r.metric, "spacekit": r.ours, "reference": r.reference,
                                "difference": r.difference, "flagged": r.flagged} for r in rows]})
    flagged = sum(r["flagged"] for t in tasks for r in t["rows"])
    return {"tolerance": REFERENCE_TOLERANCE, "tasks": tasks, "flagged": flagged}
