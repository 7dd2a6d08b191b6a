"""Does `ab plan` reach its power? Plan from an A/A pilot (3,000 units, 3 searches each), then run experiments of the
planned size whose treatment adds a lift to each unit's click propensity: the same for every unit (lift_sd 0) or
drawn per unit (a treatment with its own variance), and count how often `ab analyze` calls it improved.

    python benchmarks/bench_plan.py [--seeds 400] [--lift 0.05]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import print_table, write_results

from spacekit.ab import analyze
from spacekit.ab.plan import plan_ab
from spacekit.ab.simulate import ab_log, success_share


def main() -> None:
    """Plan once, run the experiments per heterogeneity level, record the achieved power."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=400)
    parser.add_argument("--lift", type=float, default=0.05)
    args = parser.parse_args()
    pilot, _ = ab_log(3000, impressions=3, seed=77)
    mde = args.lift * success_share()
    units = plan_ab(pilot, mde, power=0.8)[0]["units_control"]
    rows = []
    for lift_sd in (0.0, 0.05, 0.1):
        found = [analyze(ab_log(2 * units, lift=args.lift, lift_sd=lift_sd, impressions=3, seed=30_000 + s)[0]
                         ).verdict == "improved" for s in range(args.seeds)]
        p = float(np.mean(found))
        half = 1.96 * np.sqrt(p * (1 - p) / args.seeds)
        rows.append({"lift_sd": lift_sd, "power": p, "low": p - half, "high": p + half})
    print(f"planned: {units:,} units per arm for a change of {mde:.4f} on success@3 at power 0.8")
    print_table(rows, ["lift_sd", "power", "low", "high"])
    print(write_results("plan", torch.device("cpu"), {"seeds": args.seeds, "lift": args.lift, "mde": mde,
                                                        "units_per_arm": units, "achieved": rows}))


if __name__ == "__main__":
    main()
