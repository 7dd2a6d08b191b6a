"""Ranking metrics exactly as trec_eval computes them (pytrec_eval agrees), vectorised over padded arrays.

Conventions (trec_eval): documents are ranked by score descending, equal scores by document id descending;
rel >= 1 is relevant; nDCG uses the graded value as gain (rel <= 0 gains nothing) with log2(rank + 1)
discounts, and its ideal ranking uses every judged document; precision@k divides by k; MAP@k divides by the
number of relevant documents. Queries absent from the run are skipped (or scored 0 with all_queries, like
trec_eval -c); run queries without qrels are ignored. MRR@k is 1/rank of the first relevant document in the top
k (0 if none), as MTEB computes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from spacekit.errors import InputError
from spacekit.ranked_run import RankedRun

KINDS = ("ndcg", "recall", "precision", "map", "mrr", "hit")
_NAME = re.compile(r"^(ndcg|recall|precision|map|mrr|hit)(?:@(\d+))?$")


def parse_metric(name: str) -> tuple[str, int | None]:
    """'ndcg@10' -> ('ndcg', 10); 'map' -> ('map', None) (no cut-off)."""
    m = _NAME.match(name.strip().lower())
    if not m or (m.group(2) is not None and int(m.group(2)) < 1):
        raise InputError(f"unknown retrieval metric {name!r} (use {'|'.join(KINDS)} with an optional @k, k >= 1)")
    return m.group(1), int(m.group(2)) if m.group(2) else None


@dataclass(frozen=True)
class RetrievalScores:
    """Per-query metric values for the evaluated queries, and how many qrels queries the run skipped."""

    query_ids: list[str]
    per_query: dict[str, np.ndarray]
    skipped: int
    first_relevant_rank: np.ndarray  # (nq,) 1-based rank of the first relevant doc in the run, 0 if none

    def means(self) -> dict[str, float]:
        """Mean of each metric over the evaluated queries (plain floats, never rounded)."""
        return {k: float(v.mean()) if len(v) else 0.0 for k, v in self.per_query.items()}


@dataclass(frozen=True)
class Judgements:
    """Qrels compiled against a document code space (like pytrec_eval's RelevanceEvaluator(qrels)).

    Entry e judges document code codes[e] (-2 when the document is not in the code space) for query qrow[e]
    with relevance rels[e]; ideal[j] holds query j's gains sorted descending (0-padded).
    """

    query_ids: list[str]
    row_of: dict[str, int]
    qrow: np.ndarray      # (E,) int64
    codes: np.ndarray     # (E,) int64
    rels: np.ndarray      # (E,) float64
    num_rel: np.ndarray   # (nj,) int64
    ideal: np.ndarray     # (nj, width) float64

    @classmethod
    def build(cls, qrels: dict[str, dict[str, int]], code_of: dict[str, int]) -> Judgements:
        """Compile qrels {qid: {docid: rel}} with code_of {docid: code}."""
        query_ids = list(qrels)
        sizes = np.fromiter((len(qrels[q]) for q in query_ids), np.int64, len(query_ids))
        qrow = np.repeat(np.arange(len(query_ids)), sizes)
        codes = np.fromiter((code_of.get(d, -2) for q in query_ids for d in qrels[q]), np.int64, int(sizes.sum()))
        rels = np.fromiter((v for q in query_ids for v in qrels[q].values()), np.float64, int(sizes.sum()))
        gains = np.maximum(rels, 0)
        order = np.lexsort((-gains, qrow))                                  # by query, gains descending
        start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        slot = np.arange(len(order)) - np.repeat(start, sizes)              # position within its query
        ideal = np.zeros((len(query_ids), max(1, int(sizes.max(initial=0)))))
        ideal[qrow[order], slot] = gains[order]
        num_rel = np.bincount(qrow, weights=rels >= 1, minlength=len(query_ids)).astype(np.int64)
        return cls(query_ids, {q: j for j, q in enumerate(query_ids)}, qrow, codes, rels, num_rel, ideal)


def evaluate(qrels: dict[str, dict[str, int]] | Judgements, run: RankedRun, metrics: list[str], *,
             all_queries: bool = False) -> RetrievalScores:
    """Score a run against qrels; per-query values for every metric name (e.g. 'ndcg@10')."""
    judged = qrels if isinstance(qrels, Judgements) else \
        Judgements.build(qrels, {d: c for c, d in enumerate(np.asarray(run.doc_ids).tolist())})
    scorer = RunScorer(judged, metrics, all_queries=all_queries)
    scorer.add(run)
    return scorer.result()


class RunScorer:
    """evaluate() over a run that arrives block by block (queries split across blocks, each query in one): memory
    follows one block, not the whole run. Queries come back in the order they arrived (then, with all_queries, the
    judged queries no block held, scoring 0)."""

    def __init__(self, judged: Judgements, metrics: list[str], *, all_queries: bool = False) -> None:
        self.judged, self.all_queries = judged, all_queries
        self.parsed = {m: parse_metric(m) for m in metrics}
        self.query_ids: list[str] = []
        self.parts: list[tuple[dict[str, np.ndarray], np.ndarray]] = []
        self.seen: set[str] = set()

    def add(self, run: RankedRun) -> None:
        """Score the judged queries of one block of the run."""
        judged = self.judged
        self.seen.update(run.query_ids)
        row_of = {q: r for r, q in enumerate(run.query_ids)}
        evaluated = [q for q in row_of if q in judged.row_of]
        rows = np.array([row_of[q] for q in evaluated], dtype=np.int64)
        codes, _ = _trec_order(run.codes[rows], np.asarray(run.scores[rows], np.float64), run.doc_ids,
                               run.ordered)
        jrows = np.array([judged.row_of[q] for q in evaluated], dtype=np.int64)
        ranked_rel = _judge(codes, jrows, judged)
        num_rel, ideal = judged.num_rel[jrows], judged.ideal[jrows]
        per_query = {name: _metric(kind, k, ranked_rel, num_rel, ideal) for name, (kind, k) in self.parsed.items()}
        relevant = ranked_rel >= 1
        self.parts.append((per_query, np.where(relevant.any(1), relevant.argmax(1) + 1, 0)))
        self.query_ids += evaluated

    def result(self) -> RetrievalScores:
        """Every block's per-query values, in arrival order; the judged queries no block held are skipped (or, with
        all_queries, score 0 like trec_eval -c)."""
        missing = [q for q in self.judged.query_ids if q not in self.seen]
        padding = len(missing) if self.all_queries else 0
        per_query = {m: np.concatenate([p[m] for p, _ in self.parts] + [np.zeros(padding)]) for m in self.parsed}
        first = np.concatenate([f for _, f in self.parts] + [np.zeros(padding, np.int64)]).astype(np.int64)
        return RetrievalScores(self.query_ids + (missing if self.all_queries else []), per_query,
                               0 if self.all_queries else len(missing), first)


def evaluate_ragged(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], metrics: list[str], *,
                    all_queries: bool = False, max_cells: int = 1 << 22) -> RetrievalScores:
    """evaluate() over a run given as {qid: {docid: score}}, in groups of queries of similar depth, each group
    padded only to its own deepest query (at most max_cells ranked entries): memory follows the run's size, not
    queries x its deepest query. Queries come back in the run's order (then qrels queries it lacks, with
    all_queries, scoring 0 on every metric)."""
    for m in metrics:
        parse_metric(m)
    parts: list[RetrievalScores] = []
    group: list[str] = []
    for qid in sorted((q for q in run if q in qrels), key=lambda q: len(run[q])):
        if group and (len(group) + 1) * len(run[qid]) > max_cells:
            parts.append(evaluate({q: qrels[q] for q in group}, RankedRun.from_dict({q: run[q] for q in group}),
                                  metrics))
            group = []
        group.append(qid)
    if group:
        parts.append(evaluate({q: qrels[q] for q in group}, RankedRun.from_dict({q: run[q] for q in group}),
                              metrics))
    row = {q: (p, i) for p in parts for i, q in enumerate(p.query_ids)}
    order = [q for q in run if q in row]
    missing = [q for q in qrels if q not in run]
    per_query = {m: np.array([row[q][0].per_query[m][row[q][1]] for q in order] + [0.0] * (len(missing) *
                                                                                           all_queries))
                 for m in metrics}
    first = np.array([row[q][0].first_relevant_rank[row[q][1]] for q in order] + [0] * (len(missing) *
                                                                                         all_queries), np.int64)
    return RetrievalScores(order + (missing if all_queries else []), per_query, 0 if all_queries else len(missing),
                           first)


def _string_rank(ids: np.ndarray) -> np.ndarray:
    """Rank of each id in string order (code point order = strcmp order on UTF-8)."""
    order = np.argsort(np.asarray(ids, dtype=str), kind="stable")
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _trec_order(codes: np.ndarray, scores: np.ndarray, doc_ids: np.ndarray, ordered: bool):
    """Rows sorted by score descending, then doc id descending (trec_eval); padding (-1) last."""
    if ordered:  # only rows with an equal neighbour can be out of trec order
        rows = np.flatnonzero((scores[:, 1:] == scores[:, :-1]).any(1)) if scores.shape[1] > 1 else np.zeros(0, int)
    else:
        rows = np.arange(len(codes))
    if len(rows) == 0:
        return codes, scores
    codes, scores = codes.copy(), scores.copy()
    sub_codes, sub_scores = codes[rows], scores[rows]
    present = np.unique(sub_codes[sub_codes >= 0])                          # only the docs these rows hold
    rank_of = np.full(len(doc_ids), -1, np.int64)
    rank_of[present] = _string_rank(np.asarray(doc_ids)[present])
    rank = np.where(sub_codes >= 0, rank_of[np.maximum(sub_codes, 0)], -1)
    sub = np.lexsort((-rank, -sub_scores), axis=-1)
    codes[rows] = np.take_along_axis(sub_codes, sub, 1)
    scores[rows] = np.take_along_axis(sub_scores, sub, 1)
    return codes, scores


def relevance_of(run: RankedRun, judged: Judgements, query_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(relevant: (len(query_ids), depth) bool, whether each ranked document of the query's run row is relevant
    (rel >= 1; False where the query is not in the run); each query's relevant documents in the qrels). The run's
    rows are read in their stored order: an ordered run."""
    row_of = {q: r for r, q in enumerate(run.query_ids)}
    present = np.array([q in row_of for q in query_ids], bool)
    judged_row = np.array([judged.row_of.get(q, -1) for q in query_ids], np.int64)
    if (judged_row < 0).any():
        raise InputError(f"query {query_ids[int(np.argmax(judged_row < 0))]!r} has no judgements")
    relevant = np.zeros((len(query_ids), run.codes.shape[1]), bool)
    rows = np.array([row_of[q] for q, p in zip(query_ids, present, strict=True) if p], np.int64)
    if len(rows):
        relevant[present] = _judge(run.codes[rows], judged_row[present], judged) >= 1
    return relevant, judged.num_rel[judged_row]


