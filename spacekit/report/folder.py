"""The report folder as spacekit's own artifact, as a store is: a marker file says spacekit wrote it, and `compare`,
`demo`, `ab replay` and `ab analyze / interleaved -o` refuse a folder that holds other files without the marker
(unless --overwrite), so a user's own index.html, report.md or report.json is never replaced. A folder an earlier
spacekit wrote (report.json with a verdict beside index.html, no marker yet) counts as spacekit's.

Filled-in judging sheets are merged, never replaced: a label given to a (query, document) pair is carried into the
new sheet, and a labelled row the new run no longer lists is kept at its end.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
from pathlib import Path

from spacekit.errors import InputError
from spacekit.escape import spreadsheet_cell
from spacekit.files import atomic_write
from spacekit.version import __version__

MARKER = ".spacekit-report"
log = logging.getLogger("spacekit")


def check_report_folder(out: str | Path, overwrite: bool = False) -> Path:
    """An InputError unless out is new, empty or spacekit's report folder (or overwrite); nothing is created, so a
    run refused later for another reason leaves no folder behind."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: not a folder (-o names the report folder)")
    if out.is_dir() and not overwrite and not _ours(out):
        held = sorted(p.name for p in out.iterdir())
        shown = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
        raise InputError(f"{out}: a folder spacekit did not write (it holds {shown}); give -o a new or empty folder, "
                         f"or pass --overwrite to write the report files into it")
    return out


def claim_report_folder(out: str | Path, overwrite: bool = False) -> Path:
    """check_report_folder, then create the folder and mark it as spacekit's (a killed writer's old temp files
    removed): call it when the report's files are about to be written."""
    out = check_report_folder(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    _remove_dead_temp_files(out)
    if not (out / MARKER).exists():
        atomic_write(out / MARKER, json.dumps({"written_by": "spacekit", "version": __version__}) + "\n")
    return out


DEAD_AFTER_S = 3600       # a report's temp file this old is a killed writer's (writing one takes seconds)


def _remove_dead_temp_files(folder: Path) -> None:
    """Temp files of report writers that were killed (files.atomic_open's `.NAME.XXXX.tmp`, older than an hour)."""
    import time

    for path in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink() and time.time() - path.stat().st_mtime > DEAD_AFTER_S:
                path.unlink()


def _ours(folder: Path) -> bool:
    """Empty, marked, or a report an earlier spacekit wrote before the marker existed."""
    if not any(folder.iterdir()) or (folder / MARKER).is_file():
        return True
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(report, dict) and "verdict" in report and (folder / "index.html").is_file()


def write_sheet(path: Path, rows: list[dict], key: tuple[str, ...] = ("query_id", "doc_id"),
                label: str = "label") -> Path:
    """Write a judging sheet (rows: dicts with the same columns, label empty) as CSV, carrying over every label a
    person filled into the sheet already at path (matched by key); a labelled row the new rows lack is kept at the
    end (the count said on stderr). A sheet that cannot be read is left as it is and the new one is written beside
    it (NAME.new.csv). -> the path written."""
    cells = [{k: spreadsheet_cell(v) for k, v in row.items()} for row in rows]    # as the sheet holds them
    kept: list[dict] = []
    if path.exists():
        try:
            with open(path, encoding="utf-8-sig", newline="") as f:
                old = list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            log.warning("%s: could not be read (%s); the new sheet is %s", path, e, path.with_suffix(".new.csv"))
            path, old = path.with_suffix(".new.csv"), []
        labelled = {tuple(r.get(k) or "" for k in key): r for r in old if (r.get(label) or "").strip()}
        if labelled:
            listed = set()
            for row in cells:
                pair = tuple(row.get(k, "") for k in key)
                listed.add(pair)
                if pair in labelled:
                    row[label] = labelled[pair][label]             # as the person left it
            kept = [r for pair, r in labelled.items() if pair not in listed]
            log.warning("%s: %d filled-in labels carried into the new sheet%s", path, len(labelled),
                        f" ({len(kept)} for rows this run no longer lists, kept at its end)" if kept else "")
    columns = list(cells[0]) if cells else (list(kept[0]) if kept else [])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(cells)
    writer.writerows(kept)
    atomic_write(path, buffer.getvalue())
    return path
