"""The verdict: which tests form its family, how each test is judged (spacekit.practical's rule), the headline that
names the rows behind it, and the in-domain vs holdout statement.

The family is what the verdict claims: each tested task's main metric, judged on its leak-free items when the
leakage check found leaked ones. Secondary metrics are corrected as a family of their own and never decide the
headline.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

import numpy as np

from spacekit.compare.config import CompareConfig
from spacekit.compare.entry import TaskEntry
from spacekit.compare.metric_test import MetricTest
from spacekit.practical import adjust, decide, needed_items, strictest_level
from spacekit.records import Json

ORDER = ("improved", "regressed", "negligible change", "equivalent", "inconclusive", "no significant change")


@dataclass(frozen=True)
class HeadlineRow:
    """One tested task's main metric as the verdict judged it (basis: how its items differ from all items)."""

    task: str
    tag: str
    metric: str
    basis: str | None
    delta: float
    ci_low: float
    ci_high: float
    verdict: str
    margin: float
    needed_n: int | None
    higher_is_better: bool


@dataclass(frozen=True)
class Headline:
    """The verdict, the rows behind it, and the rule that turned the rows into it."""

    verdict: str
    rows: tuple[HeadlineRow, ...]
    rule: str
    correction: str
    alpha: float
    warnings: tuple[str, ...] = ()      # what the rows hide (a Simpson reversal in a task's slices)


@dataclass(frozen=True)
class TagSummary:
    """The headline's rows of one tag (in-domain or holdout): how many, improved, regressed, their mean change, and
    each change named."""

    tasks: int
    improved: int
    regressed: int
    mean_delta: float | None
    changes: str


@dataclass(frozen=True)
class Overfitting:
    """In-domain against holdout: the rows of each tag, whether the model over-specialised (in-domain improved while
    holdout regressed), the conclusion by the rule in docs/conventions.md, and a one-sentence note."""

    in_domain: Annotated[TagSummary, Json(key="in-domain")]
    holdout: TagSummary
    over_specialised: bool
    conclusion: str
    note: str


def judge(entries: list[TaskEntry], config: CompareConfig) -> list[TaskEntry]:
    """The entries with the main-metric family (the verdict's) and the secondary family corrected and judged, each
    on the tests the task is judged by (its leak-free re-score when it has one)."""
    cells = [dict(e.basis()[0]) for e in entries]
    families = {"main": [(i, e.main_metric) for i, e in enumerate(entries)],
                "secondary": [(i, name) for i, e in enumerate(entries) for name in cells[i] if name != e.main_metric]}
    for family, keys in families.items():
        judged = judged_family([cells[i][name] for i, name in keys], config, family)
        level = strictest_level(config.alpha, config.correction, sum(t.p_adjusted is not None for t in judged))
        for (i, name), t in zip(keys, judged, strict=True):
            cells[i][name] = dataclasses.replace(
                t, power_level=level,
                needed_n=needed_items(t.sd, t.margin, level) if t.verdict == "inconclusive" else None)
    return [_with_basis(e, judged) for e, judged in zip(entries, cells, strict=True)]


def judged_family(tests: list[MetricTest], config: CompareConfig, family: str) -> list[MetricTest]:
    """One family's tests with their p-values (and TOST p-values) corrected together by the run's correction, each
    judged by the verdict's rule (practical.decide) and named with its family."""
    p = adjust([t.p_value for t in tests], config.correction)
    tost = adjust([t.tost_p for t in tests], config.correction)
    return [dataclasses.replace(t, family=family, p_adjusted=p_adj, tost_adjusted=tost_adj,
                                verdict=decide(t.delta, t.ci_low, t.ci_high, p_adj, tost_adj, t.margin, config.alpha,
                                               t.higher_is_better))
            for t, p_adj, tost_adj in zip(tests, p, tost, strict=True)]


def _with_basis(entry: TaskEntry, metrics: dict[str, MetricTest]) -> TaskEntry:
    """The entry with the tests it is judged by replaced."""
    if entry.leak_free is not None:
        return dataclasses.replace(entry, leak_free=dataclasses.replace(entry.leak_free, metrics=metrics))
    return dataclasses.replace(entry, metrics=metrics)


