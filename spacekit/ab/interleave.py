"""Interleaved comparisons: team-draft interleaving (Radlinski, Kurup & Joachims 2008) and balanced interleaving
(Joachims 2002) of two rankings, and the analysis of an interleaved log: clicks credited to the team whose ranker
put the clicked document there, a preference per impression, aggregated per unit.

Each impression with a click scores +1 (B's team got more clicks), -1 (A's did) or 0; a unit's preference is the mean
over its impressions with a click, the preference the mean over units (-1 .. 1), and B's share (preference + 1) / 2
(Chapelle, Joachims, Radlinski & Yue 2012); its interval is a t-interval over unit means, and the sign test counts
units whose clicks favoured one ranker. An A/A run (one ranker twice) comes out at no preference.

Team-draft is the default and the checked one: its team labels must be team-draft's (check_team_draft). Balanced
interleaving's labels cannot be checked, and it is biased: with clicks blind to relevance, a ranker whose list is
the other's shifted by one rank still wins (a known flaw of the method); it is offered for comparison only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from scipy import stats

from spacekit.ab.config import METHODS
from spacekit.errors import InputError
from spacekit.io.ab_log import Impressions


def team_draft(ranking_a: list[str], ranking_b: list[str], k: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """(list, teams): each round the team with fewer picks (a coin on a tie) adds its ranker's best document not
    yet shown; stops at k documents or when both rankers are used up."""
    out: list[str] = []
    teams: list[str] = []
    seen: set[str] = set()
    picks = {"a": 0, "b": 0}
    pointers = {"a": 0, "b": 0}
    rankings = {"a": ranking_a, "b": ranking_b}

    def next_of(team: str) -> str | None:
        r = rankings[team]
        while pointers[team] < len(r) and r[pointers[team]] in seen:
            pointers[team] += 1
        return r[pointers[team]] if pointers[team] < len(r) else None

    while len(out) < k:
        left = {t: next_of(t) for t in ("a", "b")}
        if left["a"] is None and left["b"] is None:
            break
        if left["a"] is None or left["b"] is None:
            team = "a" if left["b"] is None else "b"
        elif picks["a"] != picks["b"]:
            team = "a" if picks["a"] < picks["b"] else "b"
        else:
            team = "a" if rng.random() < 0.5 else "b"
        doc = left[team]
        assert doc is not None
        out.append(doc)
        teams.append(team)
        seen.add(doc)
        picks[team] += 1
    return out, teams


def balanced(ranking_a: list[str], ranking_b: list[str], k: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """(list, teams): the two rankings merged alternately from a coin-chosen first ranker, each taking its next
    document not yet shown; a document's team is the ranker that placed it higher (the first to reach it)."""
    a_first = rng.random() < 0.5
    out: list[str] = []
    teams: list[str] = []
    ka = kb = 0
    while len(out) < k and (ka < len(ranking_a) or kb < len(ranking_b)):
        take_a = kb >= len(ranking_b) or (ka < len(ranking_a) and (ka < kb or (ka == kb and a_first)))
        doc = ranking_a[ka] if take_a else ranking_b[kb]
        if take_a:
            ka += 1
        else:
            kb += 1
        if doc not in out:
            out.append(doc)
            teams.append("a" if take_a else "b")
    return out, teams


def check_team_draft(log: Impressions) -> None:
    """One InputError (file:line) for an impression whose team labels team-draft cannot give: each round gives one
    position to each team (one 'a' and one 'b' in every pair of positions) until one ranker runs out, then the
    other fills the list alone; a list of two or more with one team only is refused (its other ranker would have
    shown nothing)."""
    for i, teams in enumerate(log.teams or []):
        j = 0
        while j + 1 < len(teams) and teams[j] != teams[j + 1]:
            j += 2
        if len(set(teams[j:])) > 1 or (len(teams) > 1 and len(set(teams)) == 1):
            where = f"{log.path}:{log.lines[i] if log.lines else i + 1}"
            raise InputError(f"{where}: team labels {''.join(teams)!r} cannot come from team-draft interleaving "
                             f"(each round gives one position to each team); a balanced log takes --method balanced")


def credit(log: Impressions) -> np.ndarray:
    """Per impression: +1 when B's team got more clicks, -1 when A's did, 0 on a tie (including no click)."""
    if log.teams is None:
        raise InputError(f"{log.path}: not an interleaved log (no 'team' field)")
    out = np.zeros(len(log), dtype=np.int8)
    for i, (shown, clicks, teams) in enumerate(zip(log.shown, log.clicks, log.teams, strict=True)):
        team_of = dict(zip(shown, teams, strict=True))
        a = sum(team_of[c] == "a" for c in clicks)
        b = len(clicks) - a
        out[i] = (b > a) - (a > b)
    return out


def unit_preferences(log: Impressions, outcome: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(per unit with a click, the mean outcome of its impressions with a click, in -1..1; per impression, whether
    it had a click)."""
    outcome = credit(log) if outcome is None else outcome
    clicked = np.array([len(c) > 0 for c in log.clicks])
    ids, inverse = np.unique(np.asarray(log.units, dtype=object), return_inverse=True)
    counted = np.bincount(inverse, weights=clicked.astype(float), minlength=len(ids))
    sums = np.bincount(inverse, weights=outcome.astype(float), minlength=len(ids))
    has = counted > 0
    return sums[has] / counted[has], clicked


@dataclass(frozen=True)
class Preference:
    """An interleaved log's verdict: impressions (with a click), wins of B and of A and ties, the units, B's mean
    per-unit preference (-1 .. 1) with its t-interval, B's share, the units favouring each side, the sign test."""

    verdict: str
    log: str
    impressions: int
    with_clicks: int
    wins_b: int
    wins_a: int
    ties: int
    units: int
    preference_b: float
    ci_low: float
    ci_high: float
    share_b: float
    units_favouring_b: int
    units_favouring_a: int
    sign_test_p: float


def preference(log: Impressions, confidence: float = 0.95, alpha: float = 0.05,
               method: str = "team-draft") -> Preference:
    """Win / tie / loss of B against A over impressions, the per-unit preference (mean outcome of a unit's
    impressions with a click), its t-interval over units, the sign test over units that prefer one side, and the
    verdict: a side is preferred when the sign test's p < alpha and the interval excludes 0. A team-draft log's
    labels are checked first (check_team_draft); a balanced one's cannot be."""
    if method not in METHODS:
        raise InputError(f"interleaving method must be one of {', '.join(METHODS)}, got {method!r}")
    outcome = credit(log)
    if method == "team-draft":
        check_team_draft(log)
    unit_pref, clicked = unit_preferences(log, outcome)
    n = len(unit_pref)
    mean = float(unit_pref.mean()) if n else float("nan")
    se = float(unit_pref.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    t = stats.t.ppf(0.5 + confidence / 2, max(n - 1, 1))
    favour_b, favour_a = int((unit_pref > 0).sum()), int((unit_pref < 0).sum())
    sign_p = float(stats.binomtest(favour_b, favour_b + favour_a).pvalue) if favour_a + favour_b else 1.0
    low, high = mean - t * se, mean + t * se
    decided = sign_p < alpha and n > 1 and not low <= 0 <= high
    verdict = ("b preferred" if mean > 0 else "a preferred") if decided else "no preference found"
    return Preference(verdict, str(log.path), len(log), int(clicked.sum()), int((outcome > 0).sum()),
                      int((outcome < 0).sum()), int((clicked & (outcome == 0)).sum()), n, mean, float(low), float(high),
                      (mean + 1) / 2, favour_b, favour_a, sign_p)
