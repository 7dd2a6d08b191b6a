"""--mteb-out / --mteb-task / --reference: MTEB result files out, and published ones read back beside spacekit's
numbers (thin: the formats live in spacekit.io.mteb_results)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from spacekit.cli.common import plain
from spacekit.errors import InputError
from spacekit.io.mteb_results import ReferenceRow, find_reference, read_reference, reference_rows, write_mteb_result
from spacekit.tasks import task_class


def mteb_options(f):
    """The three options on every `eval` command MTEB has a result format for."""
    f = click.option("--reference", type=click.Path(), default=None,
                     help="a folder of MTEB result files (e.g. published scores): shown beside these numbers, "
                          "a difference > 1e-4 flagged")(f)
    f = click.option("--mteb-task", default=None,
                     help="the MTEB task name (result file name, --reference lookup); default: the data's name")(f)
    f = click.option("--mteb-out", type=click.Path(file_okay=False), default=None,
                     help="write DIR/<model>/no_revision_available/<task>.json in MTEB's result format")(f)
    return languages_option(f)


def languages_option(f):
    """--mteb-languages: the data's languages as MTEB codes, written into result files."""
    return click.option("--mteb-languages", default="eng-Latn", show_default=True, callback=_languages,
                        help="the data's languages in MTEB's codes (ISO 639-3 and script), comma-separated, for "
                             "--mteb-out files")(f)


def _languages(ctx, param, value: str) -> list[str]:
    codes = [c.strip() for c in value.split(",") if c.strip()]
    bad = [c for c in codes if not re.fullmatch(r"[a-z]{3}-[A-Z][a-z]{3}", c)]
    if bad or not codes:
        raise InputError(f"--mteb-languages: expected codes like eng-Latn, got {value!r}")
    return codes


@dataclass
class MtebIO:
    """What one eval command does with MTEB result files; the clock starts when the options are read."""

    out: str | None = None
    task: str | None = None
    reference: dict | None = None
    languages: list[str] = field(default_factory=lambda: ["eng-Latn"])
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def pop(cls, opts: dict) -> MtebIO:
        """Take the three options out of a command's keyword arguments (a --reference folder is read now)."""
        folder = opts.pop("reference", None)
        return cls(opts.pop("mteb_out", None), opts.pop("mteb_task", None),
                   read_reference(folder) if folder is not None else None, opts.pop("mteb_languages"))

    def finish(self, result) -> list[ReferenceRow] | None:
        """Write the result file; the rows beside the reference (None without --reference)."""
        name = self.task or result.name
        split = getattr(result, "split", None) or "test"
        form = task_class(result.kind).mteb
        if form is None and (self.out is not None or self.reference is not None):
            raise InputError(f"--mteb-out / --reference: MTEB has no result format for a {result.kind} task")
        if self.out is not None and form is not None:
            path = write_mteb_result(Path(self.out), result.model, name, form, result.metrics, split=split,
                                     seconds=time.perf_counter() - self.started, languages=self.languages)
            click.echo(f"MTEB result file: {plain(str(path))}", err=True)
        if self.reference is None or form is None:
            return None
        _, scores = find_reference(self.reference, name, split)
        return reference_rows(form, result.metrics, scores)


def reference_lines(rows: list[ReferenceRow]) -> list[str]:
    """One line per metric: spacekit, the reference, the difference, and 'differs' past the tolerance."""
    lines = ["metric            spacekit   reference  difference"]
    for r in rows:
        flag = "  differs by more than 1e-4" if r.flagged else ""
        lines.append(f"{plain(r.metric):<16} {r.ours:>9.5f}  {r.reference:>9.5f}  {r.difference:>+10.6f}{flag}")
    return lines
