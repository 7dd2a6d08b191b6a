"""The report folder as spacekit's own artifact, as a store is: a marker file says spacekit wrote it, and `compare`,
`demo`, `ab replay` and `ab analyze / interleaved -o` refuse a folder that holds other files without the marker
(unless --overwrite), so a user's own index.html, report.md or report.json is never replaced. A folder an earlier
spacekit wrote (report.json with a verdict beside index.html, no marker yet) counts as spacekit's.

The report's files change together: each run writes them into a staging folder inside the report folder
(`.incoming-PID-*`), then moves them in, the marker saying which set is in place and whether the moves completed
(a run killed between two moves leaves the marker saying so; the next run says it and replaces the set). Files an
earlier run wrote that this one does not (a plot with no data now) are removed; judging sheets are kept.

Filled-in judging sheets are merged, never replaced: a label given to a (query, document) pair is carried into the
new sheet, and a labelled row the new run no longer lists is kept at its end.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
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
    """check_report_folder, then create the folder and mark it as spacekit's (a killed writer's temp files and
    staging folders removed): call it when the report's files are about to be written."""
    out = check_report_folder(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    _remove_dead_temp_files(out)
    marker = _read_marker(out)
    if marker.get("complete") is False:
        log.warning("%s: the last report written here was interrupted while its files were moved in (some are "
                    "from the run before it); this run replaces them", out)
    if not (out / MARKER).exists():
        _write_marker(out, {"complete": True, "files": []})
    return out


@contextlib.contextmanager
def report_files(out: Path) -> Iterator[Path]:
    """A staging folder inside the report folder `out` (claimed): write every file of the report into it. When the
    block ends without an error the files are moved into `out` together, the marker first saying the set is being
    moved in, then that it is complete; plots an earlier run listed that this one did not write are removed. On an
    error nothing in `out` changes. The staging folder is removed either way."""
    stage = Path(tempfile.mkdtemp(prefix=f".incoming-{os.getpid()}-", dir=out))
    try:
        yield stage
        names = sorted(p.name for p in stage.iterdir())
        marker = _read_marker(out)
        before = [*marker.get("files", []), *marker.get("previous", [])]       # a mixed set: both runs' files
        _write_marker(out, {"complete": False, "files": names, "previous": before})
        for name in names:
            os.replace(stage / name, out / name)
        for name in before:
            if name not in names and name.endswith(".png") and "/" not in name and not name.startswith("."):
                with contextlib.suppress(OSError):
                    (out / name).unlink()
        _write_marker(out, {"complete": True, "files": names})
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _read_marker(out: Path) -> dict:
    """The marker's object ({} when absent or unreadable: an old marker held only who wrote the folder)."""
    try:
        marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    lists = isinstance(marker, dict) and all(isinstance(marker.get(k, []), list) and
                                             all(isinstance(n, str) for n in marker.get(k, []))
                                             for k in ("files", "previous"))
    return marker if lists else {}


def _write_marker(out: Path, state: dict) -> None:
    atomic_write(out / MARKER, json.dumps({"written_by": "spacekit", "version": __version__, **state}) + "\n")


DEAD_AFTER_S = 3600       # a report's temp file this old is a killed writer's (writing one takes seconds)


def _remove_dead_temp_files(folder: Path) -> None:
    """Temp files of report writers that were killed (files.atomic_open's `.NAME.XXXX.tmp`, older than an hour) and
    staging folders whose process is gone (or older than an hour: its PID may be another process's now)."""
    for path in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink() and time.time() - path.stat().st_mtime > DEAD_AFTER_S:
                path.unlink()
    for path in folder.glob(".incoming-*"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(path.name.split("-")[1])
            if path.is_dir() and not path.is_symlink() and (not _alive(pid) or
                                                            time.time() - path.stat().st_mtime > DEAD_AFTER_S):
                shutil.rmtree(path)


def _alive(pid: int) -> bool:
    """Whether a process with this PID exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
                label: str = "label", into: Path | None = None) -> Path:
    """Write a judging sheet (rows: dicts with the same columns, label empty) as CSV, carrying over every label a
    person filled into the sheet already at path (matched by key); a labelled row the new rows lack is kept at the
    end (the count said on stderr). A sheet that cannot be read is left as it is and the new one is written beside
    it (NAME.new.csv). into: the folder to write it in (the report's staging folder; default: path's). -> the path
    written."""
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
    written = (into or path.parent) / path.name
    atomic_write(written, buffer.getvalue())
    return written
