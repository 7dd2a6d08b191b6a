"""An A/B log read as it streams into compact columns: per impression what the analysis needs (its unit, arm, how
many results were shown and clicked, the first and the highest-placed click's rank, the longest dwell, a hash of
what was searched, shown and clicked, ts), about 60 bytes each whatever the lists hold; rows are checked one by
one as io.ab_log checks them (every problem one InputError naming file:line) and never kept.

Memory grows with impressions (those bytes) and distinct units (their ids), never with the size of the rows: a
10^7-impression JSONL log of 2.5M units (2.1 GB) is read and analysed in 1.63 GB peak RSS, 137 s on 2 cores
(benchmarks/bench_ab_scale.py; the list-based reader took 13 GB and 22 min for 5M).
"""

from __future__ import annotations

import array
import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spacekit.errors import InputError
from spacekit.io.ab_log import arm_order, checked_row, dwell_times, timestamp
from spacekit.io.tables import field as table_field
from spacekit.io.tables import read_rows

BLOCK = 1 << 20          # codes renumbered a block at a time

Rows = Callable[[], Iterable[tuple[int, dict]]]
_FIELDS = {      # each gathered column's array.array type ("request": a hash of request_id, for duplicates)
    "unit": "q", "arm": "b", "shown": "i", "clicks": "i", "first_rank": "i", "best_rank": "i", "repeat_key": "q",
    "request": "q", "line": "q", "dwell": "d", "ts": "d", "repeated_click": "b"}


@dataclass(frozen=True)
class AbLog:
    """An A/B log as columns, one entry per impression: unit (an index into unit_ids, the distinct units sorted),
    arm (0 control, 1 treatment), shown and clicks (counts), first_rank (the rank of the first click in click
    order, -1 without one), best_rank (the highest-placed click's rank, -1 without one), dwell (the longest dwell of
    its clicks, -inf without clicks, nan when a click lacks its dwell_s; None when no row has dwell_s), repeat_key
    (a hash of query, shown and clicks: equal keys of one unit are the same search), ts (None without), line, and
    whether a document was clicked more than once (None when none was)."""

    path: str
    arms: tuple[str, str]                   # (control, treatment)
    unit_ids: np.ndarray                    # (units,) object: the distinct unit ids, sorted
    unit: np.ndarray                        # (n,) int64
    arm: np.ndarray                         # (n,) int8
    shown: np.ndarray                       # (n,) int32
    clicks: np.ndarray                      # (n,) int32
    first_rank: np.ndarray                  # (n,) int32
    best_rank: np.ndarray                   # (n,) int32
    repeat_key: np.ndarray                  # (n,) int64
    lines: np.ndarray                       # (n,) int64
    dwell: np.ndarray | None = None         # (n,) float64
    ts: np.ndarray | None = None            # (n,) float64 seconds since the epoch
    repeated_click: np.ndarray | None = None  # (n,) bool: a document clicked more than once (None: never)

    def __len__(self) -> int:
        return len(self.arm)

    @property
    def index(self) -> tuple[np.ndarray, np.ndarray]:
        """(the distinct units, each impression's unit): what units.unit_sums groups by."""
        return self.unit_ids, self.unit

    def with_ts(self, ts: np.ndarray) -> AbLog:
        """The same log with these times."""
        return dataclasses.replace(self, ts=np.asarray(ts, dtype=np.float64))


def read_ab_log(path: str | Path, control: str | None = None) -> AbLog:
    """Read and check an A/B log file (JSONL, gzipped JSONL, Parquet or Arrow), a batch of rows at a time."""
    path = Path(path)
    return parse_ab_log(lambda: read_rows(path), path, control)


def parse_ab_log(rows: Rows, path: Path, control: str | None = None) -> AbLog:
    """Check (line, row) pairs as an A/B log into an AbLog: each row as io.ab_log.checked_row checks it, two arms
    (control first: `control`, else the first name in sorted order), unique request ids, ts in every row or none.
    rows() gives the pairs; it is called a second time only when two request ids may be equal, to name both
    lines."""
    columns = _Columns(path)
    for lineno, row in rows():
        columns.add(lineno, row)
    return columns.finish(control, rows)


