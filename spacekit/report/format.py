"""Number and verdict formatting shared by the Markdown, HTML and terminal reports."""

from __future__ import annotations

ARROWS = {"improved": "▲", "regressed": "▼", "negligible change": "≈", "equivalent": "=", "inconclusive": "?",
          "no significant change": "·"}
VERDICT_ORDER = ("improved", "regressed", "negligible change", "equivalent", "inconclusive", "no significant change")


def num(x, digits: int = 4) -> str:
    """A float with `digits` decimals, '–' for None."""
    return "–" if x is None else f"{x:.{digits}f}"


def signed(x, digits: int = 4) -> str:
    """A float with an explicit sign."""
    return "–" if x is None else f"{x:+.{digits}f}"


def pval(p) -> str:
    """p-value: '<0.0001' below that, else 4 significant digits."""
    if p is None:
        return "–"
    return "<0.0001" if p < 1e-4 else f"{p:.4g}"


def interval(cell: dict) -> str:
    """'[+0.0050, +0.0420]'."""
    return f"[{signed(cell['ci_low'])}, {signed(cell['ci_high'])}]"


def verdict_text(cell: dict) -> str:
    """The verdict, with the items needed to decide when it is inconclusive."""
    needed = cell.get("needed_n")
    return cell["verdict"] + (f" (needs n≈{needed:,})" if needed else "")


def summary_rows(report: dict, family: str = "main") -> list[dict]:
    """One row per tested task's main metric (family "main": what the verdict judges) or per secondary metric, each
    on the items the verdict judges it by (leak-free when leakage was found: its basis says so)."""
    from spacekit.compare.verdict import basis

    rows = []
    for t in report["tasks"]:
        cells, based_on = basis(t)
        for name, m in cells.items():
            if (name == t["main_metric"]) != (family == "main"):
                continue
            rows.append({"task": t["name"], "tag": t["tag"], "metric": name, "basis": based_on,
                         "before": num(m["before"]), "after": num(m["after"]), "delta": signed(m["delta"]),
                         "ci": interval(m), "p_adj": pval(m["p_adjusted"]), "margin": f"{m['margin']:g}",
                         "verdict": m["verdict"], "verdict_text": verdict_text(m), "arrow": ARROWS[m["verdict"]]})
    return rows


def headline_parts(report: dict) -> list[str]:
    """The rows behind the verdict, grouped by their verdict: 'improved on scifact ndcg@10 +0.0228 [+0.0050,
    +0.0420] (leak-free, n=211)', 'negligible change on stsb spearman -0.0030 [...]'."""
    rows = report["headline"]["rows"]
    parts = []
    for verdict in VERDICT_ORDER:
        mine = [r for r in rows if r["verdict"] == verdict]
        if mine:
            parts.append(f"{verdict} on " + "; ".join(
                f"{r['task']} {r['metric']} {signed(r['delta'])} {interval(r)}"
                + "".join(f" ({x})" for x in (r["basis"], r["needed_n"] and f"needs n≈{r['needed_n']:,}") if x)
                for r in mine))
    return parts


def leakage_rows(report: dict) -> list[dict]:
    """Per task of the leakage section, as text: its items, exact and near leaks, the main metric's change on all
    items and without the leaked ones (with the verdict that uses it), and for retrieval how many remaining queries
    had a relevant document among the training positives, with the change on the others (new documents only)."""
    entries = {t["name"]: t for t in report["tasks"]}
    rows = []
    for name, info in report["leakage"]["tasks"].items():
        row = {"task": name, "n": str(info["n"]), "exact": str(info["exact"]), "near": str(info["near"]),
               "all": "–", "leak_free": "–", "touched": "–", "new_documents": "–"}
        t = entries.get(name)
        if t is not None:
            main = t["main_metric"]
            change = lambda c: f"{signed(c['delta'])} {interval(c)}"
            row["all"] = f"{main} {change(t['metrics'][main])}"
            if t.get("leak_free"):
                clean = t["leak_free"]["metrics"][main]
                row["leak_free"] = f"{change(clean)} on n={t['leak_free']['n']}: {verdict_text(clean)}"
            seen = t.get("trained_documents")
            if seen:
                row["touched"] = f"{seen['touched']} of {seen['of']}"
                fresh = seen.get("new_documents_only")
                if fresh:
                    row["new_documents"] = f"{change(fresh['metrics'][main])} on n={fresh['n']}"
        rows.append(row)
    return rows


