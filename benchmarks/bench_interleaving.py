"""Queries needed to detect the better of two rankers: an A/B test (each query sees one ranker; success@3 by the
delta method) against team-draft interleaving (each query sees both; the sign test over queries), on simulated
position-based clicks over the same rankings (spacekit.ab.simulate: ranker B sorts by relevance x 1.5, A x 1.0).

    python benchmarks/bench_interleaving.py [--seeds 100] [--power 0.8]

Prints the detection rate per query count for both, and the smallest count reaching the power for each.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from _common import print_table, write_results

from spacekit.ab import analyze, preference
from spacekit.ab.simulate import ab_ranking_rows, interleaved_rows
from spacekit.io.ab_columns import parse_ab_log
from spacekit.io.ab_log import parse_log

COUNTS = (50, 100, 200, 400, 800, 1600, 3200)


def detected_ab(queries: int, seed: int) -> bool:
    """The A/B analysis calls B (new) better on success@3."""
    rows = ab_ranking_rows(queries, seed=seed)
    return analyze(parse_ab_log(lambda: enumerate(rows, start=1), Path("<sim>"), "old")).verdict == "improved"


def detected_interleaved(queries: int, seed: int) -> bool:
    """The interleaved analysis prefers B: sign test p < 0.05 and the interval above 0."""
    out = preference(parse_log(enumerate(interleaved_rows(queries, seed=seed), start=1), Path("<sim>"),
                               interleaved=True))
    return out.sign_test_p < 0.05 and out.ci_low > 0


def main() -> None:
    """Run the grid and record it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--power", type=float, default=0.8)
    args = parser.parse_args()
    rows = []
    for n in COUNTS:
        ab = sum(detected_ab(n, s) for s in range(args.seeds)) / args.seeds
        il = sum(detected_interleaved(n, s) for s in range(args.seeds)) / args.seeds
        rows.append({"queries": n, "ab_power": ab, "interleaving_power": il})
    print_table(rows, ["queries", "ab_power", "interleaving_power"])
    need = {key: next((r["queries"] for r in rows if r[key] >= args.power), None)
            for key in ("ab_power", "interleaving_power")}
    print(f"queries for power {args.power}: A/B {need['ab_power']}, interleaving {need['interleaving_power']}")
    path = write_results("interleaving", torch.device("cpu"), {"seeds": args.seeds, "power": args.power,
                                                               "grid": rows, "queries_needed": need})
    print(path)


if __name__ == "__main__":
    main()
