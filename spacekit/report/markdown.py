"""report.md: the comparison as Markdown."""

from __future__ import annotations

from spacekit.report.escape import md
from spacekit.report.format import (
    evidence_line,
    headline_parts,
    leakage_rows,
    model_rows,
    num,
    online_lines,
    pval,
    queries_summary,
    reference_summary,
    reference_table,
    signed,
    summary_rows,
)


def render_markdown(report: dict) -> str:
    """The whole report as one Markdown document; every data string (names, paths, texts, ids) escaped by md()."""
    lines = [f"# spacekit comparison: **{report['verdict']}**", ""]
    lines += [f"- {md(part)}" for part in headline_parts(report)]
    lines += ["", f"Rule: {md(report['headline']['rule'])}. before {md(report['before'])} → after "
              f"{md(report['after'])}; {report['resamples']:,} paired bootstrap resamples. "
              f"{md(evidence_line(report))}.", "",
              "## Main metrics (the verdict)", ""]
    lines += _summary(report, "main")
    secondary = _summary(report, "secondary")
    if secondary:
        lines += ["", "## Secondary metrics", "", "Corrected as a family of their own; they never decide the verdict.",
                  "", *secondary]
    rows = model_rows(report)
    if rows:
        differ = [r[0] for r in rows if r[3]]
        lines += ["", "## Models", "", (f"The two models differ in: {md(', '.join(differ))} (marked ≠); the "
                                        f"comparison measures these differences too." if differ else
                                        "The two models share every setting below."), "",
                  "| setting | before | after | |", "|---|---|---|---|"]
        lines += [f"| {md(k)} | {md(b)} | {md(a)} | {'≠' if d else ''} |" for k, b, a, d in rows]
    lines += ["", "## Overfitting", "", md(report["overfitting"]["note"])]
    if report.get("leakage"):
        lines += _leakage(report)
    if online_lines(report):
        lines += ["", "## Online evidence", "", *[f"- {md(x)}" for x in online_lines(report)]]
        ab = (report.get("online") or {}).get("ab")
        if ab:
            lines += ["", f"| metric | {md(ab['control'])} | {md(ab['treatment'])} | Δ | 95% CI (units) | p adj. | "
                      "verdict |", "|---|---:|---:|---:|---|---:|---|"]
            lines += [f"| {md(m['metric'])} | {num(m['control'])} | {num(m['treatment'])} | {signed(m['delta'])} | "
                      f"[{signed(m['ci_low'])}, {signed(m['ci_high'])}] | {pval(m.get('p_adjusted'))} | "
                      f"{md(m['verdict'])} |" for m in ab["metrics"]]
    if report.get("reference"):
        lines += ["", "## Reproducibility (MTEB reference)", "", md(reference_summary(report) or "") + ".", "",
                  "| task | MTEB task | metric | spacekit (before) | reference | difference | |",
                  "|---|---|---|---:|---:|---:|---|"]
        lines += [f"| {md(t)} | {md(m)} | {md(k)} | {a} | {b} | {d} | {'differs' if f else ''} |"
                  for t, m, k, a, b, d, f in reference_table(report)]
    drift = report["drift"]
    if "knn_overlap" in drift:
        lines += ["", "## Space drift", "", f"kNN overlap (k={drift['k']}, n={drift['n']}): mean "
                  f"{num(drift['knn_overlap']['mean'])}, median {num(drift['knn_overlap']['median'])}; "
                  f"linear CKA {num(drift['linear_cka'])}.", "", "| geometry | before | after | Δ |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {md(k)} | {num(v['before'])} | {num(v['after'])} | {signed(v['delta'])} |"
                  for k, v in drift["geometry"].items()]
    for q in report.get("queries") or []:
        lines += ["", f"## Actual queries ({md(q['name'])})", "", md(queries_summary(q)) + ".",
                  f"Judging sheet: {md(str(q['sheet']))} (fill in `label`; `spacekit ab qrels` turns it into qrels).",
                  "", "The queries whose results changed most (lowest RBO):", ""]
        for x in q["most_changed"]:
            lines += [f"- **{md(x['query'][:160])}** (RBO {num(x['rbo'])}, {x['entered']} entered)",
                      f"  - before: {md('; '.join(t[:60] for _, t in x['before'][:5]))}",
                      f"  - after: {md('; '.join(t[:60] for _, t in x['after'][:5]))}"]
    for p in report["probes"]:
        lines += ["", f"## Probes ({md(p['name'])})", "", "| group | pair | expect | before | after | trained on |",
                  "|---|---|---|---:|---:|---|"]
        lines += [f"| {md(x['group'])} | {md(x['text_a'])} ⟷ {md(x['text_b'])} | {md(x['expect'])} | "
                  f"{num(x['before'])} | {num(x['after'])} | {'yes' if x['trained_on'] else ''} |" for x in p["pairs"]]
    for t in report["tasks"]:
        lines += ["", f"## {md(t['name'])} ({md(t['kind'])}, {md(t['tag'])}, n={t['n']})", "",
                  f"{md(t['item_meaning'][0].upper() + t['item_meaning'][1:])}.", "",
                  f"win / tie / loss on {md(t['main_metric'])}: {t['win_tie_loss']['win']} / {t['win_tie_loss']['tie']}"
                  f" / {t['win_tie_loss']['loss']}"
                  + (f"; McNemar p {pval(t['mcnemar_p'])}" if "mcnemar_p" in t else "")]
        for title, key in [("Most improved", "most_improved"), ("Most regressed", "most_regressed")]:
            if t[key]:
                lines += ["", f"{title}:", ""]
                lines += [f"- {signed(x['delta'])} {md(x['id'])} {md(x['text'][:160])}" + _ranks(x) for x in t[key]]
    return "\n".join(lines) + "\n"


