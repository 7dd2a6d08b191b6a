"""Ranking metrics speed: spacekit vs pytrec_eval vs ranx on the same run (nDCG@10, recall@100, MRR).

    python benchmarks/bench_metrics.py [--nq 100000] [--depth 100]

The run is what ops.topk returns: (nq, depth) corpus indices with scores sorted descending. pytrec_eval and ranx
get the same run as dicts; spacekit's values are checked equal to pytrec_eval's (1e-9) before any timing counts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results

from spacekit.metrics.retrieval import Judgements, evaluate
from spacekit.ranked_run import RankedRun

METRICS = ["ndcg@10", "recall@100", "mrr"]


def make_case(nq: int, depth: int, ndoc: int = 1_000_000, seed: int = 0):
    """Random graded qrels (1-8 judged docs per query) and a sorted top-depth run that finds some of them."""
    rng = np.random.default_rng(seed)
    doc_ids = np.array([f"doc{i}" for i in range(ndoc)], dtype=object)
    codes = rng.integers(0, ndoc, size=(nq, depth))
    scores = -np.sort(-rng.random((nq, depth)), axis=1)
    qrels = {}
    for q in range(nq):
        n_judged = int(rng.integers(1, 9))
        judged = rng.integers(0, ndoc, n_judged)
        judged[: n_judged // 2] = codes[q, rng.integers(0, depth, n_judged // 2)]  # some retrieved
        qrels[f"q{q}"] = {doc_ids[j]: int(rng.integers(0, 4)) for j in judged}
    for q in range(nq):  # unique docs per row
        row = codes[q]
        _, first = np.unique(row, return_index=True)
        dup = np.setdiff1d(np.arange(depth), first)
        row[dup] = ndoc - 1 - dup
    return qrels, RankedRun([f"q{q}" for q in range(nq)], doc_ids, codes, scores, ordered=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nq", type=int, default=100_000)
    p.add_argument("--depth", type=int, default=100)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    qrels, run = make_case(args.nq, args.depth)
    run_dict = {q: {run.doc_ids[c]: float(s) for c, s in zip(run.codes[r], run.scores[r], strict=True)}
                for r, q in enumerate(run.query_ids)}
    rows = []
    t0 = time.perf_counter()
    judged = Judgements.build(qrels, {d: c for c, d in enumerate(run.doc_ids.tolist())})
    build_s = time.perf_counter() - t0
    evaluate(judged, run, METRICS)  # warm-up
    t0 = time.perf_counter()
    ours = evaluate(judged, run, METRICS)
    rows.append({"tool": "spacekit", "seconds": time.perf_counter() - t0, "setup_s": build_s})
    import pytrec_eval

    t0 = time.perf_counter()
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100", "recip_rank"})
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = evaluator.evaluate(run_dict)
    rows.append({"tool": "pytrec_eval", "seconds": time.perf_counter() - t0, "setup_s": setup_s})
    for name, trec in [("ndcg@10", "ndcg_cut_10"), ("recall@100", "recall_100"), ("mrr", "recip_rank")]:
        want = np.array([ref[q][trec] for q in ours.query_ids])
        assert np.abs(ours.per_query[name] - want).max() <= 1e-9, name
    try:
        from ranx import Qrels, Run
        from ranx import evaluate as ranx_evaluate

        t0 = time.perf_counter()
        rq, rr = Qrels(qrels), Run(run_dict)
        setup_s = time.perf_counter() - t0
        ranx_evaluate(rq, rr, ["ndcg@10", "recall@100", "mrr"])  # numba compile (first call)
        t0 = time.perf_counter()
        ranx_evaluate(rq, rr, ["ndcg@10", "recall@100", "mrr"])
        rows.append({"tool": "ranx (warm)", "seconds": time.perf_counter() - t0, "setup_s": setup_s})
    except ImportError:
        print("ranx not installed: skipped", file=sys.stderr)
    base = rows[0]["seconds"]
    for r in rows:
        r["x_spacekit"] = r["seconds"] / base
    print(f"{args.nq:,} queries x {args.depth} results; metrics {METRICS}; values equal pytrec_eval's to 1e-9")
    print("seconds = evaluate only; setup_s = compiling the qrels (spacekit Judgements.build, pytrec_eval "
          "RelevanceEvaluator, ranx Qrels+Run)")
    print_table(rows, ["tool", "seconds", "x_spacekit", "setup_s"])
    print("wrote", write_results("metrics", torch.device("cpu"),
                                 {"nq": args.nq, "depth": args.depth, "metrics": METRICS, "rows": rows}, args.out))


if __name__ == "__main__":
    main()
