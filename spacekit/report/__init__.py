"""Renderers of a typed Comparison: report.json (Comparison.to_json), report.md, a self-contained index.html,
plots, each observed section's files (judging sheets), MTEB result files, and the terminal summary."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from spacekit.compare import Comparison
from spacekit.files import atomic_write
from spacekit.tasks.sections import ObservedSection

DEFAULT_LANGUAGES = ("eng-Latn",)   # MTEB's code for the data's languages, unless told


def write_outputs(comparison: Comparison, out_dir: str | Path, *, mteb_out: str | Path | None = None,
                  languages: list[str] | None = None, overwrite: bool = False) -> tuple[Comparison, dict[str, Path]]:
    """Write report.json, report.md, index.html, the plot PNGs and each observed section's files into out_dir
    (written into a staging folder, then moved in together: report.folder.report_files), and with mteb_out the
    MTEB result files of both models; returns the comparison with its plots named (what report.json holds) and
    {name: path} of every file written."""
    from spacekit.progress import stage
    from spacekit.report.folder import claim_report_folder, report_files
    from spacekit.report.html import render_html
    from spacekit.report.markdown import render_markdown
    from spacekit.report.plots import make_plots

    out = claim_report_folder(out_dir, overwrite)                # a folder spacekit did not write: refused
    with report_files(out) as staging:                             # moved in together once all are written
        with stage("report: plots and pages"):
            plots = make_plots(comparison, staging)
        comparison = comparison.with_plots({name: path.name for name, path in plots.items()})
        pages = {"json": ("report.json", json.dumps(comparison.to_json(), indent=1, allow_nan=False)),
                 "markdown": ("report.md", render_markdown(comparison)),
                 "html": ("index.html", render_html(comparison, plots))}
        for name, text in pages.values():
            atomic_write(staging / name, text)
        staged = {**{key: staging / name for key, (name, _) in pages.items()}, **plots,
                  **write_section_files(comparison.sections(), out, staging),
                  **write_hole_sheets(comparison, out, staging)}
    written = {key: out / path.name for key, path in staged.items()}
    if mteb_out is not None:
        from spacekit.report.mteb import write_mteb_files

        written.update({f"mteb:{p.parent.parent.name}/{p.stem}": p
                        for p in write_mteb_files(comparison, mteb_out, languages or list(DEFAULT_LANGUAGES))})
    return comparison, written


def write_section_files(sections: Iterable[ObservedSection], out: Path, into: Path | None = None) -> dict[str, Path]:
    """Each observed section's tables as CSV beside the pages (a judging sheet: query, document, which model showed
    it, an empty label column); a cell that starts like a formula is kept as text, and labels a person already
    filled into the sheet are carried over (report.folder.write_sheet), never lost. into: the folder they are
    written in (the report's staging folder; default: out)."""
    from spacekit.report.folder import write_sheet

    written = {}
    for section in sections:
        for file_name, rows in section.files().items():
            written[f"sheet:{section.name}"] = write_sheet(out / file_name, [dict(r) for r in rows], into=into)
    return written


def write_hole_sheets(comparison: Comparison, out: Path, into: Path | None = None) -> dict[str, Path]:
    """Each undecidable task's judging sheet of the unjudged documents that would decide it (compare.holes), labels
    already filled in carried over like any judging sheet."""
    from spacekit.report.folder import write_sheet

    written = {}
    for t in comparison.tasks:
        holes = t.diagnosis.holes if t.diagnosis is not None else None
        if holes is not None and holes.sheet:
            written[f"sheet:{t.name}:holes"] = write_sheet(out / holes.sheet, [dict(r) for r in holes.sheet_rows],
                                                           into=into)
    return written

