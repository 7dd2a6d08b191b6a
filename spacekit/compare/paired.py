"""Paired tests of each metric between the two models, the Holm correction over them, and the verdicts."""

from __future__ import annotations

import numpy as np

from spacekit import stats
from spacekit.compare.analysis import item_changes
from spacekit.compare.config import CompareConfig
from spacekit.errors import InputError
from spacekit.tasks import Task, TaskResult


def paired_test(task: Task, metric: str, before: TaskResult, after: TaskResult, config: CompareConfig, seed: int,
                keep: np.ndarray | None = None) -> stats.PairedTest:
    """The paired test of one metric (optionally on a subset of items), as the task's kind declares it."""
    sel = slice(None) if keep is None else keep
    spec = task.metric_spec(metric)
    values_b, gold = before.paired_inputs(metric)
    values_a, _ = after.paired_inputs(metric)
    return stats.compare_metric(values_b[sel], values_a[sel], spec.statistic,
                                gold=None if gold is None else gold[sel], resamples=config.resamples, seed=seed,
                                device=config.opts.device)


def task_entry(task: Task, tag: str, metrics: list[str], before: TaskResult, after: TaskResult,
               config: CompareConfig) -> dict:
    """A tested task's report entry: each metric's paired test, the per-item analysis and the kind's extras."""
    if before.item_ids != after.item_ids:
        raise InputError(f"task {task.name}: the two models were evaluated on different items")
    if not metrics:
        raise InputError(f"task {task.name}: no metric to compare (the first one is the main metric)")
    tested = {}
    for i, name in enumerate(metrics):
        test = paired_test(task, name, before, after, config, seed=config.seed + 101 * i)
        tested[name] = {"before": test.before, "after": test.after, "delta": test.delta, "ci_low": test.ci_low,
                        "ci_high": test.ci_high, "p_value": test.p_value, "p_adjusted": None, "verdict": None,
                        "test": test.test, "t_test_p": test.t_p_value, "effect_size_dz": test.effect_size}
    main = metrics[0]
    entry = {"name": task.name, "kind": task.kind, "tag": tag, "dataset": before.dataset, "n": before.n,
             "main_metric": main, "metrics": tested, "all_metrics": {"before": before.metrics, "after": after.metrics}}
    entry.update(item_changes(before, after, main, config.examples))
    entry.update(task.report_extras(before, after))
    return entry


def correct(tasks: list[dict], specs: dict[str, Task], alpha: float) -> None:
    """Holm–Bonferroni over every tested metric in the report, then each metric's verdict (in place)."""
    cells = [m for t in tasks for m in t["metrics"].values()]
    for cell, p_adj in zip(cells, stats.holm([c["p_value"] for c in cells]), strict=True):
        cell["p_adjusted"] = p_adj
    for t in tasks:
        for name, m in t["metrics"].items():
            better = specs[t["name"]].metric_spec(name).higher_is_better
            m["verdict"] = stats.verdict(m["delta"], m["p_adjusted"], m["ci_low"], m["ci_high"], alpha, better)


def overall(tasks: list[dict]) -> str:
    """The report's verdict from each task's main metric: improved, regressed, mixed or no significant change."""
    verdicts = {t["metrics"][t["main_metric"]]["verdict"] for t in tasks if t["main_metric"]}
    if "improved" in verdicts and "regressed" in verdicts:
        return "mixed"
    if "improved" in verdicts:
        return "improved"
    if "regressed" in verdicts:
        return "regressed"
    return "no significant change"
