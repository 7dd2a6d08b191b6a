"""Reranking speed: spacekit's cross-encoder scoring against sentence-transformers' CrossEncoder.predict (batch 32,
its default) on the same SciFact (query, document) pairs in one process, scores checked equal first.

    python benchmarks/bench_rerank.py RERANKER_FOLDER [--pairs 1000] [--device cpu]

The pairs are each test query with documents in corpus order (real lengths: SciFact abstracts are mostly cut at the
reranker's max length). spacekit's own pair cache is emptied before each timed run.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import DATA, print_table, timed, write_results


def main() -> None:
    """Time both scorers on the same pairs and record the ratio."""
    from sentence_transformers import CrossEncoder

    from spacekit.backend import Placement
    from spacekit.embed.cross_encoder import load_cross_encoder
    from spacekit.io.beir import read_beir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reranker")
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    dev = torch.device(args.device)
    data = read_beir(DATA / "scifact", "test")
    queries = [data.queries.texts[i % len(data.queries.texts)] for i in range(args.pairs)]
    documents = [data.corpus.texts[i % len(data.corpus.texts)] for i in range(args.pairs)]
    ours = load_cross_encoder(args.reranker)
    theirs = CrossEncoder(args.reranker, device=args.device)
    placement = Placement.resolve(args.device, "fp32")

    def spacekit_scores():
        ours.scored.clear()
        return ours.score(queries, documents, placement)

    def st_scores():
        return theirs.predict(list(zip(queries, documents, strict=True)), batch_size=32, show_progress_bar=False)

    diff = float(np.abs(spacekit_scores() - st_scores()).max())
    t_ours = timed(spacekit_scores, dev, repeat=3, warmup=1)
    t_st = timed(st_scores, dev, repeat=3, warmup=1)
    rows = [{"scorer": "spacekit", "seconds": t_ours, "pairs/s": args.pairs / t_ours},
            {"scorer": "CrossEncoder.predict (batch 32)", "seconds": t_st, "pairs/s": args.pairs / t_st}]
    print_table(rows, ["scorer", "seconds", "pairs/s"])
    print(f"spacekit takes {t_ours / t_st:.2f}x CrossEncoder.predict's time; max |score difference| {diff:.2e}")
    path = write_results("rerank", dev, {"pairs": args.pairs, "reranker": args.reranker, "max_length": ours.max_length,
                                         "rows": rows, "ratio": t_ours / t_st, "max_abs_diff": diff})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
