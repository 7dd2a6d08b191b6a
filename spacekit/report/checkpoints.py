"""A checkpoint comparison's report: report.json (CheckpointComparison.to_json), report.md, index.html, the
metric-by-step plot (checkpoints.png), and the terminal summary."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from spacekit.compare.checkpoints import CheckpointComparison, display_names
from spacekit.escape import html as e
from spacekit.escape import md, plain, plot_label
from spacekit.files import atomic_write
from spacekit.report.format import interval, num, pval, signed
from spacekit.report.plots import PALETTE, save_figure

COLUMNS = ("checkpoint", "step", "task", "metric", "base", "checkpoint's", "Δ", "95% CI", "p adj.", "verdict")


def rows(c: CheckpointComparison) -> list[list[str]]:
    """One row per checkpoint and task (the columns of COLUMNS)."""
    shown = display_names([k.name for k in c.checkpoints])
    return [[shown[k.name], "" if k.step is None else str(k.step), t.task, t.metric, num(t.test.before),
             num(t.test.after), signed(t.test.delta), interval(t.test), pval(t.test.p_adjusted), t.test.verdict or ""]
            for k in c.checkpoints for t in k.tasks]


def selection_lines(c: CheckpointComparison) -> list[str]:
    """How the best checkpoint was chosen and what its gain is on the held-out items, against all items."""
    s = c.selection
    if s is None:
        return []
    shown = display_names(list(s.deltas))
    picked = ", ".join(f"{shown[name]} {d:+.4f}" for name, d in s.deltas.items())
    if s.split is not None:                      # chosen on another split; the task's own items are the held-out
        return [f"chosen on {s.task}'s {s.split} split ({s.selection_items} items), by {s.metric}: {picked}",
                f"{shown[s.chosen]} on the task's own {s.estimation_items} items, which the pick never saw: "
                f"{s.held_out.delta:+.4f} {interval(s.held_out)}, p {pval(s.held_out.p_value)} ({s.held_out.verdict}; "
                f"uncorrected: one test, chosen in advance)"]
    fraction = f"{s.fraction:.0%}" if s.fraction is not None else ""
    return [f"chosen on {s.selection_items} of {s.task}'s items ({fraction}, seeded), by {s.metric}: {picked}",
            f"{shown[s.chosen]} on the other {s.estimation_items}: {s.held_out.delta:+.4f} {interval(s.held_out)}, p "
            f"{pval(s.held_out.p_value)} ({s.held_out.verdict}); on all items {s.all_items.delta:+.4f} "
            f"{interval(s.all_items)} (the items it was chosen on included)"]


def render_markdown(c: CheckpointComparison) -> str:
    """report.md."""
    lines = [f"# spacekit checkpoints against {md(c.base)}", "", md(c.headline) + ".", "",
             *(f"- {md(x)}" for x in selection_lines(c)), "",
             f"Each checkpoint's main metric on each task tested paired against the base, {c.resamples:,} resamples; "
             f"p corrected across every checkpoint and task ({c.correction}, alpha {c.alpha}).", "",
             "| " + " | ".join(COLUMNS) + " |", "|---|---|---|---|" + "---:|" * 5 + "---|"]
    lines += ["| " + " | ".join(md(x) if i in (0, 2, 3) else x for i, x in enumerate(r)) + " |" for r in rows(c)]
    if "checkpoints" in c.plots:
        lines += ["", f"![each checkpoint's change against the base]({c.plots['checkpoints']})"]
    return "\n".join(lines) + "\n"


def render_html(c: CheckpointComparison) -> str:
    """index.html: the same, self-contained (the plot beside it)."""
    head = "".join(f"<th>{e(x)}</th>" for x in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{e(x)}</td>" for x in r) + "</tr>" for r in rows(c))
    items = "".join(f"<li>{e(x)}</li>" for x in selection_lines(c))
    plot = f"<img src='{e(c.plots['checkpoints'])}' alt='each checkpoint against the base'>" \
        if "checkpoints" in c.plots else ""
    return ("<!doctype html><html><head><meta charset='utf-8'><title>spacekit checkpoints</title><style>"
            "body{font-family:sans-serif;max-width:1100px;margin:2em auto}td,th{padding:2px 8px;text-align:right}"
            "td:nth-child(-n+4),th:nth-child(-n+4){text-align:left}</style></head><body>"
            f"<h1>Checkpoints against {e(c.base)}</h1><p><b>{e(c.headline)}</b></p><ul>{items}</ul>"
            f"<table><tr>{head}</tr>{body}</table>{plot}</body></html>")


def plot(c: CheckpointComparison, path: Path) -> Path:
    """Per task, each checkpoint's change against the base with its interval, by step (by order when a
    checkpoint has no step), the chosen one circled."""
    from matplotlib.figure import Figure

    tasks = list(dict.fromkeys(t.task for k in c.checkpoints for t in k.tasks))
    fig = Figure(figsize=(4.4 * len(tasks), 3.4), layout="constrained")
    axes = fig.subplots(1, len(tasks), squeeze=False)
    steps = [k.step for k in c.checkpoints]
    x = np.array(steps if all(s is not None for s in steps) else range(1, len(steps) + 1), float)
    for ax, task, colour in zip(axes[0], tasks, PALETTE * len(tasks), strict=False):
        tests = [next(t for t in k.tasks if t.task == task) for k in c.checkpoints]
        delta = np.array([t.test.delta for t in tests])
        low, high = np.array([t.test.ci_low for t in tests]), np.array([t.test.ci_high for t in tests])
        ax.errorbar(x, delta, yerr=[delta - low, high - delta], color=colour, marker="o", capsize=3)
        ax.axhline(0, color="black", lw=0.8)
        if c.selection is not None and c.selection.task == task:
            chosen = [k.name for k in c.checkpoints].index(c.selection.chosen)
            ax.plot(x[chosen], delta[chosen], "o", ms=12, mfc="none", mec="black")
        ax.set_xlabel("step" if all(s is not None for s in steps) else "checkpoint", fontsize=8)
        ax.set_ylabel(plot_label(f"Δ {tests[0].metric} against the base"), fontsize=8)
        ax.set_title(plot_label(task), fontsize=9)
    save_figure(fig, path)
    return path


def write_checkpoint_report(c: CheckpointComparison, out_dir: str | Path,
                            overwrite: bool = False) -> tuple[CheckpointComparison, dict[str, Path]]:
    """Write report.json, report.md, index.html and checkpoints.png into out_dir (staged, then moved in together)."""
    from spacekit.report.folder import claim_report_folder, report_files

    out = claim_report_folder(out_dir, overwrite)
    with report_files(out) as staging:
        picture = plot(c, staging / "checkpoints.png")
        c = dataclasses.replace(c, plots={"checkpoints": picture.name})
        pages = {"json": ("report.json", json.dumps(c.to_json(), indent=1, allow_nan=False)),
                 "markdown": ("report.md", render_markdown(c)), "html": ("index.html", render_html(c))}
        for name, text in pages.values():
            atomic_write(staging / name, text)
        staged = {**{key: staging / name for key, (name, _) in pages.items()}, "checkpoints": picture}
    return c, {key: out / path.name for key, path in staged.items()}


def print_checkpoint_summary(c: CheckpointComparison, out_dir: str | None = None) -> None:
    """One line per checkpoint and task, how the best was chosen, and the headline, on stderr."""
    from rich.console import Console
    from rich.text import Text

    console = Console(stderr=True)
    console.print(Text(plain(f"checkpoints against {c.base} (p corrected across every checkpoint and task, "
                             f"{c.correction})"), style="bold"))
    for name, step, task, metric, base, after, delta, ci, p, verdict in rows(c):
        console.print(Text(plain(f"  {name}{f' (step {step})' if step else ''}, {task} {metric}: {base} → {after} "
                                 f"{delta} {ci} p {p} {verdict}")))
    for line in selection_lines(c):
        console.print(Text(plain(line)))
    console.print(Text(plain(c.headline), style="bold"))
    if out_dir:
        console.print(Text(plain(f"report: {out_dir}/index.html")))
