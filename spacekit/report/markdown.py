"""report.md: the comparison as Markdown."""

from __future__ import annotations

from spacekit.report.escape import md
from spacekit.report.format import model_rows, num, pval, signed, summary_rows


def render_markdown(report: dict) -> str:
    """The whole report as one Markdown document; every data string (names, paths, texts, ids) escaped by md()."""
    lines = [f"# spacekit comparison: **{report['verdict']}**", "",
             f"before {md(report['before'])} → after {md(report['after'])}; alpha {report['alpha']}, "
             f"{report['resamples']:,} bootstrap resamples, Holm–Bonferroni over all {_n_tests(report)} tests.", "",
             "| task | tag | metric | before | after | Δ | 95% CI | p (adj.) | verdict |",
             "|---|---|---|---:|---:|---:|---|---:|---|"]
    for r in summary_rows(report):
        metric = f"**{md(r['metric'])}**" if r["main"] else md(r["metric"])
        lines.append(f"| {md(r['task'])} | {md(r['tag'])} | {metric} | {r['before']} | {r['after']} | {r['delta']} | "
                     f"{r['ci']} | {r['p_adj']} | {r['arrow']} {r['verdict']} |")
    rows = model_rows(report)
    if rows:
        differ = [r[0] for r in rows if r[3]]
        lines += ["", "## Models", "", (f"The two models differ in: {md(', '.join(differ))} (marked ≠); the "
                                        f"comparison measures these differences too." if differ else
                                        "The two models share every setting below."), "",
                  "| setting | before | after | |", "|---|---|---|---|"]
        lines += [f"| {md(k)} | {md(b)} | {md(a)} | {'≠' if d else ''} |" for k, b, a, d in rows]
    of = report["overfitting"]
    lines += ["", "## Overfitting", "", f"{of['note']} (in-domain: {of['in-domain']['improved']} improved, "
              f"{of['in-domain']['regressed']} regressed; holdout: {of['holdout']['improved']} improved, "
              f"{of['holdout']['regressed']} regressed)."]
    if report.get("leakage"):
        lk = report["leakage"]
        lines += ["", "## Leakage", "", f"{lk['train_texts']:,} training texts from {md(lk['train'])}; near-duplicate "
                  f"threshold cosine ≥ {lk['threshold']} under the before model.", "",
                  "| task | exact | near | without leaked items (main metric Δ) |", "|---|---:|---:|---|"]
        for name, info in lk["tasks"].items():
            clean = info.get("without_leaked")
            text = "–"
            if clean:
                main = next(iter(clean["metrics"]))
                text = f"{md(main)}: {signed(clean['metrics'][main]['delta'])} on n={clean['n']}"
            lines.append(f"| {md(name)} | {info['exact']} | {info['near']} | {text} |")
    drift = report["drift"]
    if "knn_overlap" in drift:
        lines += ["", "## Space drift", "", f"kNN overlap (k={drift['k']}, n={drift['n']}): mean "
                  f"{num(drift['knn_overlap']['mean'])}, median {num(drift['knn_overlap']['median'])}; "
                  f"linear CKA {num(drift['linear_cka'])}.", "", "| geometry | before | after | Δ |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {md(k)} | {num(v['before'])} | {num(v['after'])} | {signed(v['delta'])} |"
                  for k, v in drift["geometry"].items()]
    for p in report["probes"]:
        lines += ["", f"## Probes ({md(p['name'])})", "", "| group | pair | expect | before | after | trained on |",
                  "|---|---|---|---:|---:|---|"]
        lines += [f"| {md(x['group'])} | {md(x['text_a'])} ⟷ {md(x['text_b'])} | {md(x['expect'])} | "
                  f"{num(x['before'])} | {num(x['after'])} | {'yes' if x['trained_on'] else ''} |" for x in p["pairs"]]
    for t in report["tasks"]:
        lines += ["", f"## {md(t['name'])} ({md(t['kind'])}, {md(t['tag'])}, n={t['n']})", "",
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


def _n_tests(report: dict) -> int:
    return sum(len(t["metrics"]) for t in report["tasks"])


__all__ = ["pval", "render_markdown"]
