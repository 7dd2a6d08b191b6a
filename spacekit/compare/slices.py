"""Where a task changed: its main metric tested paired on slices of its items, the p-values corrected across the
task's slices (its correction: Holm by default), and a Simpson warning when the task moved one way while a slice of
at least SIMPSON_SHARE of its items moved significantly the other.

Slicings: every item's length in words (its texts together: a query, a sentence pair), in tertiles by rank; for
retrieval, the query's lexical overlap with its relevant documents (the share of its content words, lower-cased,
scikit-learn's English stop words left out, that occur in one of them), in tertiles; and any field the items carry
(`TaskResult.item_fields`: a column of the queries file).
"""

from __future__ import annotations

import re

import numpy as np

from spacekit.compare.config import CompareConfig
from spacekit.compare.entry import SliceRow, TaskSlices
from spacekit.compare.metric_test import MetricTest
from spacekit.compare.paired import paired_test
from spacekit.compare.slicing import Slicing
from spacekit.compare.suite import TaskSpec
from spacekit.compare.verdict import judged_family
from spacekit.practical import margin_for
from spacekit.tasks import Task, TaskResult

SIMPSON_SHARE = 0.05     # the smallest slice (share of the items) a Simpson warning is raised for
MIN_SLICE = 2            # items a slice needs to be tested
MAX_GROUPS = 20          # a field with more distinct values is not sliced (an id, free text)
_WORD = re.compile(r"\w+")
TERTILES = ("low", "middle", "high")


def slicings(result: TaskResult) -> list[Slicing]:
    """The slicings of a task's items: length, lexical overlap (with targets), and each field with few values."""
    out: list[Slicing] = []
    words = np.array([sum(len(_WORD.findall(t)) for t in result.item_texts.get(i, [])) for i in result.item_ids])
    if len(words) >= 3 * MIN_SLICE:
        out.append(Slicing("length (words)", tertiles(words, "{:.0f}")))
    if result.item_targets is not None and len(words) >= 3 * MIN_SLICE:
        overlap = np.array([lexical_overlap(" ".join(result.item_texts.get(i, [])[:1]),
                                            result.item_targets.get(i, [])) for i in result.item_ids])
        out.append(Slicing("lexical overlap with the relevant documents", tertiles(overlap, "{:.2f}")))
    for name, values in result.item_fields.items():
        if len(set(values)) <= MAX_GROUPS:
            out.append(Slicing(name, [str(v) for v in values]))
    return [s for s in out if len(set(s.groups)) >= 2]          # one group is the whole task


def tertiles(values: np.ndarray, fmt: str) -> list[str]:
    """Each value's tertile by rank ('low: 1–5', 'middle: 6–9', 'high: 10–31'): the third its value's first rank
    falls in, so equal values share a tertile (one may then be empty)."""
    first_rank = np.searchsorted(np.sort(values), values, side="left")
    which = 3 * first_rank // len(values)
    labels = []
    for k, name in enumerate(TERTILES):
        members = values[which == k]
        labels.append(f"{name}: {fmt.format(members.min())}–{fmt.format(members.max())}" if len(members) else name)
    return [labels[k] for k in which]


def _group_order(group: str) -> tuple[int, str]:
    """Tertiles low, middle, high; other groups by name."""
    head = group.split(":", 1)[0]
    return (TERTILES.index(head) if head in TERTILES else len(TERTILES), group)


def lexical_overlap(query: str, targets: list[str]) -> float:
    """The share of the query's content words found in one of the target texts (0 with none)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = {w for w in _WORD.findall(query.lower()) if w not in ENGLISH_STOP_WORDS}
    if not words:
        return 0.0
    found = {w for t in targets for w in _WORD.findall(t.lower())}
    return len(words & found) / len(words)


def slice_section(task: Task, spec: TaskSpec, before: TaskResult, after: TaskResult, main: MetricTest,
                  metric: str, config: CompareConfig, task_name: str,
                  extra: list[Slicing] | None = None) -> TaskSlices | None:
    """The main metric tested on every slice of the task's items (its own slicings, then `extra`: None when none
    applies), corrected across them, and the Simpson warning when one fires."""
    groups = [(s.name, g, np.array([x == g for x in s.groups])) for s in [*slicings(before), *(extra or [])]
              for g in sorted(set(s.groups), key=_group_order)]
    groups = [(name, g, mask) for name, g, mask in groups if mask.sum() >= MIN_SLICE]
    if not groups:
        return None
    margin = margin_for(metric, {**config.min_effect, **spec.min_effect})
    tests = []
    for k, (_, _, mask) in enumerate(groups):
        paired = paired_test(task, metric, before, after, config, config.seed + 31 * k + 5, keep=mask, margin=margin)
        tests.append(MetricTest.of(paired, margin, task.metric_spec(metric).higher_is_better))
    rows = [SliceRow(slicing=name, group=g, n=int(mask.sum()), test=judged)
            for (name, g, mask), judged in zip(groups, judged_family(tests, config, "slices"), strict=True)]
    return TaskSlices(metric=metric, rows=tuple(rows), simpson=simpson(task_name, metric, main, rows, before.n))


def simpson(task: str, metric: str, main: MetricTest, rows: list[SliceRow], n: int) -> str | None:
    """The warning when the task improved (regressed) while a slice of at least SIMPSON_SHARE of its items
    significantly regressed (improved), naming the slices."""
    opposite = {"improved": "regressed", "regressed": "improved"}.get(main.verdict or "")
    if opposite is None:
        return None
    against = [r for r in rows if r.test.verdict == opposite and r.n >= SIMPSON_SHARE * n]
    if not against:
        return None
    named = "; ".join(f"{r.slicing} {r.group} (n={r.n}): {r.test.delta:+.4f} [{r.test.ci_low:+.4f}, "
                      f"{r.test.ci_high:+.4f}]" for r in against)
    return f"{task} {main.verdict} on {metric} overall ({main.delta:+.4f}) but {opposite} on {named}"
