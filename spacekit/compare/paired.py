"""Paired tests of each metric between the two models, on all items or on a subset of them (without leaked items,
new documents only), each with the margin the verdict will judge it by."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from spacekit import stats
from spacekit.compare.analysis import item_changes
from spacekit.compare.config import CompareConfig
from spacekit.compare.entry import TaskEntry
from spacekit.compare.metric_test import MetricTest
from spacekit.compare.sparsity import sparsity_change
from spacekit.compare.suite import TaskSpec
from spacekit.compare.threshold import ThresholdTransfer, threshold_transfer
from spacekit.errors import InputError
from spacekit.practical import margin_for
from spacekit.tasks import Task, TaskResult


def paired_test(task: Task, metric: str, before: TaskResult, after: TaskResult, config: CompareConfig, seed: int,
                keep: np.ndarray | None = None, margin: float = 0.0) -> stats.PairedTest:
    """The paired test of one metric (optionally on a subset of items), as the task's kind declares it."""
    sel = slice(None) if keep is None else keep
    spec = task.metric_spec(metric)
    values_b, gold = before.paired_inputs(metric)
    values_a, _ = after.paired_inputs(metric)
    return stats.compare_metric(values_b[..., sel], values_a[..., sel], spec.statistic,
                                gold=None if gold is None else gold[sel], resamples=config.resamples, seed=seed,
                                device=config.opts.placement.device, margin=margin)


def margins(spec: TaskSpec, config: CompareConfig) -> Callable[[str], float]:
    """metric -> its margin: the task's min_effect, then --min-effect, then the documented default."""
    chosen = {**config.min_effect, **spec.min_effect}
    return lambda metric: margin_for(metric, chosen)


def metric_cells(task: Task, spec: TaskSpec, before: TaskResult, after: TaskResult, config: CompareConfig,
                 keep: np.ndarray | None = None, metrics: list[str] | None = None) -> dict[str, MetricTest]:
    """{metric: its test} for the spec's metrics (or `metrics`), on all items or on `keep`; the correction and the
    verdict come later, per family (compare.verdict.judge)."""
    margin_of = margins(spec, config)
    cells = {}
    for name in metrics or spec.metrics:
        seed = config.seed + 101 * spec.metrics.index(name) + (0 if keep is None else 7)
        test = paired_test(task, name, before, after, config, seed, keep, margin_of(name))
        cells[name] = MetricTest.of(test, margin_of(name), task.metric_spec(name).higher_is_better)
    return cells


def task_entry(task: Task, spec: TaskSpec, before: TaskResult, after: TaskResult, config: CompareConfig) -> TaskEntry:
    """A tested task's entry: each metric's paired test, the per-item analysis and the kind's extras."""
    if before.item_ids != after.item_ids:
        raise InputError(f"task {task.name}: the two models were evaluated on different items")
    if not spec.metrics:
        raise InputError(f"task {task.name}: no metric to compare (the first one is the main metric)")
    main = spec.metrics[0]
    changes = item_changes(before, after, main, config.examples)
    return TaskEntry(name=task.name, kind=task.kind, tag=spec.tag, dataset=before.dataset, n=before.n,
                     main_metric=main, metrics=metric_cells(task, spec, before, after, config),
                     all_metrics={"before": before.metrics, "after": after.metrics},
                     item_meaning=type(before).item_meaning.format(metric=main),
                     win_tie_loss=changes.win_tie_loss, most_improved=changes.most_improved,
                     most_regressed=changes.most_regressed, delta_histogram=changes.delta_histogram,
                     extras=task.report_extras(before, after),
                     threshold=cutoff_transfer(spec, before, after, config), sparsity=sparsity_change(before, after))


def cutoff_transfer(spec: TaskSpec, before: TaskResult, after: TaskResult,
                    config: CompareConfig) -> ThresholdTransfer | None:
    """How the task's similarity cut-off (its own, else --threshold; none: the best-F1 ones) transfers from the
    before model to the after model, for a kind with scored pairs."""
    pairs_before, pairs_after = before.threshold_pairs(), after.threshold_pairs()
    if pairs_before is None or pairs_after is None or not len(pairs_before.scores):
        return None
    given = spec.threshold if spec.threshold is not None else config.threshold
    return threshold_transfer(pairs_before, pairs_after, given, type(before).positive_meaning or "",
                              resamples=config.resamples, seed=config.seed + 13, alpha=config.alpha)
