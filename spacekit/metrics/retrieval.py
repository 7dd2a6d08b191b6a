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

KINDS = ("ndcg", "recall", "precision", "map", "mrr", "hit")
_NAME = re.compile(r"^(ndcg|recall|precision|map|mrr|hit)(?:@(\d+))?$")


def parse_metric(name: str) -> tuple[str, int | None]:
    """'ndcg@10' -> ('ndcg', 10); 'map' -> ('map', None) (no cut-off)."""
    m = _NAME.match(name.strip().lower())
    if not m or (m.group(2) is not None and int(m.group(2)) < 1):
        raise InputError(f"unknown retrieval metric {name!r} (use {'|'.join(KINDS)} with an optional @k, k >= 1)")
    return m.group(1), int(m.group(2)) if m.group(2) else None


@dataclass(frozen=True)
class RankedRun:
    """A run as arrays: per query row, corpus codes (-1 = padding) and scores; codes index doc_ids."""

    query_ids: list[str]
    doc_ids: np.ndarray          # (ndoc,) str
    codes: np.ndarray            # (nq, depth) int64
    scores: np.ndarray           # (nq, depth) float
    ordered: bool = False        # rows already by score descending (ties may still need the id rule)


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


def evaluate(qrels: dict[str, dict[str, int]], run: RankedRun, metrics: list[str], *,
             all_queries: bool = False) -> RetrievalScores:
    """Score a run against qrels; per-query values for every metric name (e.g. 'ndcg@10')."""
    parsed = {m: parse_metric(m) for m in metrics}
    row_of = {q: r for r, q in enumerate(run.query_ids)}
    evaluated = [q for q in run.query_ids if q in qrels]
    missing = [q for q in qrels if q not in row_of]
    if all_queries:
        evaluated += missing
    rows = np.array([row_of.get(q, -1) for q in evaluated], dtype=np.int64)
    depth = run.codes.shape[1]
    codes = np.full((len(rows), depth), -1, np.int64)
    scores = np.full((len(rows), depth), -np.inf)
    have = rows >= 0
    codes[have], scores[have] = run.codes[rows[have]], run.scores[rows[have]]
    doc_rank = _string_rank(run.doc_ids)
    codes, scores = _trec_order(codes, scores, doc_rank, run.ordered)
    ranked_rel, num_rel, ideal = _judge(codes, evaluated, qrels, run.doc_ids)
    per_query = {name: _metric(kind, k, ranked_rel, num_rel, ideal) for name, (kind, k) in parsed.items()}
    relevant = ranked_rel >= 1
    first = np.where(relevant.any(1), relevant.argmax(1) + 1, 0)
    return RetrievalScores(evaluated, per_query, 0 if all_queries else len(missing), first)


def _string_rank(ids: np.ndarray) -> np.ndarray:
    """Rank of each id in string order (code point order = strcmp order on UTF-8)."""
    order = np.argsort(np.asarray(ids, dtype=str), kind="stable")
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _trec_order(codes: np.ndarray, scores: np.ndarray, doc_rank: np.ndarray, ordered: bool):
    """Rows sorted by score descending, then doc id descending (trec_eval); padding (-1) last."""
    rank = np.where(codes >= 0, doc_rank[np.maximum(codes, 0)], -1)
    if ordered:  # only rows with an equal neighbour can be out of trec order
        rows = np.flatnonzero((scores[:, 1:] == scores[:, :-1]).any(1)) if scores.shape[1] > 1 else []
    else:
        rows = np.arange(len(codes))
    if len(rows):
        sub = np.lexsort((-rank[rows], -scores[rows]), axis=-1)
        codes[rows] = np.take_along_axis(codes[rows], sub, 1)
        scores[rows] = np.take_along_axis(scores[rows], sub, 1)
    return codes, scores


def _judge(codes: np.ndarray, queries: list[str], qrels: dict, doc_ids: np.ndarray):
    """(nq, depth) graded relevance of ranked docs, (nq,) number relevant, (nq, m) ideal gains descending."""
    code_of = {d: c for c, d in enumerate(doc_ids.tolist())}
    nq = len(queries)
    keys, rels, num_rel = [], [], np.zeros(nq, np.int64)
    width = max((len(qrels[q]) for q in queries), default=0)
    ideal = np.zeros((nq, max(1, width)))
    for r, q in enumerate(queries):
        judged = qrels[q]
        gains = np.array(sorted((max(0, v) for v in judged.values()), reverse=True), float)
        ideal[r, :len(gains)] = gains
        num_rel[r] = int((gains >= 1).sum())
        for d, v in judged.items():
            c = code_of.get(d)
            if c is not None:
                keys.append(r * len(doc_ids) + c)
                rels.append(v)
    keys_a, rels_a = np.array(keys, np.int64), np.array(rels, float)
    order = np.argsort(keys_a)
    keys_a, rels_a = keys_a[order], rels_a[order]
    wanted = np.arange(nq, dtype=np.int64)[:, None] * len(doc_ids) + codes
    pos = np.clip(np.searchsorted(keys_a, wanted), 0, max(0, len(keys_a) - 1))
    hit = (codes >= 0) & (len(keys_a) > 0) & (keys_a[pos] == wanted) if len(keys_a) else np.zeros_like(codes, bool)
    ranked_rel = np.where(hit, rels_a[pos] if len(rels_a) else 0.0, 0.0)
    return ranked_rel, num_rel, ideal


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