def _judge(codes: np.ndarray, jrows: np.ndarray, judged: Judgements) -> np.ndarray:
    """(nq, depth) graded relevance of the ranked docs: each judgement is looked for in its query's row."""
    eval_row = np.full(len(judged.query_ids), -1, np.int64)
    eval_row[jrows] = np.arange(len(jrows))
    er = eval_row[judged.qrow]                                              # (E,) evaluated row or -1
    keep = er >= 0
    er, jcodes, rels = er[keep], judged.codes[keep], judged.rels[keep]
    ranked_rel = np.zeros(codes.shape)
    for lo in range(0, len(er), 1 << 16):                                   # bounded (chunk, depth) temporaries
        part = slice(lo, lo + (1 << 16))
        match = codes[er[part]] == jcodes[part, None]                       # (chunk, depth)
        hit = match.any(1)
        ranked_rel[er[part][hit], match[hit].argmax(1)] = rels[part][hit]
    return ranked_rel


def _metric(kind: str, k: int | None, ranked_rel: np.ndarray, num_rel: np.ndarray, ideal: np.ndarray):
    """One metric per query (float64) from the judged ranking."""
    nq, depth = ranked_rel.shape
    cut = depth if k is None else min(k, depth)
    rel = ranked_rel[:, :cut]
    binary = rel >= 1
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "precision":
            return binary.sum(1) / float(k if k is not None else max(depth, 1))
        if kind == "recall":
            return np.where(num_rel > 0, binary.sum(1) / np.maximum(num_rel, 1), 0.0)
        if kind == "hit":
            return binary.any(1).astype(float)
        if kind == "mrr":
            first = binary.argmax(1)
            return np.where(binary.any(1), 1.0 / (first + 1), 0.0)
        if kind == "map":
            ranks = np.arange(1, cut + 1)
            prec = np.cumsum(binary, 1) / ranks
            return np.where(num_rel > 0, (prec * binary).sum(1) / np.maximum(num_rel, 1), 0.0)
        if kind == "ndcg":
            disc = 1.0 / np.log2(np.arange(2, cut + 2))
            dcg = (np.maximum(rel, 0) * disc).sum(1)
            icut = ideal.shape[1] if k is None else min(k, ideal.shape[1])
            idcg = (ideal[:, :icut] * (1.0 / np.log2(np.arange(2, icut + 2)))).sum(1)
            return np.divide(dcg, idcg, out=np.zeros(nq), where=idcg > 0)
    raise InputError(f"unknown metric kind {kind!r}")