@dataclass
class _Columns:
    """The columns being gathered, one typed array.array each (grown in place by realloc, then handed to numpy
    without a copy): memory follows the columns, never the rows."""

    path: Path
    units: dict[str, int] = dataclasses.field(default_factory=dict)
    arms: dict[str, int] = dataclasses.field(default_factory=dict)     # arm name -> its first line
    arm_codes: dict[str, int] = dataclasses.field(default_factory=dict)
    cols: dict[str, array.array] = dataclasses.field(
        default_factory=lambda: {name: array.array(code) for name, code in _FIELDS.items()})
    with_dwell: bool = False
    with_ts: int = 0
    without_ts: int | None = None                                       # the first line without ts

    def add(self, lineno: int, row: dict) -> None:
        """Check one row and append what the analysis needs of it."""
        request, shown, clicks = checked_row(self.path, lineno, row)
        unit = table_field(self.path, lineno, row, "unit_id")
        arm = str(row["arm"])
        if arm not in self.arm_codes:
            self.arm_codes[arm], self.arms[arm] = len(self.arm_codes), lineno
        ranks = [shown.index(c) for c in clicks]
        if row.get("dwell_s") is not None:                              # one number per click, checked
            self.with_dwell = True
            dwell = max(dwell_times(f"{self.path}:{lineno}", row, clicks), default=-np.inf)
        else:
            dwell = np.nan if clicks else -np.inf                           # a click without its dwell time
        if row.get("ts") is not None:
            self.with_ts += 1
            ts = timestamp(f"{self.path}:{lineno}", row["ts"])
        else:
            ts = np.nan
            if self.without_ts is None:
                self.without_ts = lineno
        query = str(row.get("query", row.get("query_id")))
        c = self.cols
        c["unit"].append(self.units.setdefault(unit, len(self.units)))
        c["arm"].append(self.arm_codes[arm])
        c["shown"].append(len(shown))
        c["clicks"].append(len(clicks))
        c["first_rank"].append(ranks[0] if ranks else -1)
        c["best_rank"].append(min(ranks) if ranks else -1)
        c["repeat_key"].append(search_key(query, shown, clicks))
        c["request"].append(hash(request))
        c["line"].append(lineno)
        c["dwell"].append(dwell)
        c["ts"].append(ts)
        c["repeated_click"].append(len(set(clicks)) < len(clicks))

    def finish(self, control: str | None, rows: Rows) -> AbLog:
        """The columns as an AbLog: two arms (control first), unique request ids, ts in every row or none."""
        if not self.cols["line"]:
            raise InputError(f"{self.path}: no impressions")
        col = {name: np.frombuffer(values, dtype=values.typecode) for name, values in self.cols.items()}
        self.cols = {}
        _unique_requests(self.path, col.pop("request"), rows)
        names = arm_order(self.path, self.arms, control)
        to_arm = np.zeros(len(self.arm_codes), dtype=np.int8)
        for name, code in self.arm_codes.items():
            to_arm[code] = names.index(name)
        if self.with_ts and self.without_ts is not None:
            raise InputError(f"{self.path}:{self.without_ts}: missing field 'ts' ({self.with_ts:,} of "
                             f"{len(col['line']):,} rows have one)")
        ids, unit = sorted_units(list(self.units), col["unit"])
        self.units.clear()
        _one_arm_per_unit(self.path, ids, unit, col["arm"], col["line"], {c: n for n, c in self.arm_codes.items()})
        return AbLog(str(self.path), names, ids, unit, to_arm[col["arm"]], col["shown"],
                     col["clicks"], col["first_rank"], col["best_rank"], col["repeat_key"], col["line"],
                     col["dwell"] if self.with_dwell else None, col["ts"] if self.with_ts else None,
                     col["repeated_click"].astype(bool) if col["repeated_click"].any() else None)


def _one_arm_per_unit(path: Path, ids: np.ndarray, unit: np.ndarray, arm: np.ndarray, lines: np.ndarray,
                      arm_name: dict[int, str]) -> None:
    """Refuse a unit logged in both arms, naming the first line where it changes arm and its first line."""
    coded = np.bincount(unit, weights=arm, minlength=len(ids))            # impressions in the arm coded 1
    mixed = (coded > 0) & (coded < np.bincount(unit, minlength=len(ids)))   # two arms (codes 0 and 1): checked
    if mixed.any():
        start = int(np.argmax(mixed[unit]))                              # the first impression of a mixed unit
        u = unit[start]
        other = int(np.flatnonzero((unit == u) & (arm != arm[start]))[0])
        raise InputError(f"{path}:{lines[other]}: unit {ids[u]!r} is in arm {arm_name[int(arm[other])]!r} here and "
                         f"in {arm_name[int(arm[start])]!r} at line {lines[start]}: the log is not randomised by "
                         f"unit_id")


def search_key(query: str, shown: list[str], clicks: list[str]) -> int:
    """A hash of one impression's search (query, shown list, clicks): equal for equal searches within a process."""
    return hash((query, tuple(shown), tuple(clicks)))


def sorted_units(ids: list[str], codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the unit ids sorted, as np.unique gives them; the codes renumbered in place to each id's place among
    them, a block at a time: no second copy of a column as long as the log)."""
    array = np.array(ids, dtype=object)
    order = np.argsort(array.astype(str), kind="stable")
    place = np.empty(len(ids), dtype=np.int64)
    place[order] = np.arange(len(ids))
    for start in range(0, len(codes), BLOCK):
        codes[start:start + BLOCK] = place[codes[start:start + BLOCK]]
    return array[order], codes


def _unique_requests(path: Path, hashes: np.ndarray, rows: Rows) -> None:
    """Refuse a request id logged twice, naming both lines; hashes are compared first, and the rows read again
    (only then) to tell a real repeat from two ids with one hash."""
    hashes.sort()                                       # in place: the column is not kept
    suspects = set(hashes[1:][hashes[1:] == hashes[:-1]].tolist())
    if not suspects:
        return
    seen: dict[str, int] = {}
    for lineno, row in rows():
        request = table_field(path, lineno, row, "request_id")        # as the first pass read it
        if hash(request) not in suspects:
            continue
        if request in seen:
            raise InputError(f"{path}:{lineno}: duplicate request_id {request!r} (first at line {seen[request]})")
        seen[request] = lineno
