"""The terminal summary of a comparison (rich), on stderr so stdout stays clean for --json."""

from __future__ import annotations

from spacekit.compare import Comparison
from spacekit.escape import plain
from spacekit.report.format import (
    evidence_line,
    headline_parts,
    model_rows,
    num,
    online_lines,
    reference_summary,
    summary_rows,
)
from spacekit.report.why import why_line

TABLE_WIDTH = 110  # narrower consoles get the rows stacked instead of a table
STYLE = {"improved": "green", "regressed": "red", "negligible change": "", "equivalent": "", "inconclusive": "yellow",
         "no significant change": "dim"}


def print_summary(comparison: Comparison, out_dir: str | None = None, width: int | None = None) -> None:
    """The main metrics (what the verdict judges), then the secondary ones, each row with ▲/▼/≈/=/?, the CI and
    the corrected p-value; then models, overfitting, leakage, drift and the verdict with the rows behind it. Below
    TABLE_WIDTH columns the rows are stacked, two lines each, so the summary reads at 80 columns (never cut). Data
    strings go out as plain Text (never rich markup), their control characters escaped."""
    from rich.console import Console
    from rich.text import Text

    c = comparison
    console = Console(stderr=True, width=width)
    if width is None and not console.is_terminal:
        console = Console(stderr=True, width=120)  # logs and CI: wide enough for the whole table
    for family in ("main", "secondary"):
        if summary_rows(c, family):
            if console.width >= TABLE_WIDTH:
                console.print(_table(c, family))
            else:
                _stacked(console, c, family)
    for setting, before, after, differs in model_rows(c):
        if differs:
            console.print(Text(plain(f"models differ: {setting}: {before} → {after}"), style="yellow"))
    console.print(Text(plain(f"overfitting: {c.overfitting.note}")))
    if c.leakage:
        tasks = c.leakage.tasks.values()
        total = sum(t.total for t in tasks)
        touched = sum(t.trained_documents.touched for t in tasks if t.trained_documents)
        console.print(Text(f"leakage: {total} evaluation items overlap the training data"
                           + (" (verdict judged without them)" if total else "")
                           + (f"; {touched} more have a relevant document that was a training positive"
                              if touched else "")))
    for section in c.sections():
        if section.summary():
            console.print(Text(plain(section.summary())))
    if reference_summary(c):
        console.print(Text(plain(reference_summary(c) or ""), style="red" if c.reference and c.reference.flagged
                           else ""))
    if c.drift.knn_overlap is not None:
        console.print(f"drift: kNN overlap mean {num(c.drift.knn_overlap.mean, 3)}, linear CKA "
                      f"{num(c.drift.linear_cka, 3)}")
    elif c.drift.note:
        console.print(Text(plain(f"drift: {c.drift.note}")))
    for t in c.tasks:
        if t.threshold is not None:
            console.print(Text(plain(f"cut-off, {t.name}: {t.threshold.line}")))
        if t.sparsity is not None:
            console.print(Text(plain(f"sparsity, {t.name}: {t.sparsity.line}")))
        if why_line(t, c.alpha):
            console.print(Text(plain(why_line(t, c.alpha) or "")))
    for line in online_lines(c):
        console.print(Text(plain(f"online: {line}")))
    console.print(Text(f"verdict: {c.verdict}", style="bold"))
    for part in headline_parts(c.headline):
        console.print(Text(plain(f"  {part}")))
    console.print(Text(plain(f"  rule: {c.headline.rule}"), style="dim"))
    console.print(Text(plain(f"  {evidence_line(c)}"), style="dim"))
    if out_dir:
        console.print(Text(plain(f"report: {out_dir}/index.html")))


def _title(comparison: Comparison, family: str) -> str:
    return (plain(f"{comparison.before} → {comparison.after}") if family == "main" else
            "secondary metrics (corrected on their own; they do not decide the verdict)")


def _stacked(console, comparison: Comparison, family: str) -> None:
    """A narrow terminal: each row as a heading line and a numbers line, wrapped at words (never cut)."""
    from rich.text import Text

    console.print(Text(_title(comparison, family), style="bold"))
    for r in summary_rows(comparison, family):
        basis = f" ({r.basis})" if r.basis else ""
        console.print(Text(plain(f"{r.task}{basis} · {r.metric} · {r.tag}")))
        console.print(Text(plain(f"  {r.before} → {r.after}  Δ {r.delta} {r.ci}  p adj. {r.p_adj}  "
                                 f"{r.arrow} {r.verdict_text}"), style=STYLE[r.verdict]))


def _table(comparison: Comparison, family: str):
    """The summary table of one family; text columns fold rather than being cut."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(_title(comparison, family)), title_justify="left")
    for col in ("task", "metric"):
        table.add_column(col, justify="left", overflow="fold", min_width=6)
    for col in ("before", "after", "Δ"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("95% CI", justify="right", min_width=9)
    table.add_column("p adj.", justify="right", no_wrap=True)
    table.add_column("verdict", justify="left", overflow="fold", min_width=10)
    for r in summary_rows(comparison, family):
        task = r.task + (f" ({r.basis})" if r.basis else "")
        cells = [task, r.metric, r.before, r.after, r.delta, r.ci, r.p_adj, f"{r.arrow} {r.verdict_text}"]
        table.add_row(*(Text(plain(cell)) for cell in cells), style=STYLE[r.verdict])
    return table


def print_profile(rows: list[tuple[str, float, float, float]]) -> None:
    """A table of stages with seconds, share of the whole and the seconds spent encoding (--profile)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="where the time went", title_justify="left")
    table.add_column("stage", overflow="fold")
    for col in ("seconds", "share", "encoding s"):
        table.add_column(col, justify="right")
    for name, seconds, share, encoding in rows:
        table.add_row(Text(plain(name)), f"{seconds:,.1f}", f"{share:.0%}", f"{encoding:,.1f}")
    table.add_row("total", f"{sum(r[1] for r in rows):,.1f}", "", f"{sum(r[3] for r in rows):,.1f}")
    Console(stderr=True, width=None if Console(stderr=True).is_terminal else 120).print(table)
