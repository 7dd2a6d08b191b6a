"""MTEB result files of a comparison (--mteb-out): one file per task per model, for the kinds MTEB scores, and
beside the after model's files its lineage (LINEAGE_FILE): what it was adapted from and the paired verdict, in a
file MTEB's loader does not read (it reads model_meta.json and the task files, *.json)."""

from __future__ import annotations

from pathlib import Path

from spacekit.compare import Comparison
from spacekit.files import atomic_write
from spacekit.io.mteb_results import model_folder, write_mteb_result
from spacekit.tasks import task_class

LINEAGE_FILE = "spacekit_lineage.jsonl"   # one JSON line; not *.json, so MTEB's result loader passes it by


def write_mteb_files(comparison: Comparison, folder: str | Path, languages: list[str]) -> list[Path]:
    """DIR/<model>/no_revision_available/<task>.json for both models; when both would share a folder (the same model
    under two prompt settings), each gets its own (__before, __after); and the after model's LINEAGE_FILE."""
    written: list[Path] = []
    for run in comparison.runs:
        form = task_class(run.kind).mteb
        if form is None:
            continue
        same = model_folder(run.before.model) == model_folder(run.after.model)
        for which, result in (("before", run.before), ("after", run.after)):
            written.append(write_mteb_result(Path(folder), result.model, run.mteb_name, form, result.metrics,
                                             split=getattr(result, "split", None) or "test", seconds=result.seconds,
                                             languages=languages, model_suffix=f"__{which}" if same else ""))
    same = model_folder(comparison.before) == model_folder(comparison.after)
    after_dir = Path(folder) / (model_folder(comparison.after) + ("__after" if same else "")) / "no_revision_available"
    after_dir.mkdir(parents=True, exist_ok=True)
    written.append(write_lineage(comparison, after_dir / LINEAGE_FILE))
    return written


def lineage(comparison: Comparison) -> dict:
    """The after model's lineage: the model it was adapted from (name and weights' fingerprint) and, per tested task,
    the main metric's paired change with its interval and verdict as the report judged them."""
    fingerprints = comparison.provenance.fingerprints if comparison.provenance is not None else {}
    mteb_names = {run.name: run.mteb_name for run in comparison.runs}
    return {"model": comparison.after, "adapted_from": comparison.before,
            "adapted_from_fingerprint": fingerprints.get("before"), "model_fingerprint": fingerprints.get("after"),
            "verdict": comparison.verdict, "alpha": comparison.alpha, "correction": comparison.correction,
            "spacekit_version": comparison.spacekit_version, "created": comparison.created,
            "tasks": [{"task": row.task, "mteb_task": mteb_names.get(row.task), "metric": row.metric,
                       "basis": row.basis, "delta": _number(row.delta), "ci_low": _number(row.ci_low),
                       "ci_high": _number(row.ci_high), "verdict": row.verdict} for row in comparison.headline.rows]}


def _number(x: float) -> float | None:
    """x, None when it is not finite (a task with no item left to test)."""
    import math

    return x if math.isfinite(x) else None


def write_lineage(comparison: Comparison, path: Path) -> Path:
    """LINEAGE_FILE at path (one JSON line)."""
    import json

    atomic_write(path, json.dumps(lineage(comparison), allow_nan=False) + "\n")
    return path
