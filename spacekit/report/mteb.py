"""MTEB result files of a comparison (--mteb-out): one file per task per model, for the kinds MTEB scores."""

from __future__ import annotations

from pathlib import Path

from spacekit.compare import Comparison
from spacekit.io.mteb_results import model_folder, write_mteb_result
from spacekit.tasks import task_class


def write_mteb_files(comparison: Comparison, folder: str | Path, languages: list[str]) -> list[Path]:
    """DIR/<model>/no_revision_available/<task>.json for both models; when both would share a folder (the same model
    under two prompt settings), each gets its own (__before, __after)."""
    written = []
    for run in comparison.runs:
        form = task_class(run.kind).mteb
        if form is None:
            continue
        same = model_folder(run.before.model) == model_folder(run.after.model)
        for which, result in (("before", run.before), ("after", run.after)):
            written.append(write_mteb_result(Path(folder), result.model, run.mteb_name, form, result.metrics,
                                             split=getattr(result, "split", None) or "test", seconds=result.seconds,
                                             languages=languages, model_suffix=f"__{which}" if same else ""))
    return written
