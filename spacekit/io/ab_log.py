"""Search logs for online evidence (A/B tests, interleaving), one row per search impression, JSONL or Parquet:

  request_id  unique per impression            unit_id   the randomisation unit (user or session)
  arm         one of two arm names             ts        when (number or ISO text; optional)
  query       the query text (and/or query_id)  shown     the document ids shown, in displayed order
  clicks      the clicked ids, in click order  dwell_s   seconds per click (optional)
  team        per shown position "a" or "b" (interleaved logs)

A per-unit table (unit_id and a numeric pre-period column) may come beside it for variance reduction. Every
problem is one InputError naming file:line. Here: the row checks, and interleaved / replayed logs as lists; an A/B
log streams into compact columns (io.ab_columns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spacekit.errors import InputError
from spacekit.io.tables import field as table_field
from spacekit.io.tables import read_rows


@dataclass
class Impressions:
    """An interleaved or replayed log as lists: per impression its unit, query, shown list, clicks, team labels
    (interleaved) and line. (A/B logs are read into compact columns: io.ab_columns.AbLog.)"""

    path: str
    request_ids: list[str]
    units: list[str]
    queries: list[str]
    shown: list[list[str]]
    clicks: list[list[str]]
    teams: list[list[str]] | None = None
    lines: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.request_ids)


def read_log(path: str | Path, *, interleaved: bool = False, replay: bool = False) -> Impressions:
    """Read and check an interleaved (or, replay, any) log file (JSONL or Parquet; see parse_log)."""
    return parse_log(read_rows(Path(path)), Path(path), interleaved=interleaved, replay=replay)


def parse_log(numbered_rows, path: Path, *, interleaved: bool = False, replay: bool = False) -> Impressions:
    """Check (line, row) pairs as an interleaved log (a team per shown position) or a log to replay (the arms do
    not matter, but every row needs the query's text): the required fields, clicks among the shown ids, unique
    request ids."""
    rows: list[tuple] = []
    seen: dict[str, int] = {}
    for lineno, row in numbered_rows:
        request, shown, clicks = checked_row(path, lineno, row, interleaved=interleaved, replay=replay)
        if request in seen:
            raise InputError(f"{path}:{lineno}: duplicate request_id {request!r} (first at line {seen[request]})")
        seen[request] = lineno
        rows.append((lineno, row, request, shown, clicks))
    if not rows:
        raise InputError(f"{path}: no impressions")
    out = Impressions(str(path), [r[2] for r in rows], [table_field(path, r[0], r[1], "unit_id") for r in rows],
                      [str(r[1].get("query", r[1].get("query_id"))) for r in rows], [r[3] for r in rows],
                      [r[4] for r in rows], lines=[r[0] for r in rows])
    if interleaved:
        out.teams = [_teams(f"{path}:{lineno}", row, shown) for lineno, row, _, shown, _ in rows]
    return out


def checked_row(path: Path, lineno: int, row: dict, *, interleaved: bool = False,
                replay: bool = False) -> tuple[str, list[str], list[str]]:
    """One row's required fields checked -> (request_id, shown ids, clicked ids); clicks must be among the shown ids,
    each shown once."""
    where = f"{path}:{lineno}"
    needed = ("request_id", "unit_id", "shown", "clicks", *(("team",) if interleaved else ()),
              *(("arm",) if not (interleaved or replay) else ()), *(("query",) if replay else ()))
    for name in needed:
        if name not in row or row[name] is None:
            raise InputError(f"{where}: missing field {name!r}")
    if "query" not in row and "query_id" not in row:
        raise InputError(f"{where}: missing field 'query' (or 'query_id')")
    request = table_field(path, lineno, row, "request_id")
    shown, clicks = _ids(where, row, "shown"), _ids(where, row, "clicks")
    if len(shown_set := set(shown)) != len(shown):
        raise InputError(f"{where}: 'shown' lists a document twice")
    stray = [c for c in clicks if c not in shown_set]
    if stray:
        raise InputError(f"{where}: clicked {stray[0]!r}, which is not in 'shown'")
    return request, shown, clicks


EARLIEST, LATEST = 946_684_800.0, 4_102_444_800.0      # 2000-01-01 .. 2100-01-01 UTC: a ts outside is garbage


def timestamp(where: str, value) -> float:
    """Seconds since the epoch from a number (seconds, or milliseconds when it reads as such) or ISO 8601 text
    (without a zone: UTC); outside 2000..2100, or unreadable, an InputError."""
    import datetime as dt

    if isinstance(value, bool):
        raise InputError(f"{where}: 'ts' must be a time (epoch seconds or ISO 8601 text), got {value!r}")
    if isinstance(value, dt.datetime):                  # a Parquet timestamp column
        seconds = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    elif isinstance(value, (int, float)):
        seconds = float(value) / (1000.0 if float(value) > LATEST else 1.0)
    else:
        try:
            when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{where}: 'ts' must be a time (epoch seconds or ISO 8601 text), got {value!r}") from None
        seconds = (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()
    if not (np.isfinite(seconds) and EARLIEST <= seconds <= LATEST):
        raise InputError(f"{where}: 'ts' {value!r} is not a time between 2000 and 2100")
    return seconds


def read_units(path: str | Path, column: str = "pre") -> dict[str, float]:
    """{unit_id: pre-period value} from a table with unit_id and a numeric column."""
    path = Path(path)
    out: dict[str, float] = {}
    for lineno, row in read_rows(path):
        unit = table_field(path, lineno, row, "unit_id")
        if unit in out:
            raise InputError(f"{path}:{lineno}: unit {unit!r} appears twice")
        out[unit] = table_field(path, lineno, row, column, kind=float)
    if not out:
        raise InputError(f"{path}: no units")
    return out


def _ids(where: str, row: dict, name: str) -> list[str]:
    """row[name] as a list of document ids (text, or integers written as text)."""
    value = row[name]
    kinds = set(map(type, value)) if isinstance(value, list) else {dict}
    if not kinds <= {str, int}:                              # bool is a type of its own here: refused
        raise InputError(f"{where}: {name!r} must be a list of document ids")
    return value if int not in kinds else [str(v) for v in value]


def arm_order(path: Path, first_line: dict[str, int], control: str | None) -> tuple[str, str]:
    """(control, treatment) from each arm name's first line: --control, else the first name in sorted order."""
    names = sorted(first_line)
    if len(names) != 2:
        found = ", ".join(f"{name!r} (first at line {line})"
                          for name, line in sorted(first_line.items(), key=lambda item: item[1])[:5])
        raise InputError(f"{path}: an A/B log needs exactly two arms, found {len(names)}: {found}")
    if control is not None and control not in names:
        raise InputError(f"--control {control!r}: unknown arm (the log's arms: {', '.join(map(repr, names))})")
    first = control or names[0]
    return first, next(n for n in names if n != first)


def dwell_times(where: str, row: dict, clicks: list[str]) -> list[float]:
    """The row's dwell_s, one finite number >= 0 per click (nan for each click when the row has none)."""
    value = row.get("dwell_s")
    if value is None:
        return [float("nan")] * len(clicks)
    if not isinstance(value, list) or len(value) != len(clicks):
        raise InputError(f"{where}: 'dwell_s' must list one number per click ({len(clicks)})")
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError):
        raise InputError(f"{where}: 'dwell_s' must hold numbers") from None
    if any(not np.isfinite(v) or v < 0 for v in out):
        raise InputError(f"{where}: 'dwell_s' values must be finite and >= 0")
    return out


def _teams(where: str, row: dict, shown: list[str]) -> list[str]:
    value = row["team"]
    if not isinstance(value, list) or len(value) != len(shown) or any(t not in ("a", "b") for t in value):
        raise InputError(f"{where}: 'team' must give 'a' or 'b' for each of the {len(shown)} shown positions")
    return list(value)
