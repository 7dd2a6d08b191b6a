"""Many checkpoints of a fine-tuning run against their base, with honest selection.

Every checkpoint's main metric on every tested task is tested paired against the base (the task's own test), and
the p-values of all of them (checkpoints x tasks) form one family, corrected by the run's correction (Holm by
default): valid under any dependence between the checkpoints (they share the items and most of their weights),
for every statistic a task tests with (means, correlations, clustering scores), which a max-T over shared resamples
would only be for the sign-flip tests of means; on a handful of checkpoints it gives up little power. The best
checkpoint is then chosen on a selection split of the first tested task's items (SELECT_ON, seeded) by its change
there, and its gain re-estimated, tested paired, on the other items only: the pick cannot inflate that estimate,
as it inflates the one on all items (reported beside it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np

from spacekit.compare.config import SELECT_ON, CompareConfig
from spacekit.compare.metric_test import MetricTest
from spacekit.compare.paired import margins, paired_test
from spacekit.compare.suite import TaskSpec, located
from spacekit.compare.verdict import judged_family, overall
from spacekit.errors import InputError
from spacekit.practical import decide
from spacekit.records import Json, json_schema, to_json
from spacekit.tasks import Task, TaskResult
from spacekit.tasks.base import run_checked

_STEP = re.compile(r"checkpoint-(\d+)$")


@dataclass(frozen=True)
class CheckpointTask:
    """One checkpoint's main metric on one task against the base: its test, p corrected across every checkpoint
    and task, judged."""

    task: str
    metric: str
    test: MetricTest


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint: its name (as given), its training step (from checkpoint-STEP; None otherwise), its tasks, and
    its verdict over them (compare.verdict.overall)."""

    name: str
    step: int | None
    tasks: tuple[CheckpointTask, ...]
    verdict: str


@dataclass(frozen=True)
class Selection:
    """The best checkpoint chosen honestly: on which task and metric, what it was chosen on (a seeded share of the
    task's items, or another split of its data: split), the items on each side, each checkpoint's change on the
    selection items, the one chosen, its test on the held-out items (the honest gain, judged on its own) and on all
    items (the pick's items included; with a split, the task's own items: the held-out ones)."""

    task: str
    metric: str
    fraction: float | None
    selection_items: int
    estimation_items: int
    deltas: Mapping[str, float]
    chosen: str
    held_out: MetricTest
    all_items: MetricTest
    split: Annotated[str | None, Json(omit_none=True)] = None


@dataclass(frozen=True)
class CheckpointComparison:
    """Checkpoints against their base over a suite: the settings, every checkpoint's tests and verdict, the honest
    selection, and the headline; report.json's object when written (spacekit.report.checkpoints)."""

    spacekit_version: str
    created: str
    base: str
    alpha: float
    seed: int
    resamples: int
    correction: str
    checkpoints: tuple[Checkpoint, ...]
    selection: Selection | None
    headline: str
    plots: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        """report.json's object."""
        return to_json(self)

    @classmethod
    def json_schema(cls) -> dict:
        """Its JSON Schema, generated from the types."""
        return json_schema(cls, title="spacekit checkpoints report.json")


def checkpoint_step(name: str) -> int | None:
    """The training step a trainer's checkpoint-STEP folder names (None for any other name)."""
    m = _STEP.search(Path(name.rstrip("/")).name)
    return int(m.group(1)) if m else None


def display_names(names: list[str]) -> dict[str, str]:
    """Each checkpoint as the report shows it: its folder's name when those are distinct (checkpoint-20), else as
    given."""
    short = [Path(name.rstrip("/")).name or name for name in names]
    return dict(zip(names, short if len(set(short)) == len(short) else names, strict=True))


def expand_checkpoints(specs: list[str]) -> list[str]:
    """The models the arguments name, in order: a folder holding no model but checkpoint-* folders (a trainer's
    output_dir) gives those, by step; a pattern with * or ? the folders it matches (by step, then name)."""
    out: list[str] = []
    for spec in specs:
        path = Path(spec)
        if any(c in spec for c in "*?[") and not path.exists():
            found = sorted(glob.glob(spec), key=lambda p: (checkpoint_step(p) is None, checkpoint_step(p) or 0, p))
            if not found:
                raise InputError(f"{spec}: matches no folder")
            out += found
        elif path.is_dir() and not (path / "config.json").is_file() and any(path.glob("checkpoint-*")):
            out += sorted((str(p) for p in path.glob("checkpoint-*") if checkpoint_step(str(p)) is not None),
                          key=lambda p: checkpoint_step(p) or 0)
        else:
            out.append(spec)
    if len(set(out)) != len(out):
        raise InputError(f"a checkpoint is named twice: {next(p for p in out if out.count(p) > 1)}")
    return out