def headline(entries: list[TaskEntry], config: CompareConfig) -> Headline:
    """The verdict, the rows (one per task: its main metric as judged) and the rule: the report's first line."""
    rows = []
    for e in entries:
        c, based_on = e.main, e.basis()[1]
        if c.verdict is None:
            raise ValueError(f"task {e.name}: judge() the entries before the headline")
        rows.append(HeadlineRow(task=e.name, tag=e.tag, metric=e.main_metric, basis=based_on, delta=c.delta,
                                ci_low=c.ci_low, ci_high=c.ci_high, verdict=c.verdict,
                                margin=c.margin, needed_n=c.needed_n, higher_is_better=c.higher_is_better))
    margins = ", ".join(dict.fromkeys(f"{r.metric} {r.margin:g}" for r in rows))
    rule = (f"each tested task's main metric decides ({len(rows)} test{'s' if len(rows) != 1 else ''}, "
            f"{config.correction} correction, alpha {config.alpha}); a change counts when significant and at least "
            f"its margin ({margins or 'none'})")
    return Headline(overall([r.verdict for r in rows]), tuple(rows), rule, config.correction, config.alpha)


def overall(verdicts: list[str]) -> str:
    """improved, regressed, mixed (both), inconclusive (neither, and one undecided), no meaningful change (every
    change negligible or equivalent), no significant change (margins of 0, nothing found), or nothing tested (a
    suite of observed kinds only: probes, geometry, queries)."""
    if not verdicts:
        return "nothing tested"
    found = set(verdicts)
    if {"improved", "regressed"} <= found:
        return "mixed"
    for word in ("improved", "regressed", "inconclusive"):
        if word in found:
            return word
    if found and found <= {"negligible change", "equivalent"}:
        return "no meaningful change"
    return "no significant change"


def _signed(x: float) -> str:
    return f"{x:+.4f}" if np.isfinite(x) else "undefined"


def overfitting(rows: tuple[HeadlineRow, ...] | list[HeadlineRow]) -> Overfitting:
    """In-domain vs holdout from the headline's rows: every holdout change is named (a drop inside its margin too),
    and the conclusion follows the rule in docs/conventions.md."""
    def summary(tag: str) -> TagSummary:
        mine = [r for r in rows if r.tag == tag]
        return TagSummary(
            tasks=len(mine), improved=sum(r.verdict == "improved" for r in mine),
            regressed=sum(r.verdict == "regressed" for r in mine),
            mean_delta=float(np.mean(finite)) if (finite := [r.delta for r in mine if np.isfinite(r.delta)]) else None,
            changes=", ".join(f"{r.task} {r.metric} {_signed(r.delta)} ({r.verdict})" for r in mine) or "no task")

    in_domain, held_out = summary("in-domain"), summary("holdout")
    holdout = [r for r in rows if r.tag == "holdout"]
    worse = lambda r: (r.delta < 0) == r.higher_is_better and r.delta != 0
    flag = in_domain.improved > 0 and held_out.regressed > 0
    if not holdout:
        conclusion = "no holdout task: over-specialisation cannot be judged"
    elif flag:
        conclusion = "over-specialised: in-domain improved while holdout regressed"
    elif held_out.regressed:
        conclusion = "holdout regressed"
    elif any(r.verdict == "negligible change" and worse(r) for r in holdout):
        conclusion = "holdout dropped, by less than its margin: a small cost, not over-specialisation by the rule"
    elif any(r.verdict in ("inconclusive", "no significant change") for r in holdout):
        conclusion = "holdout undecided: over-specialisation is not ruled out"
    else:
        conclusion = "no holdout drop"
    note = f"in-domain: {in_domain.changes}; holdout: {held_out.changes}. {conclusion[0].upper()}{conclusion[1:]}."
    return Overfitting(in_domain, held_out, flag, conclusion, note)
