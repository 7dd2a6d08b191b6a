"""The terminal summary of a comparison (rich), on stderr so stdout stays clean for --json."""

from __future__ import annotations

from spacekit.report.escape import plain
from spacekit.report.format import model_rows, num, summary_rows

STYLE = {"improved": "green", "regressed": "red", "no significant change": "dim"}


def print_summary(report: dict, out_dir: str | None = None) -> None:
    """A table of every tested metric with ▲/▼, the CI and the corrected p-value, then the verdict. Data strings
    go out as plain Text (never rich markup), their control characters escaped."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=150)  # logs and CI: wide enough for the whole table
    table = Table(title=Text(plain(f"{report['before']} → {report['after']}")), title_justify="left")
    for col in ("task", "tag", "metric"):
        table.add_column(col, justify="left")
    for col in ("before", "after", "Δ", "95% CI", "p adj."):
        table.add_column(col, justify="right")
    table.add_column("verdict", justify="left")
    for r in summary_rows(report):
        cells = [r["task"], r["tag"], r["metric"] + (" *" if r["main"] else ""), r["before"], r["after"], r["delta"],
                 r["ci"], r["p_adj"], f"{r['arrow']} {r['verdict']}"]
        table.add_row(*(Text(plain(c)) for c in cells), style=STYLE[r["verdict"]])
    console.print(table)
    for setting, before, after, differs in model_rows(report):
        if differs:
            console.print(Text(plain(f"models differ: {setting}: {before} → {after}"), style="yellow"))
    of = report["overfitting"]
    console.print(Text(f"overfitting: {of['note']}"))
    if report.get("leakage"):
        total = sum(t["total"] for t in report["leakage"]["tasks"].values())
        console.print(f"leakage: {total} evaluation items overlap the training data")
    if "knn_overlap" in report["drift"]:
        d = report["drift"]
        overlap, cka = num(d["knn_overlap"]["mean"], 3), num(d["linear_cka"], 3)
        console.print(f"drift: kNN overlap mean {overlap}, linear CKA {cka}")
    where = f"  (report: {plain(out_dir)}/index.html)" if out_dir else ""
    console.print(Text(f"verdict: {report['verdict']}", style="bold"), Text(where))
