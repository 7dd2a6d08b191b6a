"""Paired statistics speed: spacekit's bootstrap and sign-flip test vs scipy's, same items, same resamples.

    python benchmarks/bench_stats.py [--n 10000] [--resamples 10000] [--device auto]

Per-query metric values (mean): spacekit.stats.paired_bootstrap vs scipy.stats.bootstrap (paired, percentile,
vectorised), and spacekit.stats.sign_flip_test vs scipy.stats.permutation_test (permutation_type="samples": the
same sign flips). STS (Spearman against gold with ties): spacekit's weighted-rank bootstrap vs scipy.stats.bootstrap
over scipy.stats.spearmanr, on --sts-n pairs. The intervals and p-values must agree within Monte-Carlo error (the
draws differ) before a time counts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_name, print_table, write_results

from spacekit import backend, stats


def seconds(fn) -> tuple[float, object]:
    """Wall seconds of fn() (spacekit's results come back to the host, so the wall clock covers the device)."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def check(name: str, ours: tuple[float, float], ref: tuple[float, float], scale: float) -> float:
    """Largest gap between the two intervals' ends over `scale`; over 5% of it stops the benchmark."""
    gap = max(abs(ours[0] - ref[0]), abs(ours[1] - ref[1])) / scale
    if gap > 0.05:
        sys.exit(f"{name}: spacekit {ours} vs scipy {ref}: intervals disagree beyond Monte-Carlo error")
    return gap


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=10_000, help="items for the mean statistics (queries)")
    p.add_argument("--sts-n", type=int, default=1_500, help="pairs for the Spearman bootstrap (STS-B test: 1,379)")
    p.add_argument("--resamples", type=int, default=10_000)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    dev = backend.device(args.device)
    rng = np.random.default_rng(0)
    a = rng.random(args.n)
    b = np.clip(a + rng.normal(0.002, 0.1, args.n), 0, 1)
    r = args.resamples
    stats.paired_bootstrap(a[:100], b[:100], resamples=100, device=dev)  # warm-up (device context, kernels)

    rows = []
    t_ours, ours = seconds(lambda: stats.paired_bootstrap(a, b, resamples=r, device=dev))
    t_ref, ref = seconds(lambda: sps.bootstrap((a, b), lambda x, y, axis=-1: y.mean(axis) - x.mean(axis),
                                               paired=True, vectorized=True, n_resamples=r, method="percentile",
                                               rng=np.random.default_rng(1)).confidence_interval)
    gap = check("mean bootstrap", ours[:2], (ref.low, ref.high), ref.high - ref.low)
    rows.append({"what": f"bootstrap CI of a mean delta, n={args.n:,}", "spacekit_s": t_ours, "scipy_s": t_ref,
                 "speedup": t_ref / t_ours, "gap_of_width": gap})

    t_ours, ours = seconds(lambda: stats.sign_flip_test(a, b, resamples=r, device=dev))
    t_ref, ref = seconds(lambda: sps.permutation_test((a, b), lambda x, y, axis=-1: (y - x).mean(axis),
                                                      permutation_type="samples", vectorized=True, n_resamples=r,
                                                      rng=np.random.default_rng(2)).pvalue)
    if abs(ours - ref) > 0.02 + 0.2 * ref:
        sys.exit(f"sign flips: spacekit p {ours} vs scipy p {ref}")
    rows.append({"what": f"sign-flip p-value, n={args.n:,}", "spacekit_s": t_ours, "scipy_s": t_ref,
                 "speedup": t_ref / t_ours, "p_spacekit": ours, "p_scipy": ref})

    m = args.sts_n
    gold = np.round(rng.random(m) * 5)
    before, after = gold + rng.normal(0, 1.5, m), gold + rng.normal(0, 1.3, m)
    statistic = stats.spearman_statistic(gold)
    t_ours, ours = seconds(lambda: stats.paired_bootstrap(before, after, statistic, resamples=r, device=dev))

    def spearman_delta(x, y, g):
        return sps.spearmanr(y, g).statistic - sps.spearmanr(x, g).statistic

    t_ref, ref = seconds(lambda: sps.bootstrap((before, after, gold), spearman_delta, paired=True,
                                               vectorized=False, n_resamples=r, method="percentile",
                                               rng=np.random.default_rng(3)).confidence_interval)
    gap = check("Spearman bootstrap", ours[:2], (ref.low, ref.high), ref.high - ref.low)
    rows.append({"what": f"bootstrap CI of a Spearman delta, n={m:,} (ties in gold)", "spacekit_s": t_ours,
                 "scipy_s": t_ref, "speedup": t_ref / t_ours, "gap_of_width": gap})

    print(f"device: {device_name(dev)}; {r:,} resamples each")
    print_table(rows, ["what", "spacekit_s", "scipy_s", "speedup", "gap_of_width", "p_spacekit", "p_scipy"])
    print("wrote", write_results("stats", dev, {"resamples": r, "rows": rows}, args.out))


if __name__ == "__main__":
    main()
