"""The report of an A/B analysis or an interleaved preference on its own (`ab analyze -o DIR`, `ab interleaved -o
DIR`): report.json (the typed record), report.md and index.html, with compare's escaping and page style; and the
A/B table compare's report shows in its online section."""

from __future__ import annotations

import json
from pathlib import Path

from spacekit.ab.analysis import AbAnalysis, AbMetric
from spacekit.ab.interleave import Preference
from spacekit.escape import html as e
from spacekit.escape import md
from spacekit.files import atomic_write
from spacekit.records import to_json
from spacekit.report.format import markdown_table, num, pval, signed


def write_online_report(result: AbAnalysis | Preference, out_dir: str | Path,
                        overwrite: bool = False) -> dict[str, Path]:
    """Write report.json, report.md and index.html for the result into out_dir (moved in together); returns
    {name: path}."""
    from spacekit.report.folder import claim_report_folder, report_files
    from spacekit.report.html import CSS

    out = claim_report_folder(out_dir, overwrite)                # a folder spacekit did not write: refused
    lines = ab_lines(result) if isinstance(result, AbAnalysis) else preference_lines(result)
    table = ab_table(result) if isinstance(result, AbAnalysis) else []
    markdown = [f"# {md(result.log)}: {md(result.verdict)}", "", *[f"- {md(x)}" for x in lines]]
    if table:
        markdown += ["", *markdown_table(table)]
    page = [f"<!doctype html><html><head><meta charset='utf-8'><title>spacekit: {e(result.verdict)}</title>",
            f"<style>{CSS}</style></head><body>",
            f"<div class='banner'>Verdict: <b>{e(result.verdict)}</b>"
            f"<div class='muted'>{e(result.log)}</div></div><ul>",
            *[f"<li>{e(x)}</li>" for x in lines], "</ul>"]
    if table:
        page.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in table[0]) + "</tr>"
                    + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in table[1:])
                    + "</table>")
    page.append("</body></html>")
    files = {"json": ("report.json", json.dumps(to_json(result), indent=1, allow_nan=False)),
             "markdown": ("report.md", "\n".join(markdown) + "\n"),
             "html": ("index.html", "\n".join(page))}
    with report_files(out) as stage:                             # moved in together once all are written
        for name, text in files.values():
            atomic_write(stage / name, text)
    return {key: out / name for key, (name, _) in files.items()}


def ab_table(ab: AbAnalysis) -> list[list[str]]:
    """The A/B table: a header, then one row per metric (both arms, the change, its interval over units, the
    adjusted p, the verdict); with CUPED the unadjusted change beside the adjusted one (the interval and p are the
    adjusted change's), each labelled."""
    cuped = ab.cuped is not None
    rows = [["metric", ab.control, ab.treatment, *(["Δ (unadjusted)", "Δ (CUPED)"] if cuped else ["Δ"]),
             "95% CI (units)", "p adj.", "verdict"]]
    rows += [[m.metric, num(m.control), num(m.treatment), *([signed(m.treatment - m.control)] if cuped else []),
              signed(m.delta), f"[{signed(m.ci_low)}, {signed(m.ci_high)}]", pval(m.p_adjusted), verdict_words(m)]
             for m in ab.metrics]
    return rows


def verdict_words(m: AbMetric) -> str:
    """The row's verdict, with the units needed to decide when inconclusive, or the change it could have found when
    it found none."""
    if m.verdict == "inconclusive" and m.needed_units is not None:
        return f"{m.verdict} (needs ≈ {m.needed_units:,} units)"
    if m.verdict == "no significant change" and m.detectable is not None:
        return f"{m.verdict} (could find ±{m.detectable:.4f})"
    return str(m.verdict)


def ab_lines(ab: AbAnalysis) -> list[str]:
    """What the table does not say: units, impressions, the sample-ratio check, CUPED, the log's health, the
    metrics not measured, and the rule."""
    c, t = ab.control, ab.treatment
    out = [f"{c} (control) vs {t}: units {ab.units[c]:,} / {ab.units[t]:,}, impressions {ab.impressions[c]:,} / "
           f"{ab.impressions[t]:,}; sample ratio p {ab.srm.p_value:.3g}"
           + (" (MISMATCH: the verdict is withheld)" if ab.srm.mismatch else "")]
    if ab.cuped is not None:
        cu = ab.cuped
        balance = ("" if cu.balance_p is None else f"; pre-period balance {c} {cu.control_mean:.4g} vs {t} "
                   f"{cu.treatment_mean:.4g}, p {cu.balance_p:.3g}"
                   + (" (IMBALANCED: randomisation or the covariate is suspect)" if cu.balance_p < 0.001 else ""))
        out.append(f"CUPED: variance of {ab.main_metric} reduced by {ab.metrics[0].variance_reduction:.0%}; "
                   f"{cu.units_without_pre_period:,} units without a pre-period value (given the mean){balance}")
    health = ab.health
    out += [f"log health: {p}" for p in (health.problems if health else ())]
    out += [*(health.notes if health else ()), *ab.not_measured, f"rule: {ab.rule}"]
    return out


def preference_lines(p: Preference) -> list[str]:
    """An interleaved preference in sentences."""
    return [f"{p.impressions:,} impressions, {p.with_clicks:,} with clicks, {p.units:,} units",
            f"wins b / ties / wins a: {p.wins_b:,} / {p.ties:,} / {p.wins_a:,}",
            f"preference for b (per unit, -1..1): {p.preference_b:+.4f} [{p.ci_low:+.4f}, {p.ci_high:+.4f}]; share "
            f"{p.share_b:.3f}",
            f"units favouring b / a: {p.units_favouring_b:,} / {p.units_favouring_a:,}; sign test p "
            f"{p.sign_test_p:.3g}"]
