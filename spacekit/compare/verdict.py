"""The verdict: which tests form its family, how each test is judged (spacekit.practical's rule), the headline that
names the rows behind it, and the in-domain vs holdout statement.

The family is what the verdict claims: each tested task's main metric, judged on its leak-free items when the
leakage check found leaked ones. Secondary metrics are corrected as a family of their own and never decide the
headline.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spacekit.compare.config import CompareConfig
from spacekit.practical import adjust, decide, needed_items, strictest_level

ORDER = ("improved", "regressed", "negligible change", "equivalent", "inconclusive", "no significant change")


def basis(entry: dict) -> tuple[dict[str, dict], str | None]:
    """(the cells a task is judged by, how they differ from all items): its leak-free re-score when it has one."""
    clean = entry.get("leak_free")
    return (clean["metrics"], f"leak-free, n={clean['n']}") if clean else (entry["metrics"], None)


def judge(entries: list[dict], config: CompareConfig) -> None:
    """Correct and judge, in place, the main-metric family (the verdict's) and the secondary family."""
    main = [basis(e)[0][e["main_metric"]] for e in entries]
    secondary = [c for e in entries for name, c in basis(e)[0].items() if name != e["main_metric"]]
    for family, cells in (("main", main), ("secondary", secondary)):
        p = adjust([c["p_value"] for c in cells], config.correction)
        tost = adjust([c["tost_p"] for c in cells], config.correction)
        level = strictest_level(config.alpha, config.correction, sum(x is not None for x in p))
        for cell, p_adj, tost_adj in zip(cells, p, tost, strict=True):
            cell.update(family=family, p_adjusted=p_adj, tost_adjusted=tost_adj)
            cell["verdict"] = decide(cell["delta"], cell["ci_low"], cell["ci_high"], p_adj, tost_adj, cell["margin"],
                                     config.alpha, cell["higher_is_better"])
            cell["needed_n"] = (needed_items(cell["sd"], cell["margin"], level)
                                if cell["verdict"] == "inconclusive" else None)
            cell["power_level"] = level


def headline(entries: list[dict], config: CompareConfig) -> dict:
    """{verdict, rows (one per task: its main metric as judged), rule}: what the report's first line says."""
    rows = []
    for e in entries:
        cells, based_on = basis(e)
        c = cells[e["main_metric"]]
        rows.append({"task": e["name"], "tag": e["tag"], "metric": e["main_metric"], "basis": based_on,
                     **{k: c[k] for k in ("delta", "ci_low", "ci_high", "verdict", "margin", "needed_n",
                                          "higher_is_better")}})
    margins = ", ".join(dict.fromkeys(f"{r['metric']} {r['margin']:g}" for r in rows))
    rule = (f"each tested task's main metric decides ({len(rows)} test{'s' if len(rows) != 1 else ''}, "
            f"{config.correction} correction, alpha {config.alpha}); a change counts when significant and at least "
            f"its margin ({margins or 'none'})")
    return {"verdict": overall([r["verdict"] for r in rows]), "rows": rows, "rule": rule,
            "correction": config.correction, "alpha": config.alpha}


def overall(verdicts: list[str]) -> str:
    """improved, regressed, mixed (both), inconclusive (neither, and one undecided), no meaningful change (every
    change negligible or equivalent), no significant change (margins of 0, nothing found), or nothing tested (a
    suite of observed kinds only: probes, geometry, queries)."""
    if not verdicts:
        return "nothing tested"
    found = set(verdicts)
    if {"improved", "regressed"} <= found:
        return "mixed"
    for word in ("improved", "regressed", "inconclusive"):
        if word in found:
            return word
    if found and found <= {"negligible change", "equivalent"}:
        return "no meaningful change"
    return "no significant change"


def _signed(x: float) -> str:
    return f"{x:+.4f}" if np.isfinite(x) else "undefined"


def overfitting(rows: list[dict]) -> dict:
    """In-domain vs holdout from the headline's rows: every holdout change is named (a drop inside its margin too),
    and the conclusion follows the rule in README ("Conventions")."""
    summary: dict[str, Any] = {}
    for tag in ("in-domain", "holdout"):
        mine = [r for r in rows if r["tag"] == tag]
        summary[tag] = {"tasks": len(mine), "improved": sum(r["verdict"] == "improved" for r in mine),
                        "regressed": sum(r["verdict"] == "regressed" for r in mine),
                        "mean_delta": float(np.nanmean([r["delta"] for r in mine])) if mine else None,
                        "changes": ", ".join(f"{r['task']} {r['metric']} {_signed(r['delta'])} ({r['verdict']})"
                                             for r in mine) or "no task"}
    holdout = [r for r in rows if r["tag"] == "holdout"]
    worse = lambda r: (r["delta"] < 0) == r["higher_is_better"] and r["delta"] != 0
    flag = summary["in-domain"]["improved"] > 0 and summary["holdout"]["regressed"] > 0
    if not holdout:
        conclusion = "no holdout task: over-specialisation cannot be judged"
    elif flag:
        conclusion = "over-specialised: in-domain improved while holdout regressed"
    elif summary["holdout"]["regressed"]:
        conclusion = "holdout regressed"
    elif any(r["verdict"] == "negligible change" and worse(r) for r in holdout):
        conclusion = "holdout dropped, by less than its margin: a small cost, not over-specialisation by the rule"
    elif any(r["verdict"] in ("inconclusive", "no significant change") for r in holdout):
        conclusion = "holdout undecided: over-specialisation is not ruled out"
    else:
        conclusion = "no holdout drop"
    summary["over_specialised"] = flag
    summary["conclusion"] = conclusion
    summary["note"] = (f"in-domain: {summary['in-domain']['changes']}; holdout: {summary['holdout']['changes']}. "
                       f"{conclusion[0].upper()}{conclusion[1:]}.")
    return summary
