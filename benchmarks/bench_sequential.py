"""Peeking: a team looks at an A/B test's main metric (success@3) at the end of each of 14 days and stops at the first
significant look. The false-positive rate on A/A experiments and the power with a planted effect, for the
fixed-horizon test (at any look; at the last look only) and for the always-valid mSPRT (`ab analyze --sequential`),
on simulated logs (spacekit.ab.simulate.timed_ab_log: units arrive uniformly over the days, 3 searches each).

    python benchmarks/bench_sequential.py [--seeds 400] [--units 1400] [--lift 0.05]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import print_table, write_results

from spacekit.ab.simulate import peeking, success_share, timed_ab_log

RULES = ("fixed_any_look", "fixed_final", "sequential")


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion."""
    p = hits / n
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (
        1 + z * z / n)
    return float(centre - half), float(centre + half)


def main() -> None:
    """Run the A/A and planted-effect experiments and record the rates."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=400)
    parser.add_argument("--units", type=int, default=1400)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--lift", type=float, default=0.05)
    args = parser.parse_args()
    rows = []
    for name, lift, offset in (("A/A: false-positive rate", 0.0, 0), ("planted effect: power", args.lift, 10_000)):
        runs = [peeking(timed_ab_log(args.units, days=args.days, seed=offset + s, impressions=3, lift=lift))
                for s in range(args.seeds)]
        for rule in RULES:
            hits = sum(r[rule] for r in runs)
            low, high = wilson(hits, args.seeds)
            rows.append({"experiment": name, "rule": rule, "rate": hits / args.seeds, "low": low, "high": high})
    print_table(rows, ["experiment", "rule", "rate", "low", "high"])
    path = write_results("sequential", torch.device("cpu"), {
        "seeds": args.seeds, "units": args.units, "days": args.days, "impressions_per_unit": 3,
        "lift": args.lift, "success_at_3_change": args.lift * success_share(), "alpha": 0.05, "rates": rows})
    print(path)


if __name__ == "__main__":
    main()