def model_rows(report: dict) -> list[tuple[str, str, str, bool]]:
    """(setting, before, after, differs) per row of the models section (compare.models.setting_rows), shown as
    text; prompts as Python literals, so an empty one reads ''."""
    from spacekit.compare.models import setting_rows

    if not report.get("models"):
        return []

    def show(setting: str, v) -> str:
        if setting.startswith("prompt ("):
            return repr(v)
        return "–" if v is None else ", ".join(map(str, v)) if isinstance(v, list) else str(v)
    return [(s, show(s, b), show(s, a), b != a) for s, b, a in setting_rows(report["models"])]


def json_ready(value):
    """A report or result object for JSON: numpy scalars as Python numbers, and undefined values (NaN, inf: a
    correlation over constant values, say) as None, so the JSON is strict and readers see null."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def reference_summary(report: dict) -> str | None:
    """One sentence on the MTEB reference check (None without --reference)."""
    ref = report.get("reference")
    if not ref:
        return None
    checked = sum(len(t["rows"]) for t in ref["tasks"])
    if ref["flagged"]:
        return (f"MTEB reference: {ref['flagged']} of {checked} metrics differ from the reference by more than "
                f"{ref['tolerance']:g}: the before model does not reproduce the published numbers")
    return (f"MTEB reference: all {checked} metrics of {len(ref['tasks'])} tasks within {ref['tolerance']:g} of the "
            f"reference (the before model reproduces them)")


def reference_table(report: dict) -> list[tuple[str, str, str, str, str, str, bool]]:
    """(task, MTEB task, metric, spacekit, reference, difference, flagged) per metric, formatted."""
    return [(t["task"], t["mteb_task"], r["metric"], f"{r['spacekit']:.5f}", f"{r['reference']:.5f}",
             f"{r['difference']:+.6f}", r["flagged"]) for t in report["reference"]["tasks"] for r in t["rows"]]


def queries_summary(section: dict) -> str:
    """One sentence on a queries section: overlap, RBO, results entering the top k, unchanged queries."""
    k = section["k"]
    return (f"{section['name']}: {section['n']:,} queries without labels; overlap@{k} {section[f'overlap@{k}']:.3f}, "
            f"RBO (p={section['rbo_p']:g}) {section['rbo']:.3f}, {section['entered_per_query']:.2f} results per query "
            f"entered the top {k}; {section['unchanged_queries']:,} queries' lists unchanged")


def online_lines(report: dict) -> list[str]:
    """The online evidence, one sentence per log (empty without --ab / --interleaved)."""
    online = report.get("online") or {}
    lines: list[str] = []
    ab = online.get("ab")
    if ab:
        m = ab["metrics"][0]
        srm = "sample ratio ok" if not ab["srm"]["mismatch"] else "SAMPLE RATIO MISMATCH"
        lines.append(f"A/B test ({ab['log']}; {ab['control']} = before, {ab['treatment']} = after): {m['metric']} "
                     f"{m['control']:.4f} → {m['treatment']:.4f}, {m['delta']:+.4f} [{m['ci_low']:+.4f}, "
                     f"{m['ci_high']:+.4f}] over {sum(ab['units'].values()):,} units, {srm}; verdict: {ab['verdict']}")
    il = online.get("interleaved")
    if il:
        side = {"b preferred": "after preferred", "a preferred": "before preferred"}.get(il["verdict"], il["verdict"])
        lines.append(f"interleaving ({il['log']}; a = before, b = after): preference for after "
                     f"{il['preference_b']:+.3f} [{il['ci_low']:+.3f}, {il['ci_high']:+.3f}] over {il['units']:,} "
                     f"units, sign test p {il['sign_test_p']:.3g}; {side}")
    return [f"SIMULATED {x}" for x in lines] if online.get("simulated") else lines


def evidence_line(report: dict) -> str:
    """What the verdict rests on: the offline suite, and the online logs reported beside it."""
    tested = len(report["tasks"])
    online = report.get("online") or {}
    extra = [name for name, key in (("an A/B log", "ab"), ("an interleaved log", "interleaved")) if online.get(key)]
    return (f"evidence: the verdict rests on the offline suite ({tested} tested task{'s' if tested != 1 else ''})"
            + (f"; {' and '.join(extra)} reported beside it, not folded into it" if extra else ""))
