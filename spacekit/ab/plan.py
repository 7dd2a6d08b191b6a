"""`spacekit ab plan`: how many units an A/B test needs to find a change of a given size, from the unit-level spread
a pilot (or A/A) log shows, and the same for an interleaved comparison from an interleaved pilot.

Units per arm from statsmodels' NormalIndPower (two-sided, the delta method's unit-level standard deviation of each
metric, the design's split); for interleaving, NormalIndPower's one-sample form on the per-unit preference. Both
assume the pilot's spread holds at scale, but a treatment changes units unevenly, so its arm spreads more than an
A/A pilot shows: the A/B plan takes the treatment arm's variance as TREATMENT_VARIANCE_MARGIN times the pilot's
(1.25: +12.5% units at an even split). Without it, experiments of the planned size whose per-unit lift varies
(sd 0.1 around +0.05) reached power 0.780; with it, the tests and benchmarks/bench_plan.py check >= 0.78.
"""

from __future__ import annotations

import numpy as np

from spacekit.ab.interleave import unit_preferences
from spacekit.ab.outcomes import outcomes
from spacekit.ab.units import influence, unit_sums
from spacekit.errors import InputError
from spacekit.io.ab_columns import AbLog
from spacekit.io.ab_log import Impressions

TREATMENT_VARIANCE_MARGIN = 1.25


def unit_sd(numerator: np.ndarray, denominator: np.ndarray) -> float:
    """The standard deviation of a ratio metric's per-unit influence (units.influence): Var(M) = sd^2 / n."""
    return float(np.std(influence(numerator, denominator)[1], ddof=1))


def parse_mde(text: str | float) -> dict[str, tuple[float, bool]]:
    """--mde: '0.02' (every metric, absolute), '5%' (every metric, relative to its pilot value), or per metric
    'success@3=0.01,ctr=5%' ('*' for the rest) -> {metric or '*': (value, relative)}; a bad part is an InputError."""
    out: dict[str, tuple[float, bool]] = {}
    for part in str(text).split(","):
        name, _, value = part.rpartition("=")
        name, value = name.strip() or "*", value.strip()
        relative = value.endswith("%")
        try:
            number = float(value.removesuffix("%")) / (100 if relative else 1)
        except ValueError:
            raise InputError(f"--mde: {part.strip()!r} is not a number (or METRIC=NUMBER, a % for relative)") from None
        if not (np.isfinite(number) and number > 0):
            raise InputError(f"--mde: {part.strip()!r} must be > 0")
        out[name] = (number, relative)
    return out


def plan_ab(log: AbLog, mde: str | float, *, alpha: float = 0.05, power: float = 0.8,
            control_share: float = 0.5, k: int = 3, long_click_s: float = 30.0) -> list[dict]:
    """Per metric --mde names (every metric with a bare or '*' value): the pilot's value and unit-level sd (both
    arms pooled, each centred on its own ratio), and the units needed per arm to find a change of its mde
    (absolute, or relative to the pilot value) at `power`, the treatment arm's variance taken as
    TREATMENT_VARIANCE_MARGIN times the pilot's."""
    from statsmodels.stats.power import NormalIndPower

    wanted = parse_mde(mde)
    if not 0 < power < 1 or not 0 < alpha < 1 or not 0 < control_share < 1:
        raise InputError("ab plan: --power, --alpha and --control-share must be between 0 and 1")
    rows = []
    per_unit = len(log) / len(log.unit_ids)
    ratio = (1 - control_share) / control_share                              # treatment units per control unit
    spread = np.sqrt((1 + TREATMENT_VARIANCE_MARGIN / ratio) / (1 + 1 / ratio))   # the margin, equal-variance form
    metrics = outcomes(log, k, long_click_s)
    arm_of_unit = None                                                        # checked once, by the first sums
    unknown = sorted(set(wanted) - {"*"} - {o.name for o in metrics})
    if unknown:
        raise InputError(f"--mde: no metric {unknown[0]!r} (the log's: {', '.join(o.name for o in metrics)})")
    for o in metrics:
        if o.name not in wanted and "*" not in wanted:
            continue
        sums = unit_sums(None, log.arm, o.numerator, o.denominator, log.index, arm_of_unit)
        arm_of_unit = sums.arm
        parts = [unit_sd(sums.numerator[sums.arm == g], sums.denominator[sums.arm == g]) for g in (0, 1)]
        counts = [int((sums.arm == g).sum()) for g in (0, 1)]
        sd = float(np.sqrt(((counts[0] - 1) * parts[0] ** 2 + (counts[1] - 1) * parts[1] ** 2)
                           / (counts[0] + counts[1] - 2)))
        value = float(o.numerator.sum() / o.denominator.sum())
        amount, relative = wanted.get(o.name, wanted.get("*", (0.0, False)))
        change = amount * abs(value) if relative else amount
        if change <= 0:
            continue
        control = (float(NormalIndPower().solve_power(effect_size=change / (sd * spread), alpha=alpha, power=power,
                                                      ratio=ratio))
                   if sd > 0 else float("nan"))
        treatment = control * ratio
        rows.append({"metric": o.name, "pilot_value": value, "unit_sd": sd, "mde": change,
                     "treatment_variance_margin": TREATMENT_VARIANCE_MARGIN,
                     "units_control": int(np.ceil(control)) if np.isfinite(control) else None,
                     "units_treatment": int(np.ceil(treatment)) if np.isfinite(treatment) else None,
                     "impressions_per_unit": per_unit})
    return rows


def plan_interleaving(log: Impressions, mde: float, *, alpha: float = 0.05, power: float = 0.8) -> dict:
    """Units (with clicks) an interleaved comparison needs to find a mean preference of `mde` (-1..1 scale)."""
    from statsmodels.stats.power import NormalIndPower

    if not 0 < mde <= 1 or not 0 < power < 1 or not 0 < alpha < 1:     # a mean preference lies in -1..1
        raise InputError(f"ab plan: an interleaved --mde is a mean preference > 0 and <= 1, got {mde:g}; --power "
                         f"and --alpha between 0 and 1")
    pref, clicked = unit_preferences(log)
    if len(pref) < 2:
        raise InputError(f"{log.path}: fewer than 2 units with clicks: no spread to plan from")
    sd = float(np.std(pref, ddof=1))
    if not sd > 0:
        raise InputError(f"{log.path}: every unit with clicks has the same preference: no spread to plan from")
    units = float(NormalIndPower().solve_power(effect_size=mde / sd, alpha=alpha, power=power, ratio=0))
    return {"pilot_preference": float(pref.mean()), "unit_sd": sd, "mde": mde, "units_with_clicks": int(np.ceil(units)),
            "click_share": float(clicked.mean()), "units": int(np.ceil(units / max(clicked.mean(), 1e-12)))}