def _ranks(item: dict) -> str:
    if "rank_before" not in item:
        return ""
    show = lambda r: str(r) if r else ">depth"
    return f" (first relevant rank {show(item['rank_before'])} → {show(item['rank_after'])})"


def _summary(report: dict, family: str) -> list[str]:
    rows = summary_rows(report, family)
    if not rows:
        return []
    out = ["| task | tag | metric | before | after | Δ | 95% CI | p (adj.) | margin | verdict |",
           "|---|---|---|---:|---:|---:|---|---:|---:|---|"]
    for r in rows:
        task = md(r["task"]) + (f" ({md(r['basis'])})" if r["basis"] else "")
        out.append(f"| {task} | {md(r['tag'])} | {md(r['metric'])} | {r['before']} | {r['after']} | {r['delta']} | "
                   f"{r['ci']} | {r['p_adj']} | {r['margin']} | {r['arrow']} {md(r['verdict_text'])} |")
    return out


def _leakage(report: dict) -> list[str]:
    lk = report["leakage"]
    out = ["", "## Leakage", "", f"{md(lk['train'])}: {md(lk['read_as'])}. An evaluation item leaks when one of its "
           f"texts equals a training text (normalised) or lies at cosine ≥ {lk['threshold']} from one under the "
           f"before model; the verdict judges a task with leaked items without them.", "",
           "| task | items | exact | near | all items | without leaked items | relevant doc trained on | new "
           "documents only |", "|---|---:|---:|---:|---|---|---|---|"]
    out += [f"| {md(r['task'])} | {r['n']} | {r['exact']} | {r['near']} | {md(r['all'])} | {md(r['leak_free'])} | "
            f"{r['touched']} | {md(r['new_documents'])} |" for r in leakage_rows(report)]
    for name, info in lk["tasks"].items():
        if info["pairs"]:
            out += ["", f"{md(name)}: leaked items beside their training match, nearest the threshold first:", ""]
            out += [f"- {x['cosine']:.3f} ({x['kind']}): {md(x['text'][:200])} ≈ {md(x['match'][:200])}"
                    for x in info["pairs"]]
    return out


__all__ = ["pval", "render_markdown"]
