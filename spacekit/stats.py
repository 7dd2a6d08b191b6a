"""Paired statistics for before/after comparisons: bootstrap CIs, randomization and t tests (the
correction over a family and the verdicts: spacekit.practical).

Every test is paired over the same items (queries, pairs, test texts). Statistics are computed from resampling
weights so that 10,000 resamples run as a few matrix products (numpy or torch, CPU or GPU):
- mean metrics (retrieval per query, classification per item): the statistic is a weighted mean;
- Spearman / Pearson (STS): weighted correlation of (tie-averaged) ranks / values;
- V-measure / NMI / ARI (clustering): computed from weighted contingency tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats as sps

from spacekit import backend
from spacekit.practical import tost_bootstrap, tost_paired

RESAMPLES = 10_000
# on the CPU, blocks of resamples whose temporaries stay near the caches: 2-4x faster than one large block (measured
# on the 2-core dev machine: fresh multi-MB temporaries cost page faults)
CPU_BLOCK_BYTES = 16 << 20


@dataclass(frozen=True)
class PairedTest:
    """The outcome of one paired comparison (delta = after - before)."""

    before: float
    after: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    t_p_value: float | None = None
    effect_size: float | None = None
    sd: float | None = None          # per-item sd of the differences (resampled kinds: the bootstrap SE x sqrt(n))
    tost_p: float | None = None      # TOST p-value that the change lies inside +-margin (None: no margin given)


def bootstrap_weights(n: int, resamples: int = RESAMPLES, seed: int = 0, device=None,
                      budget: int | str | None = None) -> Iterator[torch.Tensor]:
    """(rows, n) float64 blocks of counts, how often each item is drawn in each bootstrap resample, `resamples`
    rows in all, on the device, each block within the memory budget. The draws come from one seeded CPU stream,
    so the counts are the same on any device and for any block size."""
    gen = torch.Generator().manual_seed(seed)
    dev = backend.device(device)
    for rows in _blocks(resamples, n, dev, budget):
        idx = torch.randint(n, (rows, n), generator=gen).to(dev)
        yield torch.zeros((rows, n), dtype=torch.float64, device=dev).scatter_add_(
            1, idx, torch.ones_like(idx, dtype=torch.float64))


def _blocks(resamples: int, n: int, dev: torch.device, budget: int | str | None) -> Iterator[int]:
    """Resample rows per block: a row of n items takes ~6 float64 values per item (draws, counts and the
    statistics' temporaries); on the CPU at most CPU_BLOCK_BYTES a block."""
    limit = backend.budget(dev, budget)
    if dev.type == "cpu":
        limit = backend.Budget(min(limit.bytes, CPU_BLOCK_BYTES))
    per = limit.rows(6 * 8 * n, at_most=resamples)
    for lo in range(0, resamples, per):
        yield min(per, resamples - lo)


def weighted_mean(values: np.ndarray, w: torch.Tensor) -> torch.Tensor:
    """(R,) weighted means of one per-item array under each weight row."""
    v = torch.as_tensor(np.asarray(values, np.float64), device=w.device)
    return (w @ v) / w.sum(1)


def _weighted_ranks(values: np.ndarray, w: torch.Tensor) -> torch.Tensor:
    """(R, n) tie-averaged ranks of each item within the weighted multiset of each row."""
    groups, inverse = np.unique(np.asarray(values, np.float64), return_inverse=True)
    g = torch.as_tensor(inverse, device=w.device)
    group_w = torch.zeros((w.shape[0], len(groups)), dtype=w.dtype, device=w.device).index_add_(1, g, w)
    start = group_w.cumsum(1) - group_w
    return (start + (group_w + 1) / 2)[:, g]


def weighted_pearson(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(R,) Pearson correlation of x and y (each (R, n) or (n,)) under weights w (R, n)."""
    ws = w.sum(1, keepdim=True)
    mx, my = (w * x).sum(1, keepdim=True) / ws, (w * y).sum(1, keepdim=True) / ws
    dx, dy = x - mx, y - my
    return (w * dx * dy).sum(1) / torch.sqrt((w * dx * dx).sum(1) * (w * dy * dy).sum(1))


def spearman_statistic(gold: np.ndarray) -> Callable[[np.ndarray, torch.Tensor], torch.Tensor]:
    """Statistic(sim, w) -> (R,) Spearman of sim against gold under each weight row."""
    def stat(sim: np.ndarray, w: torch.Tensor) -> torch.Tensor:
        return weighted_pearson(_weighted_ranks(sim, w), _weighted_ranks(gold, w), w)
    return stat


def pearson_statistic(gold: np.ndarray) -> Callable[[np.ndarray, torch.Tensor], torch.Tensor]:
    """Statistic(sim, w) -> (R,) Pearson of sim against gold under each weight row."""
    def stat(sim: np.ndarray, w: torch.Tensor) -> torch.Tensor:
        t = lambda a: torch.as_tensor(np.asarray(a, np.float64), device=w.device)
        return weighted_pearson(t(sim), t(gold), w)
    return stat


def clustering_statistic(gold: np.ndarray, metric: str) -> Callable[[np.ndarray, torch.Tensor], torch.Tensor]:
    """Statistic(pred_labels, w) -> (R,) V-measure / NMI (arithmetic) / ARI from weighted contingency tables; with
    the labels of several clustering runs, pred (runs, n) -> (R, runs), one column per run. A gold of shape
    (n, 1 + runs) carries each item's multiplicity in each run after its label (MTEB's procedures, where a run
    clusters one set, or a sample drawn with replacement): the run's weights are w times those multiplicities."""
    gold = np.asarray(gold)
    counts = gold[:, 1:].T.astype(np.float64) if gold.ndim == 2 else None
    gold_codes = np.unique(gold[:, 0] if gold.ndim == 2 else gold, return_inverse=True)[1]

    def stat(pred: np.ndarray, w: torch.Tensor) -> torch.Tensor:
        if np.ndim(pred) == 2:
            if counts is None:
                return torch.stack([stat(p, w) for p in pred], dim=1)
            return torch.stack([stat(p, w * torch.as_tensor(m, dtype=w.dtype, device=w.device))
                                for p, m in zip(pred, counts, strict=True)], dim=1)
        pred_codes = np.unique(pred, return_inverse=True)[1]
        kg, kp = int(gold_codes.max()) + 1, int(pred_codes.max()) + 1
        cells, inverse = np.unique(gold_codes * kp + pred_codes, return_inverse=True)   # the cells that occur
        dev = w.device
        c = torch.zeros((w.shape[0], len(cells)), dtype=w.dtype, device=dev).index_add_(
            1, torch.as_tensor(inverse, device=dev), w)                          # (R, cells), not (R, kg * kp)
        a = torch.zeros((w.shape[0], kg), dtype=w.dtype, device=dev).index_add_(
            1, torch.as_tensor(cells // kp, device=dev), c)
        b = torch.zeros((w.shape[0], kp), dtype=w.dtype, device=dev).index_add_(
            1, torch.as_tensor(cells % kp, device=dev), c)
        return _contingency_score(c, a, b, metric)
    return stat


def _contingency_score(c: torch.Tensor, a: torch.Tensor, b: torch.Tensor, metric: str) -> torch.Tensor:
    """The score from the occupied cells (R, cells) and the margins a (R, kg), b (R, kp)."""
    n = c.sum(1)
    if metric == "ari":
        comb = lambda x: x * (x - 1) / 2
        index, sa, sb = comb(c).sum(1), comb(a).sum(1), comb(b).sum(1)
        expected = sa * sb / comb(n)
        return (index - expected) / ((sa + sb) / 2 - expected)
    xlogx = lambda x: torch.special.xlogy(x, x)                           # 0 log 0 = 0, in one kernel
    h_gold = (n * torch.log(n) - xlogx(a).sum(1)) / n
    h_pred = (n * torch.log(n) - xlogx(b).sum(1)) / n
    mi = (xlogx(c).sum(1) - xlogx(a).sum(1) - xlogx(b).sum(1) + n * torch.log(n)) / n
    homogeneity = torch.where(h_gold > 0, mi / h_gold, 1.0)
    completeness = torch.where(h_pred > 0, mi / h_pred, 1.0)
    return torch.where(homogeneity + completeness > 0,
                       2 * homogeneity * completeness / (homogeneity + completeness), 0.0)  # NMI(arith) == V


def paired_bootstrap(before, after, statistic=None, *, resamples: int = RESAMPLES, seed: int = 0,
                     confidence: float = 0.95, device=None, budget: int | str | None = None,
                     paired_runs: bool = False) -> tuple[float, float, torch.Tensor]:
    """Percentile CI of statistic(after) - statistic(before), resampling items jointly -> (low, high, deltas);
    the resamples run block by block on the device. A statistic of several runs (values (runs, n) -> (R, runs):
    clustering) is averaged over a resample of each model's runs too, so the CI holds the runs' spread: drawn
    apart for the two models when their runs are unrelated (k-means seeds), the same draw for both when run r is
    the same set or sample of items under both models (paired_runs: MTEB's procedures)."""
    statistic = statistic or weighted_mean
    deltas, done = torch.empty(resamples, dtype=torch.float64), 0
    runs = torch.Generator().manual_seed(seed + 2)
    for w in bootstrap_weights(np.shape(before)[-1], resamples, seed, device, budget):
        b, a = statistic(before, w), statistic(after, w)
        if paired_runs and a.ndim == 2:
            deltas[done:done + w.shape[0]] = _over_runs(a - b, runs).cpu()
        else:
            deltas[done:done + w.shape[0]] = (_over_runs(a, runs) - _over_runs(b, runs)).cpu()
        done += w.shape[0]
    deltas = deltas[torch.isfinite(deltas)]
    alpha = (1 - confidence) / 2
    low, high = torch.quantile(deltas, torch.tensor([alpha, 1 - alpha], dtype=deltas.dtype))
    return float(low), float(high), deltas


def _over_runs(values: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """(R,) as given; (R, runs) -> the mean over the runs (gen: over a resample of them, drawn per row)."""
    if values.ndim == 1:
        return values
    if gen is None:
        return values.mean(1)
    pick = torch.randint(values.shape[1], values.shape, generator=gen).to(values.device)
    return values.gather(1, pick).mean(1)


def sign_flip_test(before: np.ndarray, after: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0,
                   device=None, budget: int | str | None = None) -> float:
    """Two-sided paired randomization test of mean(after - before) = 0 by random sign flips of the differences
    (signs drawn from one seeded CPU stream, applied block by block on the device)."""
    d = torch.as_tensor(np.asarray(after, np.float64) - np.asarray(before, np.float64))
    observed = abs(float(d.mean()))
    if observed == 0:
        return 1.0
    gen = torch.Generator().manual_seed(seed)
    dev = backend.device(device)
    d_dev, hits = d.to(dev), 0
    for rows in _blocks(resamples, len(d), dev, budget):
        signs = torch.randint(0, 2, (rows, len(d)), generator=gen, dtype=torch.float64).to(dev) * 2 - 1
        hits += int(((signs @ d_dev).abs() / len(d) >= observed - 1e-12).sum())
    return (1 + hits) / (resamples + 1)


def paired_t(before: np.ndarray, after: np.ndarray) -> tuple[float | None, float | None]:
    """(p-value of scipy.stats.ttest_rel, Cohen's d_z = mean(d) / sd(d)); None when all differences are equal."""
    d = np.asarray(after, np.float64) - np.asarray(before, np.float64)
    if len(d) < 2 or np.all(d == d[0]):
        return None, (0.0 if np.all(d == 0) else None)
    p = float(sps.ttest_rel(after, before).pvalue)
    return p, float(d.mean() / d.std(ddof=1))


def mcnemar(correct_before: np.ndarray, correct_after: np.ndarray) -> float:
    """Exact McNemar test on paired binary outcomes (two-sided binomial on the discordant pairs)."""
    b = int(np.sum(correct_before & ~correct_after))
    c = int(np.sum(~correct_before & correct_after))
    if b + c == 0:
        return 1.0
    return float(sps.binomtest(min(b, c), b + c, 0.5).pvalue)


Statistic = Callable[[np.ndarray, torch.Tensor], torch.Tensor]


def compare_metric(before, after, kind: str | Callable[[np.ndarray], Statistic], *, gold=None,
                   resamples: int = RESAMPLES, seed: int = 0, device=None, margin: float = 0.0) -> PairedTest:
    """One metric, paired: kind 'mean' (per-item values), 'spearman'/'pearson' (per-pair similarities with
    gold), 'v_measure'/'nmi'/'ari' (per-item cluster labels with gold), or a task kind's own statistic: a function
    gold -> statistic(values, w) giving (R,) values under weight rows w (tested by the bootstrap, like clustering).
    Resamples run on the device. With a margin > 0, also the TOST p-value that the change lies inside +-margin
    (paired t for means, the bootstrap distribution otherwise: spacekit.practical)."""
    if kind == "mean":
        b, a = np.asarray(before, np.float64), np.asarray(after, np.float64)
        low, high, _ = paired_bootstrap(b, a, resamples=resamples, seed=seed, device=device)
        t_p, effect = paired_t(b, a)
        return PairedTest(float(b.mean()), float(a.mean()), float(a.mean() - b.mean()), low, high,
                          sign_flip_test(b, a, resamples=resamples, seed=seed + 1, device=device),
                          "sign-flip randomization", t_p, effect, float(np.std(a - b, ddof=1)) if len(b) > 1 else None,
                          tost_paired(b, a, margin) if margin > 0 else None)
    if callable(kind):
        statistic = kind(np.asarray(gold))
    elif kind in ("spearman", "pearson"):
        statistic = spearman_statistic(gold) if kind == "spearman" else pearson_statistic(gold)
    elif kind in ("v_measure", "nmi", "ari"):
        statistic = clustering_statistic(np.asarray(gold), "ari" if kind == "ari" else "v")
    else:
        raise ValueError(f"no paired statistic for {kind!r}")
    n = np.shape(before)[-1]
    ones = torch.ones((1, n), dtype=torch.float64)
    vb, va = float(_over_runs(statistic(before, ones))[0]), float(_over_runs(statistic(after, ones))[0])
    paired_runs = gold is not None and np.ndim(gold) == 2           # runs defined by the items: MTEB's procedures
    low, high, deltas = paired_bootstrap(before, after, statistic, resamples=resamples, seed=seed, device=device,
                                         paired_runs=paired_runs)
    if kind in ("spearman", "pearson"):
        p = _swap_p(before, after, str(kind), gold, min(resamples, 2000), seed + 1, device)
        test = "paired swap permutation"
    else:  # cluster labels of two models are not exchangeable per item (and a kind's own statistic): bootstrap p
        below, above = float((deltas <= 0).double().mean()), float((deltas >= 0).double().mean())
        p = min(1.0, 2 * min(below, above) + 1 / len(deltas))
        p = 1.0 if va == vb else p
        test = "bootstrap"
    sd = float(deltas.std()) * np.sqrt(n) if len(deltas) > 1 else None
    return PairedTest(vb, va, va - vb, low, high, p, test, sd=sd,
                      tost_p=tost_bootstrap(deltas.numpy(), margin) if margin > 0 else None)


def _swap_p(before, after, kind: str, gold, resamples: int, seed: int, device=None,
            budget: int | str | None = None) -> float:
    """Swap permutation p-value of the Spearman / Pearson delta against gold: each permutation swaps before and
    after for a random half of the pairs (numpy's stream from seed), evaluated for many permutations at once, block
    by block on the device."""
    b, a = np.asarray(before, np.float64), np.asarray(after, np.float64)
    dev = backend.device(device)
    g = torch.as_tensor(np.asarray(gold, np.float64), device=dev)
    target = _row_ranks(g[None])[0] if kind == "spearman" else g

    def correlation(x: torch.Tensor) -> torch.Tensor:                           # (R, n) -> (R,)
        x = _row_ranks(x) if kind == "spearman" else x
        return weighted_pearson(x, target, torch.ones_like(x))

    tb, ta = torch.as_tensor(b, device=dev), torch.as_tensor(a, device=dev)
    observed = abs(float(correlation(ta[None])[0] - correlation(tb[None])[0]))
    if observed == 0:
        return 1.0
    rng = np.random.default_rng(seed)
    hits = 0
    for rows in _blocks(resamples, len(b), dev, budget):
        swap = torch.as_tensor(rng.random((rows, len(b))) < 0.5, device=dev)
        diff = correlation(torch.where(swap, tb, ta)) - correlation(torch.where(swap, ta, tb))
        hits += int((diff.abs() >= observed - 1e-12).sum())
    return (1 + hits) / (resamples + 1)


def _row_ranks(x: torch.Tensor) -> torch.Tensor:
    """(R, n) -> ranks 1..n within each row, equal values sharing their average rank (scipy.stats.rankdata)."""
    v, order = x.sort(dim=1)
    pos = torch.arange(x.shape[1], device=x.device, dtype=torch.float64).expand_as(v)
    starts = torch.ones_like(v, dtype=torch.bool)
    starts[:, 1:] = v[:, 1:] != v[:, :-1]                                      # a new value begins here
    ends = torch.ones_like(starts)
    ends[:, :-1] = starts[:, 1:]
    first = torch.where(starts, pos, 0).cummax(1).values                      # where each one's run of equals starts
    last = torch.where(ends, pos, x.shape[1]).flip(1).cummin(1).values.flip(1)  # ... and ends
    return torch.empty_like(pos).scatter_(1, order, (first + last) / 2 + 1)


__all__ = [
    "PairedTest",
    "compare_metric",
    "mcnemar",
    "paired_bootstrap",
    "paired_t",
    "sign_flip_test",
]
