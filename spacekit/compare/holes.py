"""Judged holes: how much of each model's top k nobody judged (Judged@k), the main metric read three ways (unjudged
as non-relevant, judged only, unjudged as relevant: spacekit.metrics.judged), the paired change under each, and,
when the verdict differs between the readings, the documents whose judgements would decide it, exported as a
judging sheet (the round trip: fill in its labels, `spacekit ab qrels` turns them into qrels).

The three verdicts are each reading's own (p not corrected across the task's metrics: a band of readings, not a
family of tests), so they are compared with one another, not with the task's corrected verdict. The task is
undecidable when the standard reading decides (improved, regressed, equivalent, a negligible change) and another
reading does not agree; an inconclusive standard reading has nothing to overturn (its label budget says what would
decide it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

import numpy as np

from spacekit import stats
from spacekit.compare.metric_test import MetricTest
from spacekit.metrics.judged import condensed, judged_share, optimistic_qrels, per_query, top_docs, unjudged_top
from spacekit.practical import decide
from spacekit.ranked_run import RankedRun
from spacekit.records import Json
from spacekit.tasks.queries import judging_sheet

READINGS = ("unjudged non-relevant", "judged only", "unjudged relevant")
DECIDED = ("improved", "regressed", "equivalent", "negligible change")   # verdicts another reading could overturn


@dataclass(frozen=True)
class JudgedHoles:
    """The main metric (the dense run's, at cut-off k) against the holes of the qrels: each model's mean Judged@k,
    the paired test under each reading (READINGS; each judged on its own), the unjudged (query, document) pairs in
    either model's top k, and when the readings' verdicts differ, the message and the judging sheet of those pairs."""

    metric: str
    k: int
    judged_before: float
    judged_after: float
    readings: Mapping[str, MetricTest]
    unjudged_pairs: int
    undecidable: str | None
    sheet: str | None
    sheet_rows: Annotated[tuple[Mapping[str, str], ...], Json(skip=True)] = ()


@dataclass(frozen=True)
class HoleInputs:
    """What the analysis reads: the qrels, both kept runs, the item ids and texts, the documents' texts."""

    qrels: dict[str, dict[str, int]]
    before: RankedRun
    after: RankedRun
    item_ids: list[str]
    query_text: Mapping[str, str]
    documents: Mapping[str, str]


def judged_holes(data: HoleInputs, metric: str, k: int, *, margin: float, higher_is_better: bool, alpha: float,
                 resamples: int, seed: int, device=None, sheet_name: str = "holes.csv") -> JudgedHoles:
    """The three readings of `metric` for both runs, their paired tests and verdicts, and the undecidable band."""
    ids = data.item_ids
    tops = [top_docs(run, k) for run in (data.before, data.after)]
    holes = unjudged_top(tops, data.qrels)
    optimistic = optimistic_qrels(data.qrels, holes)
    values = {READINGS[0]: [per_query(data.qrels, run, metric, ids) for run in (data.before, data.after)],
              READINGS[1]: [per_query(data.qrels, condensed(run, data.qrels), metric, ids)
                            for run in (data.before, data.after)],
              READINGS[2]: [per_query(optimistic, run, metric, ids) for run in (data.before, data.after)]}
    readings = {}
    for r, (name, (b, a)) in enumerate(values.items()):
        paired = stats.compare_metric(b, a, "mean", resamples=resamples, seed=seed + r, device=device, margin=margin)
        test = MetricTest.of(paired, margin, higher_is_better)
        verdict = decide(test.delta, test.ci_low, test.ci_high, test.p_value, test.tost_p, margin, alpha,
                         higher_is_better)
        readings[name] = dataclasses.replace(test, verdict=verdict)
    pairs = sum(len(v) for v in holes.values())
    standard = readings[READINGS[0]].verdict
    message = sheet = None
    rows: tuple[Mapping[str, str], ...] = ()
    if standard in DECIDED and any(t.verdict != standard for t in readings.values()) and pairs:
        band = ", ".join(f"{name}: {t.verdict} ({t.delta:+.4f})" for name, t in readings.items())
        message = (f"undecidable without judging {pairs} more documents: the verdict on {metric} changes with how "
                   f"unjudged documents are read ({band})")
        sheet = sheet_name
        shown = [{"id": q, "query": data.query_text.get(q, ""), "before": [d for d in tops[0].get(q, []) if d in docs],
                  "after": [d for d in tops[1].get(q, []) if d in docs]} for q, docs in holes.items()]
        rows = tuple(judging_sheet(shown, data.documents))
    judged = [judged_share(top, data.qrels) for top in tops]
    return JudgedHoles(metric=metric, k=k, judged_before=_mean(judged[0], ids), judged_after=_mean(judged[1], ids),
                       readings=readings, unjudged_pairs=pairs, undecidable=message, sheet=sheet, sheet_rows=rows)


def _mean(values: dict[str, float], ids: list[str]) -> float:
    """The mean over the items (one the run lacks counts 0)."""
    return float(np.mean([values.get(q, 0.0) for q in ids])) if ids else float("nan")

