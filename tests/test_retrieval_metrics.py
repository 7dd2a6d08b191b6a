"""Every retrieval metric equals pytrec_eval (trec_eval) per query, on runs built to hit the edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from spacekit.errors import InputError
from spacekit.metrics.retrieval import Judgements, RunScorer, evaluate, parse_metric
from spacekit.ranked_run import RankedRun

pytrec_eval = pytest.importorskip("pytrec_eval")
KS = [1, 3, 5, 10, 100, 1000]
TREC = {"ndcg": "ndcg_cut_{k}", "recall": "recall_{k}", "precision": "P_{k}", "map": "map_cut_{k}"}


def _random_case(seed: int, nq: int = 2500, ndoc: int = 3000):
    """Graded qrels (0-3, some queries with no relevant doc), tied scores, and qrels queries missing from the run."""
    rng = np.random.default_rng(seed)
    doc_ids = np.array([f"d{rng.integers(0, 10**6)}-{i}" for i in range(ndoc)])
    qrels, run = {}, {}
    for q in range(nq):
        qid = f"q{q}"
        judged = rng.choice(ndoc, size=rng.integers(1, 12), replace=False)
        qrels[qid] = {doc_ids[j]: int(rng.choice([0, 0, 1, 2, 3])) for j in judged}
        if q % 17 == 0:
            qrels[qid] = dict.fromkeys(qrels[qid], 0)               # judged, none relevant
        if q % 23 == 0:
            continue                                              # in qrels, not in the run
        depth = int(rng.integers(1, 150))
        pool = np.concatenate([judged[: rng.integers(0, len(judged) + 1)], rng.choice(ndoc, depth)])
        docs = list(dict.fromkeys(pool.tolist()))[:depth]
        scores = np.round(rng.standard_normal(len(docs)), 1)      # one decimal: many ties
        run[qid] = {doc_ids[j]: float(s) for j, s in zip(docs, scores, strict=True)}
    for q in range(nq, nq + 30):                                  # run queries with no qrels: ignored
        run[f"q{q}"] = {doc_ids[0]: 1.0}
    return qrels, run, doc_ids


def _ranked(run: dict, doc_ids: np.ndarray) -> RankedRun:
    """The run as arrays (spacekit.io's converter), in file order: evaluate() must sort it itself."""
    return RankedRun.from_dict(run)


@pytest.fixture(scope="module")
def case():
    return _random_case(0)


@pytest.mark.parametrize("kind", ["ndcg", "recall", "precision", "map"])
def test_cut_metrics_match_pytrec_eval(case, kind):
    qrels, run, doc_ids = case
    names = [f"{kind}@{k}" for k in KS]
    measures = {TREC[kind].format(k="").rstrip("_") + "." + ",".join(map(str, KS))}
    ref = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    ours = evaluate(qrels, _ranked(run, doc_ids), names)
    assert len(ours.query_ids) == len(ref) > 2000
    assert ours.skipped == sum(q not in run for q in qrels) > 0
    for name, k in zip(names, KS, strict=True):
        want = np.array([ref[q][TREC[kind].format(k=k)] for q in ours.query_ids])
        np.testing.assert_allclose(ours.per_query[name], want, rtol=0, atol=1e-9, err_msg=name)


def test_uncut_map_and_ndcg_and_reciprocal_rank_match_pytrec_eval(case):
    qrels, run, doc_ids = case
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"map", "ndcg", "recip_rank"}).evaluate(run)
    ours = evaluate(qrels, _ranked(run, doc_ids), ["map", "ndcg", "mrr"])
    for name, trec in [("map", "map"), ("ndcg", "ndcg"), ("mrr", "recip_rank")]:
        want = np.array([ref[q][trec] for q in ours.query_ids])
        np.testing.assert_allclose(ours.per_query[name], want, atol=1e-9, err_msg=name)


def test_all_queries_counts_missing_queries_as_zero_like_trec_eval_c(case):
    qrels, run, doc_ids = case
    ours = evaluate(qrels, _ranked(run, doc_ids), ["ndcg@10", "recall@100"], all_queries=True)
    assert ours.skipped == 0
    assert len(ours.query_ids) == len(qrels)
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    total = sum(m["ndcg_cut_10"] for m in ref.values())
    assert ours.means()["ndcg@10"] == pytest.approx(total / len(qrels), abs=1e-12)


def test_mrr_and_hit_at_k_by_definition(case):
    qrels, run, doc_ids = case
    ours = evaluate(qrels, _ranked(run, doc_ids), ["mrr@10", "hit@10"])
    for r, q in enumerate(ours.query_ids[:300]):  # trec order: score desc, doc id desc
        ranked = sorted(run[q].items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:10]
        first = next((i + 1 for i, (d, _) in enumerate(ranked) if qrels[q].get(d, 0) >= 1), None)
        assert ours.per_query["mrr@10"][r] == (1.0 / first if first else 0.0)
        assert ours.per_query["hit@10"][r] == (1.0 if first else 0.0)


def test_ordered_fast_path_equals_full_sort(case):
    qrels, run, doc_ids = case
    ranked = _ranked({q: dict(sorted(d.items(), key=lambda kv: -kv[1])) for q, d in run.items()}, doc_ids)
    fast = evaluate(qrels, RankedRun(ranked.query_ids, ranked.doc_ids, ranked.codes, ranked.scores, ordered=True),
                    ["ndcg@10", "map@100"])
    slow = evaluate(qrels, ranked, ["ndcg@10", "map@100"])
    for name in fast.per_query:
        np.testing.assert_array_equal(fast.per_query[name], slow.per_query[name])


def test_a_run_scored_block_by_block_equals_it_scored_whole(case):
    qrels, run, _ = case
    whole = RankedRun.from_dict(run)
    names = ["ndcg@10", "map", "recall@100", "mrr@10"]
    for all_queries in (False, True):
        want = evaluate(qrels, whole, names, all_queries=all_queries)
        judged = Judgements.build(qrels, {d: c for c, d in enumerate(whole.doc_ids.tolist())})
        scorer = RunScorer(judged, names, all_queries=all_queries)
        for lo in range(0, len(whole.query_ids), 97):                   # blocks of 97 queries, the last shorter
            rows = slice(lo, lo + 97)
            scorer.add(RankedRun(whole.query_ids[rows], whole.doc_ids, whole.codes[rows], whole.scores[rows]))
        got = scorer.result()
        assert got.query_ids == want.query_ids
        assert len(got.query_ids) > 97
        assert got.skipped == want.skipped == (0 if all_queries else sum(q not in run for q in qrels))
        np.testing.assert_array_equal(got.first_relevant_rank, want.first_relevant_rank)
        for name in names:
            np.testing.assert_array_equal(got.per_query[name], want.per_query[name], err_msg=name)


@pytest.mark.parametrize("bad", ["ndcg@0", "ndgc@10", "recall@x", ""])
def test_unknown_metric_names_are_input_errors(bad):
    with pytest.raises(InputError):
        parse_metric(bad)
