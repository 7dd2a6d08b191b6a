"""Reports of a comparison: report.json, report.md, a self-contained index.html, plots, a terminal summary."""

from __future__ import annotations

import json
from pathlib import Path

from spacekit.compare import Comparison
from spacekit.files import atomic_write, safe_file_name
from spacekit.report.escape import spreadsheet_cell
from spacekit.report.format import json_ready


def write_report(comparison: Comparison, out_dir: str | Path) -> dict[str, Path]:
    """Write report.json, report.md, index.html and the plot PNGs into out_dir (files replaced atomically)."""
    from spacekit.embed.progress import stage
    from spacekit.report.html import render_html
    from spacekit.report.markdown import render_markdown
    from spacekit.report.plots import make_plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with stage("report: plots and pages"):
        plots = make_plots(comparison, out)
    comparison.report["plots"] = {name: path.name for name, path in plots.items()}
    sheets = _judging_sheets(comparison.report, out)
    files = {"json": out / "report.json", "markdown": out / "report.md", "html": out / "index.html"}
    comparison.report = json_ready(comparison.report)                     # undefined values as null, everywhere
    atomic_write(files["json"], json.dumps(comparison.report, indent=1, allow_nan=False))
    atomic_write(files["markdown"], render_markdown(comparison.report))
    atomic_write(files["html"], render_html(comparison.report, plots))
    return {**files, **plots, **sheets}


def _judging_sheets(report: dict, out: Path) -> dict[str, Path]:
    """Each queries section's judging sheet as judging-<task>.csv (query, document, which model showed it, an empty
    label column; a cell starting like a formula is kept as text); report.json keeps the file's name in its place."""
    import csv
    import io

    written = {}
    for section in report.get("queries") or []:
        rows = section.get("sheet")
        if not isinstance(rows, list):
            continue
        path = out / f"judging-{safe_file_name(section['name'])}.csv"
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, ["query_id", "query", "doc_id", "document", "shown_by", "label"])
        writer.writeheader()
        writer.writerows({k: spreadsheet_cell(v) for k, v in row.items()} for row in rows)
        atomic_write(path, buffer.getvalue())
        section["sheet"] = path.name
        written[f"sheet:{section['name']}"] = path
    return written
