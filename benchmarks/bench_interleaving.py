"""How many fewer queries interleaving needs than an A/B test to find the better of two rankers, with an interval,
for two user models (spacekit.ab.simulate: ranker B sorts by relevance x 1.5, A x 1.0; position-based clicks):
"uniform" (one query per user, users alike) and "heterogeneous" (users of 1 + Poisson(3) queries, each looking at
more or less of a list: examination x Gamma(1, 1)).

The ratio: both analyses are z-type tests (A/B: success@3's change over its delta-method SE; interleaving: the mean
per-unit preference over its SE), whose statistic grows as sqrt(queries), so equal power needs (z_IL / z_AB)^2
times more A/B queries than interleaved ones. Each is measured as the mean statistic over --replicates independent
experiments of --queries queries; the interval is a bootstrap over those replicates (percentile, 2,000 draws). A
power grid (--seeds experiments per size, spacekit's own verdicts: A/B "improved", interleaving "b preferred")
checks the ratio directly.

    python benchmarks/bench_interleaving.py [--replicates 200] [--queries 2000] [--seeds 60]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from _common import print_table, write_results

from spacekit.ab import analyze, preference
from spacekit.ab.interleave import unit_preferences
from spacekit.ab.simulate import USERS, ab_ranking_rows, interleaved_rows
from spacekit.io.ab_columns import parse_ab_log
from spacekit.io.ab_log import parse_log

COUNTS = (50, 100, 200, 400, 800, 1600, 3200)


def ab_log_of(queries: int, seed: int, users: str):
    """The A/B log of the two rankers."""
    rows = ab_ranking_rows(queries, seed=seed, users=users)
    return parse_ab_log(lambda: enumerate(rows, start=1), Path("<sim>"), "old")


def interleaved_log_of(queries: int, seed: int, users: str):
    """The team-draft interleaved log of the two rankers."""
    return parse_log(enumerate(interleaved_rows(queries, seed=seed, users=users), start=1), Path("<sim>"),
                     interleaved=True)


def statistics(queries: int, seed: int, users: str) -> tuple[float, float]:
    """(A/B z of success@3's change, interleaving t of the mean per-unit preference) of one experiment."""
    main = analyze(ab_log_of(queries, seed, users)).metrics[0]
    pref, _ = unit_preferences(interleaved_log_of(queries, seed, users))
    return main.delta / main.se, float(pref.mean() / (pref.std(ddof=1) / np.sqrt(len(pref))))


def ratio_with_interval(z_ab: np.ndarray, z_il: np.ndarray, draws: int = 2000) -> tuple[float, float, float]:
    """(mean z_IL / mean z_AB)^2 and its 95% percentile-bootstrap interval over the replicates."""
    rng = np.random.default_rng(0)
    n = len(z_ab)
    boot = [(z_il[rng.integers(0, n, n)].mean() / z_ab[rng.integers(0, n, n)].mean()) ** 2 for _ in range(draws)]
    return float((z_il.mean() / z_ab.mean()) ** 2), float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))


def main() -> None:
    """Per user model: the ratio with its interval, the power grid, the sizes reaching the power; recorded."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=60)
    parser.add_argument("--power", type=float, default=0.8)
    args = parser.parse_args()
    out = {}
    for users in USERS:
        z = np.array([statistics(args.queries, 10_000 + r, users) for r in range(args.replicates)])
        ratio, low, high = ratio_with_interval(z[:, 0], z[:, 1])
        grid = []
        for n in COUNTS:
            ab = np.mean([analyze(ab_log_of(n, s, users)).verdict == "improved" for s in range(args.seeds)])
            il = np.mean([preference(interleaved_log_of(n, s, users)).verdict == "b preferred"
                          for s in range(args.seeds)])
            grid.append({"queries": n, "ab_power": float(ab), "interleaving_power": float(il)})
        need = {key: next((r["queries"] for r in grid if r[key] >= args.power), None)
                for key in ("ab_power", "interleaving_power")}
        out[users] = {"ratio": ratio, "ratio_low": low, "ratio_high": high, "z_ab": float(z[:, 0].mean()),
                      "z_interleaving": float(z[:, 1].mean()), "grid": grid, "queries_needed": need}
        print(f"{users}: interleaving needs {ratio:.2f}x fewer queries [{low:.2f}, {high:.2f}] (mean z at "
              f"{args.queries:,} queries: A/B {z[:, 0].mean():.2f}, interleaving {z[:, 1].mean():.2f})")
        print_table(grid, ["queries", "ab_power", "interleaving_power"])
        print(f"queries for power {args.power}: A/B {need['ab_power']}, interleaving {need['interleaving_power']}")
    print(write_results("interleaving", torch.device("cpu"), {"replicates": args.replicates,
                                                               "queries": args.queries, "seeds": args.seeds,
                                                               "power": args.power, "users": out}))


if __name__ == "__main__":
    main()
