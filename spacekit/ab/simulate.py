"""Simulated search logs with a known truth, for the tests, the benchmark and the demo (always labelled simulated).

A/B: each unit has its own click propensity (so its impressions are correlated), the treatment adds `lift` to it;
given a click, its rank follows RANK_GIVEN_CLICK, so the true change of success@3 is lift x P(rank < 3). Rankings:
documents with 0/1 relevance, each ranker sorting them by relevance x quality + noise; clicks by a position-based
model (examination falls with rank; a relevant document is clicked more often).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from spacekit.ab.interleave import team_draft
from spacekit.ab.sequential import DAY_S
from spacekit.io.ab_columns import AbLog, search_key, sorted_units

RANK_GIVEN_CLICK = np.array([0.35, 0.2, 0.13, 0.09, 0.07, 0.05, 0.04, 0.03, 0.02, 0.02])
EXAMINATION = 1 / (1 + np.arange(10)) ** 0.8                 # position-based model: P(the user looks at rank r)


def success_share(k: int = 3) -> float:
    """P(rank < k | click): the true success@k change is lift times this."""
    return float(RANK_GIVEN_CLICK[:k].sum())


def ab_rows(units: int, *, lift: float = 0.0, impressions: float = 4.0, spread: float = 0.6, seed: int = 0,
            control_share: float = 0.5, pre_period: int = 0,
            lift_sd: float = 0.0) -> tuple[list[dict], dict[str, float]]:
    """(log rows, {unit: pre-period success rate}); propensities 0.05 + 0.8 x Beta, so lift <= 0.1 stays a
    probability; `spread` (0..1) sets how much units differ; pre_period > 0 draws that many pre-period impressions
    per unit for the covariate; lift_sd > 0 gives each treated unit its own lift ~ N(lift, lift_sd) (a treatment
    with its own variance; the propensity clipped to 0..1)."""
    d = _draw_units(units, lift, impressions, spread, seed, control_share, pre_period, lift_sd)
    rows = [{"request_id": f"u{u}-{i}", "unit_id": f"u{u}", "arm": "new" if d.treated[u] else "old", "query": f"q{i}",
             "shown": DOCS, "clicks": [DOCS[r]] if r >= 0 else []}
            for u, i, r in zip(d.unit.tolist(), d.within.tolist(), d.rank.tolist(), strict=True)]
    return rows, d.pre


def ab_log(units: int, *, lift: float = 0.0, impressions: float = 4.0, spread: float = 0.6, seed: int = 0,
           control_share: float = 0.5, pre_period: int = 0,
           lift_sd: float = 0.0) -> tuple[AbLog, dict[str, float]]:
    """ab_rows as a log (control 'old', treatment 'new'), built directly from the same draws (the rows are valid
    by construction; io.ab_columns checks a file's rows): equal to ab_rows read by parse_ab_log."""
    d = _draw_units(units, lift, impressions, spread, seed, control_share, pre_period, lift_sd)
    searches, which = np.unique(np.stack([d.within, d.rank], axis=1), axis=0, return_inverse=True)  # (i, rank)
    keys = np.array([search_key(f"q{i}", DOCS, [DOCS[r]] if r >= 0 else []) for i, r in searches.tolist()],
                    dtype=np.int64)
    arm = d.treated[d.unit].astype(np.int8)
    ids, unit = sorted_units([f"u{u}" for u in range(units)], d.unit.copy())
    n = len(d.rank)
    return AbLog("<simulated>", ("old", "new"), ids, unit, arm,
                 np.full(n, len(DOCS), np.int32), (d.rank >= 0).astype(np.int32), d.rank, d.rank.copy(),
                 keys[which.reshape(-1)], np.arange(1, n + 1)), d.pre


DOCS = [f"d{i}" for i in range(10)]
_RANK_CDF = RANK_GIVEN_CLICK.cumsum() / RANK_GIVEN_CLICK.cumsum()[-1]


@dataclass(frozen=True)
class _Draws:
    """Per impression its unit, its place among the unit's impressions and the clicked rank (-1: no click); per unit
    whether it is treated; the pre-period values."""

    unit: np.ndarray
    within: np.ndarray
    rank: np.ndarray
    treated: np.ndarray
    pre: dict[str, float]


def _draw_units(units: int, lift: float, impressions: float, spread: float, seed: int, control_share: float,
                pre_period: int, lift_sd: float) -> _Draws:
    """The draws, in one fixed order: per unit its propensity, arm, impressions and lift, then per unit in turn a
    uniform per impression for the click, one for its rank (a search of the rank cdf: Generator.choice's own
    method) and, with a pre-period, one per pre-period impression for each; drawn in one call and sliced (the
    same stream as unit by unit)."""
    rng = np.random.default_rng(seed)
    a = 2.0 / max(spread, 1e-3)
    propensity = 0.05 + 0.8 * rng.beta(a, a, size=units)
    treated = rng.random(units) >= control_share
    counts = 1 + rng.poisson(impressions - 1, size=units)
    lifts = (np.random.default_rng(seed + 7_000_003).normal(lift, lift_sd, size=units) if lift_sd > 0
             else np.full(units, lift))
    used = 2 * counts + 2 * pre_period                      # uniforms per unit
    first = np.cumsum(used) - used
    draws = rng.random(int(used.sum()))
    unit = np.repeat(np.arange(units), counts)
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    p = np.clip(propensity + np.where(treated, lifts, 0.0), 0.0, 1.0)
    clicked = draws[first[unit] + within] < p[unit]
    rank = _RANK_CDF.searchsorted(draws[first[unit] + counts[unit] + within], side="right")
    pre: dict[str, float] = {}
    if pre_period:
        start = (first + 2 * counts)[:, None] + np.arange(pre_period)
        success = (draws[start] < propensity[:, None]) & (_RANK_CDF.searchsorted(draws[start + pre_period],
                                                                                   side="right") < 3)
        pre = {f"u{u}": float(v) for u, v in enumerate(success.mean(axis=1))}
    return _Draws(unit, within, np.where(clicked, rank, -1).astype(np.int32), treated, pre)


def rankings(queries: int, *, docs: int = 20, relevant: float = 0.2, quality: tuple[float, float] = (1.0, 1.5),
             seed: int = 0) -> tuple[list[set[str]], list[list[str]], list[list[str]]]:
    """(relevant docs per query, ranking A, ranking B): each ranker orders by relevance x quality + N(0, 1)."""
    rng = np.random.default_rng(seed)
    rel_sets: list[set[str]] = []
    ra: list[list[str]] = []
    rb: list[list[str]] = []
    for q in range(queries):
        ids = [f"q{q}d{i}" for i in range(docs)]
        rel = rng.random(docs) < relevant
        rel_sets.append({d for d, r in zip(ids, rel, strict=True) if r})
        for quality_x, out in zip(quality, (ra, rb), strict=True):
            score = rel * quality_x + rng.standard_normal(docs)
            out.append([ids[i] for i in np.argsort(-score, kind="stable")])
    return rel_sets, ra, rb


def clicks_on(shown: list[str], relevant: set[str], rng: np.random.Generator, activity: float = 1.0) -> list[str]:
    """Position-based clicks: rank r is examined with EXAMINATION[r] (times the user's activity, at most 1), then
    clicked with 0.7 if relevant, else 0.05."""
    out = []
    for r, doc in enumerate(shown[:len(EXAMINATION)]):
        if rng.random() < min(1.0, EXAMINATION[r] * activity) * (0.7 if doc in relevant else 0.05):
            out.append(doc)
    return out


USERS = ("uniform", "heterogeneous")


def _users(queries: int, users: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """Per query its user and that user's activity, and a generator for per-user draws: "uniform", one query per
    user, every user alike; "heterogeneous", users of 1 + Poisson(3) queries whose examination is scaled by an
    activity ~ Gamma(1, 1) (mean 1, sd 1: some users look at much more of a list than others). Drawn from their own
    stream, so the click draws are the uniform model's."""
    rng = np.random.default_rng(seed + 5_000_011)
    if users == "uniform":
        return np.arange(queries), np.ones(queries), rng
    if users != "heterogeneous":
        raise ValueError(f"users must be one of {USERS}, got {users!r}")
    per_user = 1 + rng.poisson(3, size=queries)
    owner = np.repeat(np.arange(queries), per_user)[:queries]
    return owner, rng.gamma(1.0, 1.0, size=queries)[owner], rng


def interleaved_rows(queries: int, *, quality: tuple[float, float] = (1.0, 1.5), seed: int = 0, k: int = 10,
                     users: str = "uniform") -> list[dict]:
    """Team-draft interleaved impressions, clicks by the position-based model; one query per unit, or, with
    heterogeneous users, several queries per user (the unit) and an activity per user (_users)."""
    rel, ra, rb = rankings(queries, quality=quality, seed=seed)
    rng, coin = np.random.default_rng(seed + 1), random.Random(seed)
    owner, activity, _ = _users(queries, users, seed)
    rows = []
    for q in range(queries):
        shown, teams = team_draft(ra[q], rb[q], k, coin)
        rows.append({"request_id": f"r{q}", "unit_id": f"u{owner[q]}", "query": f"q{q}", "shown": shown,
                     "team": teams, "clicks": clicks_on(shown, rel[q], rng, float(activity[q]))})
    return rows


def ab_ranking_rows(queries: int, *, quality: tuple[float, float] = (1.0, 1.5), seed: int = 0, k: int = 10,
                    users: str = "uniform") -> list[dict]:
    """The same rankers A/B-tested: each unit (a query, or with heterogeneous users a user and all its queries)
    sees one ranker's top k, clicks by the same model."""
    rel, ra, rb = rankings(queries, quality=quality, seed=seed)
    rng = np.random.default_rng(seed + 1)
    owner, activity, user_rng = _users(queries, users, seed)
    user_arm = user_rng.random(queries) < 0.5                      # heterogeneous users: the arm per user
    rows = []
    for q in range(queries):
        treated = (rng.random() < 0.5) if users == "uniform" else bool(user_arm[owner[q]])
        arm = "new" if treated else "old"
        shown = (rb if arm == "new" else ra)[q][:k]
        rows.append({"request_id": f"r{q}", "unit_id": f"u{owner[q]}", "arm": arm, "query": f"q{q}", "shown": shown,
                     "clicks": clicks_on(shown, rel[q], rng, float(activity[q]))})
    return rows


START_S = 1_767_225_600.0                                    # 2026-01-01 UTC: the simulated experiments' first day


def timed_ab_log(units: int, *, days: int = 14, seed: int = 0, **kwargs) -> AbLog:
    """ab_log with ts: each unit arrives on a day drawn uniformly from `days` and searches that day (the log grows
    day by day, as a running experiment's does)."""
    log, _ = ab_log(units, seed=seed, **kwargs)
    rng = np.random.default_rng(seed + 1_000_003)
    first_seen = np.unique(log.unit, return_index=True)[1]                    # unit codes in order of arrival
    arrival = np.empty(len(first_seen), dtype=np.int64)
    arrival[np.argsort(first_seen)] = rng.integers(0, days, units)
    return log.with_ts(START_S + arrival[log.unit] * DAY_S + rng.uniform(0, DAY_S - 400, len(log)))


def peeking(log: AbLog, *, alpha: float = 0.05, k: int = 3) -> dict[str, bool]:
    """What a team that looks at the main metric (success@k) at the end of every day would conclude: whether the
    fixed-horizon test is significant at some look ("fixed_any_look") or at the last one ("fixed_final"), and
    whether the always-valid mSPRT p is below alpha by the last look ("sequential")."""
    from spacekit.ab.outcomes import outcomes
    from spacekit.ab.sequential import always_valid, default_tau, look_tests

    main = outcomes(log, k)[0]
    tau = default_tau(float(main.numerator.sum() / main.denominator.sum()))
    tests = look_tests(log, main.numerator, main.denominator)
    significant = [t is not None and t.p_value < alpha for t in tests]
    return {"fixed_any_look": any(significant), "fixed_final": significant[-1],
            "sequential": always_valid(tests, tau, alpha).p_value < alpha}
