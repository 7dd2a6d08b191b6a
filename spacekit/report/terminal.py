"""The terminal summary of a comparison (rich), on stderr so stdout stays clean for --json."""

from __future__ import annotations

from spacekit.report.format import summary_rows

STYLE = {"improved": "green", "regressed": "red", "no significant change": "dim"}


def print_summary(report: dict, out_dir: str | None = None) -> None:
    """A table of every tested metric with ▲/▼, the CI and the corrected p-value, then the verdict."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=150)  # logs and CI: wide enough for the whole table
    table = Table(title=f"{report['before']} → {report['after']}", title_justify="left")
    for col in ("task", "tag", "metric"):
        table.add_column(col, justify="left")
    for col in ("before", "after", "Δ", "95% CI", "p adj."):
        table.add_column(col, justify="right")
    table.add_column("verdict", justify="left")
    for r in summary_rows(report):
        table.add_row(r["task"], r["tag"], r["metric"] + (" *" if r["main"] else ""), r["before"], r["after"],
                      r["delta"], r["ci"], r["p_adj"], f"{r['arrow']} {r['verdict']}", style=STYLE[r["verdict"]])
    console.print(table)
    of = report["overfitting"]
    console.print(f"overfitting: {of['note']}")
    if report.get("leakage"):
        total = sum(t["total"] for t in report["leakage"]["tasks"].values())
        console.print(f"leakage: {total} evaluation items overlap the training data")
    if "knn_overlap" in report["drift"]:
        d = report["drift"]
        console.print(f"drift: kNN overlap mean {d['knn_overlap']['mean']:.3f}, linear CKA {d['linear_cka']:.3f}")
    where = f"  (report: {out_dir}/index.html)" if out_dir else ""
    console.print(f"[bold]verdict: {report['verdict']}[/bold]{where}")
