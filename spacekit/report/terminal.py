"""The terminal summary of a comparison (rich), on stderr so stdout stays clean for --json."""

from __future__ import annotations

from spacekit.report.escape import plain
from spacekit.report.format import (
    evidence_line,
    headline_parts,
    model_rows,
    num,
    online_lines,
    queries_summary,
    reference_summary,
    summary_rows,
)

TABLE_WIDTH = 110  # narrower consoles get the rows stacked instead of a table
STYLE = {"improved": "green", "regressed": "red", "negligible change": "", "equivalent": "", "inconclusive": "yellow",
         "no significant change": "dim"}


def print_summary(report: dict, out_dir: str | None = None, width: int | None = None) -> None:
    """The main metrics (what the verdict judges), then the secondary ones, each row with ▲/▼/≈/=/?, the CI and
    the corrected p-value; then models, overfitting, leakage, drift and the verdict with the rows behind it. Below
    TABLE_WIDTH columns the rows are stacked, two lines each, so the summary reads at 80 columns (never cut). Data
    strings go out as plain Text (never rich markup), their control characters escaped."""
    from rich.console import Console
    from rich.text import Text

    console = Console(stderr=True, width=width)
    if width is None and not console.is_terminal:
        console = Console(stderr=True, width=120)  # logs and CI: wide enough for the whole table
    for family in ("main", "secondary"):
        if summary_rows(report, family):
            if console.width >= TABLE_WIDTH:
                console.print(_table(report, family))
            else:
                _stacked(console, report, family)
    for setting, before, after, differs in model_rows(report):
        if differs:
            console.print(Text(plain(f"models differ: {setting}: {before} → {after}"), style="yellow"))
    console.print(Text(plain(f"overfitting: {report['overfitting']['note']}")))
    if report.get("leakage"):
        tasks = report["leakage"]["tasks"]
        total = sum(t["total"] for t in tasks.values())
        touched = sum(t["trained_documents"]["touched"] for t in tasks.values() if "trained_documents" in t)
        console.print(Text(f"leakage: {total} evaluation items overlap the training data"
                           + (" (verdict judged without them)" if total else "")
                           + (f"; {touched} more have a relevant document that was a training positive"
                              if touched else "")))
    for q in report.get("queries") or []:
        console.print(Text(plain(queries_summary(q))))
    if reference_summary(report):
        console.print(Text(plain(reference_summary(report)), style="red" if report["reference"]["flagged"] else ""))
    if "knn_overlap" in report["drift"]:
        d = report["drift"]
        overlap, cka = num(d["knn_overlap"]["mean"], 3), num(d["linear_cka"], 3)
        console.print(f"drift: kNN overlap mean {overlap}, linear CKA {cka}")
    for line in online_lines(report):
        console.print(Text(plain(f"online: {line}")))
    console.print(Text(f"verdict: {report['verdict']}", style="bold"))
    for part in headline_parts(report):
        console.print(Text(plain(f"  {part}")))
    console.print(Text(plain(f"  rule: {report['headline']['rule']}"), style="dim"))
    console.print(Text(plain(f"  {evidence_line(report)}"), style="dim"))
    if out_dir:
        console.print(Text(plain(f"report: {out_dir}/index.html")))


def _title(report: dict, family: str) -> str:
    return (plain(f"{report['before']} → {report['after']}") if family == "main" else
            "secondary metrics (corrected on their own; they do not decide the verdict)")


def _stacked(console, report: dict, family: str) -> None:
    """A narrow terminal: each row as a heading line and a numbers line, wrapped at words (never cut)."""
    from rich.text import Text

    console.print(Text(_title(report, family), style="bold"))
    for r in summary_rows(report, family):
        basis = f" ({r['basis']})" if r["basis"] else ""
        console.print(Text(plain(f"{r['task']}{basis} · {r['metric']} · {r['tag']}")))
        console.print(Text(plain(f"  {r['before']} → {r['after']}  Δ {r['delta']} {r['ci']}  p adj. {r['p_adj']}  "
                                 f"{r['arrow']} {r['verdict_text']}"), style=STYLE[r["verdict"]]))


def _table(report: dict, family: str):
    """The summary table of one family; text columns fold rather than being cut."""
    from rich.table import Table
    from rich.text import Text

    title = _title(report, family)
    table = Table(title=Text(title), title_justify="left")
    for col in ("task", "metric"):
        table.add_column(col, justify="left", overflow="fold", min_width=6)
    for col in ("before", "after", "Δ"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("95% CI", justify="right", min_width=9)
    table.add_column("p adj.", justify="right", no_wrap=True)
    table.add_column("verdict", justify="left", overflow="fold", min_width=10)
    for r in summary_rows(report, family):
        task = r["task"] + (f" ({r['basis']})" if r["basis"] else "")
        cells = [task, r["metric"], r["before"], r["after"], r["delta"], r["ci"], r["p_adj"],
                 f"{r['arrow']} {r['verdict_text']}"]
        table.add_row(*(Text(plain(c)) for c in cells), style=STYLE[r["verdict"]])
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