def checkpoint_family(planned: list[tuple[TaskSpec, Task]], base: Mapping[str, TaskResult],
                      checkpoints: Mapping[str, Mapping[str, TaskResult]], config: CompareConfig) -> list[Checkpoint]:
    """Every checkpoint's main-metric test on every task against the base, corrected as one family, judged."""
    cells = []
    for c, (name, results) in enumerate(checkpoints.items()):
        for t, (spec, task) in enumerate(planned):
            metric, margin = spec.metrics[0], margins(spec, config)(spec.metrics[0])
            paired = paired_test(task, metric, base[spec.name], results[spec.name], config,
                                 config.seed + 1009 * c + 31 * t, margin=margin)
            cells.append((name, spec.name, metric,
                          MetricTest.of(paired, margin, task.metric_spec(metric).higher_is_better)))
    judged: dict[str, list[CheckpointTask]] = {name: [] for name in checkpoints}
    tests = judged_family([cell[3] for cell in cells], config, "checkpoints")
    for (name, task_name, metric, _), test in zip(cells, tests, strict=True):
        judged[name].append(CheckpointTask(task_name, metric, test))
    return [Checkpoint(name, checkpoint_step(name), tuple(tasks), overall([t.test.verdict or "" for t in tasks]))
            for name, tasks in judged.items()]


def honest_selection(spec: TaskSpec, task: Task, base: TaskResult, checkpoints: Mapping[str, TaskResult],
                     family: list[Checkpoint], config: CompareConfig, fraction: float = SELECT_ON) -> Selection:
    """The checkpoint with the best change on a seeded `fraction` of the task's items, and its change tested on
    the others."""
    n = base.n
    chosen_n = round(fraction * n)
    if not 0 < fraction < 1 or chosen_n < 2 or n - chosen_n < 2:
        raise InputError(f"--select-on {fraction:g}: task {spec.name}'s {n} items leave fewer than 2 on a side (give "
                         f"a share between 0 and 1)")
    select = np.zeros(n, bool)
    select[np.random.default_rng(config.seed + 97).permutation(n)[:chosen_n]] = True
    metric, deltas, chosen, held, everything = _choose_then_test(
        spec, task, (base, checkpoints, select), (base, checkpoints, ~select), family, config,
        "the selection items")
    return Selection(spec.name, metric, fraction, chosen_n, n - chosen_n, deltas, chosen, held, everything)


def split_selection(spec: TaskSpec, task: Task, base: TaskResult, checkpoints: Mapping[str, TaskResult],
                    base_split: TaskResult, split_results: Mapping[str, TaskResult], family: list[Checkpoint],
                    config: CompareConfig, split: str) -> Selection:
    """The checkpoint with the best change on another split of the task's data (split_results: each checkpoint's
    run of it), and its change tested on the task's own items, which the pick never saw."""
    metric, deltas, chosen, held, everything = _choose_then_test(
        spec, task, (base_split, split_results, None), (base, checkpoints, None), family, config, f"split {split!r}")
    return Selection(spec.name, metric, None, base_split.n, base.n, deltas, chosen, held, everything, split)


def _choose_then_test(spec: TaskSpec, task: Task, choosing: tuple, testing: tuple, family: list[Checkpoint],
                      config: CompareConfig, where: str) -> tuple[str, dict[str, float], str, MetricTest, MetricTest]:
    """(metric, each checkpoint's change where it is chosen, the chosen one, its test where it is tested, its
    family test): choosing and testing are (base result, checkpoints' results, items kept or None for all)."""
    metric = spec.metrics[0]
    higher = task.metric_spec(metric).higher_is_better
    base, results, keep = choosing
    quick = dataclasses.replace(config, resamples=min(config.resamples, 200))      # the point estimate is all it needs
    deltas = {name: paired_test(task, metric, base, result, quick, config.seed, keep=keep).delta
              for name, result in results.items()}
    finite = {name: d for name, d in deltas.items() if np.isfinite(d)}
    if not finite:
        raise InputError(f"task {spec.name}: no checkpoint's {metric} is defined on {where}")
    chosen = max(finite, key=lambda name: finite[name] if higher else -finite[name])   # the first of the best
    margin = margins(spec, config)(metric)
    base, results, keep = testing
    held = MetricTest.of(paired_test(task, metric, base, results[chosen], config, config.seed + 7, keep=keep,
                                     margin=margin), margin, higher)
    held = dataclasses.replace(held, verdict=decide(held.delta, held.ci_low, held.ci_high, held.p_value, held.tost_p,
                                                    margin, config.alpha, higher))
    everything = next(t.test for c in family if c.name == chosen for t in c.tasks if t.task == spec.name)
    return metric, deltas, chosen, held, everything


