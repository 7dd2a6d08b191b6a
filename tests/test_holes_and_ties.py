"""Judged holes and tie orders (issue 34): Judged@k and judged-only nDCG equal ir_measures (random runs with judged
non-relevant documents; SciFact's BM25 and MiniLM runs), the tie bounds equal a brute-force reordering scored by
pytrec_eval, and a verdict that flips inside the band of readings says it is undecidable and lists the documents."""

from __future__ import annotations

import ir_measures
import numpy as np
import pytest
import pytrec_eval
from helpers import data_path

from spacekit.compare.holes import READINGS, HoleInputs, judged_holes
from spacekit.metrics.judged import condensed, judged_at, per_query, tie_bounds
from spacekit.ranked_run import RankedRun


def _random(seed: int, nq: int = 60, ndoc: int = 80, depth: int = 30, ties: bool = True):
    """A run (scores rounded so ties are common), and qrels judging some documents relevant, some not."""
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.permutation(ndoc)[:depth] for _ in range(nq)])
    scores = np.round(rng.random((nq, depth)), 1 if ties else 12)
    codes[::9, depth // 2:], scores[::9, depth // 2:] = -1, -np.inf
    doc_ids = np.array([f"d{i}" for i in range(ndoc)], dtype=object)
    qrels = {f"q{i}": {f"d{d}": int(rng.integers(0, 3)) for d in rng.choice(ndoc, 12, replace=False)}
             for i in range(nq)}
    return RankedRun([f"q{i}" for i in range(nq)], doc_ids, codes, scores), qrels


def _as_dict(run: RankedRun) -> dict[str, dict[str, float]]:
    return {q: {run.doc_ids[c]: float(s) for c, s in zip(run.codes[r], run.scores[r], strict=True) if c >= 0}
            for r, q in enumerate(run.query_ids)}


def _ir_measures(qrels, run: RankedRun, k: int) -> dict[str, dict[str, float]]:
    measures = {"judged": ir_measures.Judged @ k, "ndcg": ir_measures.nDCG(judged_only=True) @ k}
    out: dict[str, dict[str, float]] = {name: {} for name in measures}
    for m in ir_measures.iter_calc(list(measures.values()), qrels, _as_dict(run)):
        name = next(n for n, measure in measures.items() if measure == m.measure)
        out[name][m.query_id] = m.value
    return out


def _check_against_ir_measures(qrels, run: RankedRun, k: int) -> None:
    theirs = _ir_measures(qrels, run, k)
    ours = judged_at(run, qrels, k)
    assert set(ours) == set(theirs["judged"])
    for q, value in theirs["judged"].items():
        assert ours[q] == pytest.approx(value, abs=1e-9), q
    ids = list(theirs["ndcg"])
    got = per_query(qrels, condensed(run, qrels), f"ndcg@{k}", ids)
    np.testing.assert_allclose(got, [theirs["ndcg"][q] for q in ids], rtol=0, atol=1e-9)


@pytest.mark.parametrize("k", [5, 10])
def test_judged_at_k_and_judged_only_ndcg_equal_ir_measures_on_random_runs(k):
    run, qrels = _random(0, ties=False)          # ir_measures' Judged breaks ties by id ascending, trec_eval descending
    _check_against_ir_measures(qrels, run, k)


def _brute_force_ties(run: RankedRun, qrels, metric: str, worst: bool) -> dict[str, float]:
    """Each row reordered in Python (score descending; inside a tie non-relevant first when worst), the order
    given to pytrec_eval as distinct scores."""
    reordered = {}
    for q, docs in _as_dict(run).items():
        grade = qrels.get(q, {})
        order = sorted(docs, key=lambda d: (-docs[d], (1 if worst else -1) * max(grade.get(d, 0), 0)))
        reordered[q] = {d: float(len(order) - i) for i, d in enumerate(order)}
    name = {"ndcg@10": "ndcg_cut_10", "mrr@10": "recip_rank", "recall@10": "recall_10"}[metric]
    if metric == "mrr@10":
        reordered = {q: dict(list(d.items())[:10]) for q, d in reordered.items()}
    scored = pytrec_eval.RelevanceEvaluator(qrels, {name.rsplit("_", 1)[0] if "cut" in name else name,
                                                    "ndcg_cut", "recall"}).evaluate(reordered)
    return {q: v[name] for q, v in scored.items()}


@pytest.mark.parametrize("metric", ["ndcg@10", "mrr@10", "recall@10"])
def test_tie_bounds_equal_a_brute_force_reordering(metric):
    run, qrels = _random(1)
    ids = [q for q in run.query_ids if any(v >= 1 for v in qrels[q].values())]
    worst, best = tie_bounds(run, qrels, metric, ids)
    for bound, is_worst in ((worst, True), (best, False)):
        want = _brute_force_ties(run, qrels, metric, is_worst)
        np.testing.assert_allclose(bound, [want[q] for q in ids], rtol=0, atol=1e-12)
    assert (best >= worst).all()
    assert (best > worst).any()
    standard = per_query(qrels, run, metric, ids)                  # trec_eval's own order lies between
    assert (worst <= standard + 1e-12).all()
    assert (standard <= best + 1e-12).all()


def _inputs(before: RankedRun, after: RankedRun, qrels) -> HoleInputs:
    ids = [q for q in before.query_ids if q in qrels]
    return HoleInputs(qrels, before, after, ids, {q: f"text of {q}" for q in ids},
                      {d: f"document {d}" for d in before.doc_ids})


def test_a_verdict_that_flips_inside_the_band_is_undecidable_and_lists_the_documents():
    """After puts an unjudged document above the relevant one in every query: read as non-relevant it regressed;
    read as relevant (or left out) it did not."""
    nq = 40
    doc_ids = np.array(["rel", "other", *[f"new{i}" for i in range(nq)]], dtype=object)
    codes_b = np.array([[0, 1, -1] for _ in range(nq)])
    codes_a = np.array([[2 + i, 0, 1] for i in range(nq)])
    scores = np.array([[3.0, 2.0, 1.0]] * nq)
    ids = [f"q{i}" for i in range(nq)]
    qrels = {q: {"rel": 1, "other": 0} for q in ids}
    before = RankedRun(ids, doc_ids, codes_b, np.where(codes_b >= 0, scores, -np.inf))
    after = RankedRun(ids, doc_ids, codes_a, scores)
    holes = judged_holes(_inputs(before, after, qrels), "ndcg@10", 10, margin=0.01, higher_is_better=True,
                         alpha=0.05, resamples=2000, seed=0)
    standard, judged_only, optimistic = (holes.readings[r] for r in READINGS)
    assert standard.verdict == "regressed"
    assert standard.delta == pytest.approx(1 / np.log2(3) - 1)
    assert judged_only.delta == pytest.approx(0.0)
    assert optimistic.delta > 0
    assert holes.undecidable is not None
    assert "undecidable without judging 40 more documents" in holes.undecidable
    assert holes.unjudged_pairs == nq
    assert len(holes.sheet_rows) == nq
    assert {(r["query_id"], r["doc_id"], r["shown_by"]) for r in holes.sheet_rows} == \
        {(f"q{i}", f"new{i}", "after") for i in range(nq)}
    assert holes.judged_before == pytest.approx(1.0)
    assert holes.judged_after == pytest.approx(2 / 3)


def test_a_verdict_the_readings_agree_on_is_not_flagged():
    run, qrels = _random(2, ties=False)
    holes = judged_holes(_inputs(run, run, qrels), "ndcg@10", 10, margin=0.01, higher_is_better=True, alpha=0.05,
                         resamples=500, seed=0)
    assert holes.undecidable is None
    assert holes.sheet is None
    assert not holes.sheet_rows
    assert all(t.delta == 0 for t in holes.readings.values())


@pytest.mark.real
@pytest.mark.model
def test_on_scifacts_runs_judged_and_ties_equal_the_references(scifact_runs):
    from spacekit.io.beir import read_beir

    qrels = read_beir(data_path("scifact"), "test").qrels
    for run in scifact_runs:
        _check_against_ir_measures(qrels, run, 10)
        ids = [q for q in run.query_ids if q in qrels]
        for metric in ("ndcg@10", "mrr@10"):
            worst, best = tie_bounds(run, qrels, metric, ids)
            for bound, is_worst in ((worst, True), (best, False)):
                want = _brute_force_ties(run, qrels, metric, is_worst)
                np.testing.assert_allclose(bound, [want[q] for q in ids], rtol=0, atol=1e-12)


@pytest.fixture
def scifact_runs():
    """SciFact's BM25 run (many ties) and MiniLM's dense run, each query's top 100 (function-scoped: the session's
    text cache, which the Ray test filled, is only set for a test's own fixtures)."""
    from spacekit.embed import load_model
    from spacekit.embed.options import EncodeOptions
    from spacekit.io.beir import read_beir
    from spacekit.ops.lexical import Bm25
    from spacekit.tasks.retrieval import RetrievalTask

    folder = data_path("scifact")
    data = read_beir(folder, "test")
    codes, scores = Bm25(data.corpus.texts).search(data.queries.texts, 100)
    bm25 = RankedRun(data.queries.ids, np.array(data.corpus.ids, dtype=object), codes, scores, ordered=True)
    dense = RetrievalTask(data=folder, metrics=["ndcg@10"], depth=100).run(load_model("builtin:minilm"),
                                                                          EncodeOptions())
    return bm25, dense.run
