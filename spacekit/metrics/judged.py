"""How a run's metrics depend on the documents nobody judged (the holes of the qrels), and on the order of exactly
tied scores.

Judged@k is ir_measures' definition: the share of a query's top k (k, or the run's length when shorter) that has a
judgement of any grade. The three readings of a metric: unjudged documents as non-relevant (trec_eval's standard),
judged only (Sakai 2007's condensed list: unjudged documents removed before ranking; pytrec_eval's
judged_docs_only_flag), and unjudged as relevant (grade 1; the optimistic reading, which needs a shared judgement
set: `optimistic_qrels` adds every unjudged document either run ranks in a query's top k, so both runs face the same
qrels). Tie orders: each row's equal scores ordered worst-first (non-relevant first) and best-first; every other
rule (trec_eval's id order) lies between them.
"""

from __future__ import annotations

import numpy as np

from spacekit.metrics.retrieval import Judgements, _judge, _metric, _trec_order, evaluate, parse_metric
from spacekit.ranked_run import RankedRun

Qrels = dict[str, dict[str, int]]


def ranked(run: RankedRun) -> tuple[np.ndarray, np.ndarray]:
    """(codes, scores) of every row in trec_eval's order (score descending, then document id descending)."""
    return _trec_order(run.codes, np.asarray(run.scores, np.float64), run.doc_ids, run.ordered)


def judged_at(run: RankedRun, qrels: Qrels, k: int) -> dict[str, float]:
    """Judged@k per query of the run that has qrels (ir_measures' Judged@k)."""
    return judged_share(top_docs(run, k), qrels)


def judged_share(tops: dict[str, list[str]], qrels: Qrels) -> dict[str, float]:
    """Per query with qrels, the share of its top list (top_docs) that has a judgement (0 for an empty list)."""
    return {q: sum(d in qrels[q] for d in top) / len(top) if top else 0.0 for q, top in tops.items() if qrels.get(q)}


def condensed(run: RankedRun, qrels: Qrels) -> RankedRun:
    """The run with every document its query's qrels do not judge removed (Sakai's condensed list)."""
    code_of = {d: c for c, d in enumerate(run.doc_ids)}
    judged = np.zeros(run.codes.shape, bool)
    for r, q in enumerate(run.query_ids):
        codes = [code_of[d] for d in qrels.get(q, {}) if d in code_of]
        judged[r] = np.isin(run.codes[r], codes) & (run.codes[r] >= 0)
    return RankedRun(run.query_ids, run.doc_ids, np.where(judged, run.codes, -1),
                     np.where(judged, np.asarray(run.scores, np.float64), -np.inf), ordered=False)


def top_docs(run: RankedRun, k: int) -> dict[str, list[str]]:
    """Each query's top k document ids in trec_eval's order."""
    codes, _ = ranked(run)
    return {q: [run.doc_ids[c] for c in codes[r, :k] if c >= 0] for r, q in enumerate(run.query_ids)}


def unjudged_top(tops: list[dict[str, list[str]]], qrels: Qrels) -> dict[str, list[str]]:
    """Per query with qrels, the unjudged documents in any of the top lists (top_docs; the first list's order
    first)."""
    out: dict[str, list[str]] = {}
    for top in tops:
        for q, docs in top.items():
            if q in qrels:
                holes = out.setdefault(q, [])
                holes += [d for d in docs if d not in qrels[q] and d not in holes]
    return {q: docs for q, docs in out.items() if docs}


def optimistic_qrels(qrels: Qrels, holes: dict[str, list[str]]) -> Qrels:
    """The qrels with each hole judged relevant (grade 1)."""
    return {q: {**judged, **dict.fromkeys(holes.get(q, []), 1)} for q, judged in qrels.items()}


def per_query(qrels: Qrels, run: RankedRun, metric: str, query_ids: list[str]) -> np.ndarray:
    """The metric for each of query_ids (0 for one the run lacks, as trec_eval -c scores it)."""
    scores = evaluate(qrels, run, [metric], all_queries=True)
    value = dict(zip(scores.query_ids, scores.per_query[metric].tolist(), strict=True))
    return np.array([value.get(q, 0.0) for q in query_ids])


def tie_bounds(run: RankedRun, qrels: Qrels, metric: str, query_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(worst, best): the metric per query of query_ids with each row's exactly tied scores ordered non-relevant
    first, then relevant first (rows the run lacks: 0)."""
    kind, k = parse_metric(metric)
    judged = Judgements.build(qrels, {d: c for c, d in enumerate(run.doc_ids)})
    row_of = {q: r for r, q in enumerate(run.query_ids)}
    present = [q for q in query_ids if q in row_of and q in judged.row_of]
    rows = np.array([row_of[q] for q in present], np.int64)
    codes, scores = ranked(RankedRun(present, run.doc_ids, run.codes[rows], run.scores[rows], run.ordered))
    jrows = np.array([judged.row_of[q] for q in present], np.int64)
    rel = _judge(codes, jrows, judged)
    bounds = []
    for sign in (1, -1):                                  # worst: relevance ascending inside a tie; best: descending
        order = np.lexsort((sign * rel, -scores), axis=-1)
        values = _metric(kind, k, np.take_along_axis(rel, order, 1), judged.num_rel[jrows], judged.ideal[jrows])
        value = dict(zip(present, values.tolist(), strict=True))
        bounds.append(np.array([value.get(q, 0.0) for q in query_ids]))
    return bounds[0], bounds[1]