def split_task(spec: TaskSpec, task: Task, split: str) -> Task:
    """The first task on another split of its data (--select-on SPLIT): a kind with a `split` option, a split other
    than its own, checked now (its files read)."""
    own = getattr(task, "split", None)
    if own is None:
        raise InputError(f"--select-on {split}: task {spec.name} ({task.kind}) has no splits to choose on (give a "
                         f"share of its items, e.g. 0.5)")
    if split == own:
        raise InputError(f"--select-on {split}: that is task {spec.name}'s own split; choose on another (dev)")
    other = dataclasses.replace(task, split=split)                                   # type: ignore[type-var]
    with located(f"--select-on {split} (task {spec.name})"):
        other.inputs()
    return other


def checkpoint_headline(family: list[Checkpoint], selection: Selection | None) -> str:
    """The report's first line: the best honest checkpoint and its held-out gain, and how many checkpoints
    improved or regressed."""
    shown = display_names([c.name for c in family])
    improved = [c.name for c in family if c.verdict == "improved"]
    regressed = [c.name for c in family if c.verdict in ("regressed", "mixed")]
    counts = (f"{len(improved)} of {len(family)} checkpoints improved on the base, {len(regressed)} regressed on a "
              f"task (family-wise corrected)")
    if selection is None:
        return counts
    h = selection.held_out
    chosen_on = (f"chosen on its {selection.split} split" if selection.split is not None
                 else f"chosen on {selection.selection_items} others")
    return (f"best honest checkpoint: {shown[selection.chosen]}: {selection.metric} on {selection.task} {h.delta:+.4f} "
            f"[{h.ci_low:+.4f}, {h.ci_high:+.4f}] on {selection.estimation_items} held-out items ({h.verdict}), "
            f"{chosen_on}; {counts}")


def compare_checkpoints(base: str, checkpoints: list[str], suite: list[TaskSpec], config: CompareConfig | None = None,
                        select_on: float | str = SELECT_ON) -> CheckpointComparison:
    """Run the suite's tested tasks for the base and each checkpoint (one model in memory at a time; every input,
    each checkpoint's folder included, checked first) and compare every checkpoint with the base."""
    from spacekit.embed import load_model
    from spacekit.embed.model import model_folder
    from spacekit.progress import stage
    from spacekit.version import __version__

    config = config or CompareConfig()
    config.check()
    if len(checkpoints) < 2:
        raise InputError("checkpoints: name at least two (one is `spacekit compare BASE AFTER`)")
    with stage("reading every input (task files, model folders)", announce=False):
        planned = [(spec, spec.build()) for spec in suite]
        planned = [(spec, task) for spec, task in planned if task.default_metrics]
        if not planned:
            raise InputError("checkpoints: the suite has no tested task (retrieval, sts, classification, ...)")
        for spec, task in planned:
            with located(f"task {spec.name}"):
                task.inputs()
        for name in [base, *checkpoints]:
            if not name.startswith("store:"):
                model_folder(name)
        chooser = split_task(*planned[0], select_on) if isinstance(select_on, str) else None
    results: dict[str, dict[str, TaskResult]] = {}
    chosen_on: dict[str, TaskResult] = {}                                # each model's run of the selection split
    for which, name in [("before", base), *(("after", c) for c in checkpoints)]:
        model = load_model(name, trust_remote_code=config.trust_remote_code)
        prompts = 0 if which == "before" else 1
        for spec, task in planned:
            with stage(f"task {spec.name} ({task.kind}), {name}"):
                results.setdefault(name, {})[spec.name] = run_checked(
                    task, model, task.options_for(which, config.opts.with_prompts(spec.prompts[prompts])))
        if chooser is not None:
            spec = planned[0][0]
            with stage(f"task {spec.name} on split {select_on} (to choose on), {name}"):
                chosen_on[name] = run_checked(chooser, model, chooser.options_for(
                    which, config.opts.with_prompts(spec.prompts[prompts])))
        del model
    with stage(f"paired tests ({len(checkpoints)} checkpoints x {len(planned)} tasks)"):
        family = checkpoint_family(planned, results[base], {c: results[c] for c in checkpoints}, config)
        spec, task = planned[0]
        if isinstance(select_on, str):
            selection = split_selection(spec, task, results[base][spec.name],
                                        {c: results[c][spec.name] for c in checkpoints}, chosen_on[base],
                                        {c: chosen_on[c] for c in checkpoints}, family, config, select_on)
        else:
            selection = honest_selection(spec, task, results[base][spec.name],
                                         {c: results[c][spec.name] for c in checkpoints}, family, config, select_on)
    return CheckpointComparison(
        spacekit_version=__version__, created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), base=base,
        alpha=config.alpha, seed=config.seed, resamples=config.resamples, correction=config.correction,
        checkpoints=tuple(family), selection=selection, headline=checkpoint_headline(family, selection))
