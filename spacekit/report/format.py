"""Number and verdict formatting shared by the Markdown, HTML and terminal reports."""

from __future__ import annotations

ARROWS = {"improved": "▲", "regressed": "▼", "no significant change": "·"}


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


def summary_rows(report: dict) -> list[dict]:
    """One row per task x tested metric, in report order."""
    rows = []
    for t in report["tasks"]:
        for name, m in t["metrics"].items():
            rows.append({"task": t["name"], "kind": t["kind"], "tag": t["tag"], "metric": name,
                         "main": name == t["main_metric"], "before": num(m["before"]), "after": num(m["after"]),
                         "delta": signed(m["delta"]), "ci": f"[{signed(m['ci_low'])}, {signed(m['ci_high'])}]",
                         "p_adj": pval(m["p_adjusted"]), "verdict": m["verdict"], "arrow": ARROWS[m["verdict"]]})
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
