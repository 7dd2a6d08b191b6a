"""index.html: a self-contained page (inline CSS and images) that opens offline."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from spacekit.report.format import model_rows, num, pval, signed, summary_rows

CSS = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;
text-align:right}td:first-child,th:first-child,td.l,th.l{text-align:left}.improved{color:#1a7f37}
.regressed{color:#cf222e}.banner{font-size:1.4rem;padding:.8rem 1rem;border-radius:6px;background:#f3f4f6}
.main{font-weight:600}img{max-width:100%;border:1px solid #eee}.muted{color:#666;font-size:.9rem}"""


def render_html(report: dict, plots: dict[str, Path]) -> str:
    """The report page; images are embedded as base64 PNG."""
    e = html.escape
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>spacekit: {e(report['verdict'])}</title>",
           f"<style>{CSS}</style></head><body>",
           f"<div class='banner'>Verdict: <b>{e(report['verdict'])}</b></div>",
           f"<p class='muted'>before <code>{e(report['before'])}</code> → after <code>{e(report['after'])}</code>;"
           f" alpha {report['alpha']}, {report['resamples']:,} paired bootstrap resamples, Holm–Bonferroni "
           f"correction; created {e(report['created'])} by spacekit {e(report['spacekit_version'])}.</p>",
           "<h2>Summary</h2><table id='summary'><tr><th>task</th><th class='l'>tag</th><th class='l'>metric</th>"
           "<th>before</th><th>after</th><th>Δ</th><th>95% CI</th><th>p (adj.)</th><th class='l'>verdict</th></tr>"]
    for r in summary_rows(report):
        cls = "main" if r["main"] else ""
        out.append(f"<tr class='{cls}'><td>{e(r['task'])}</td><td class='l'>{e(r['tag'])}</td>"
                   f"<td class='l'>{e(r['metric'])}</td><td>{r['before']}</td><td>{r['after']}</td>"
                   f"<td>{r['delta']}</td><td>{r['ci']}</td><td>{r['p_adj']}</td>"
                   f"<td class='l {r['verdict'].split()[0]}'>{r['arrow']} {e(r['verdict'])}</td></tr>")
    out.append("</table>")
    rows = model_rows(report)
    if rows:
        differ = [r[0] for r in rows if r[3]]
        out.append("<h2>Models</h2><p>" + (f"The two models differ in: <b>{e(', '.join(differ))}</b>; the comparison "
                                            "measures these differences too." if differ else
                                            "The two models share every setting below.") + "</p>")
        out.append("<table id='models'><tr><th class='l'>setting</th><th class='l'>before</th>"
                   "<th class='l'>after</th><th></th></tr>")
        out += [f"<tr><td>{e(k)}</td><td class='l'>{e(b)}</td><td class='l'>{e(a)}</td><td>{'≠' if d else ''}</td>"
                "</tr>" for k, b, a, d in rows]
        out.append("</table>")
    of = report["overfitting"]
    out.append(f"<h2>Overfitting</h2><p>{e(of['note'])}.</p>")
    if "projection" in plots:
        out.append(f"<h2>Projection</h2>{_img(plots['projection'], 'joint projection before/after')}")
    if report.get("leakage"):
        lk = report["leakage"]
        out.append(f"<h2>Leakage</h2><p>{lk['train_texts']:,} training texts; near-duplicate threshold cosine ≥ "
                   f"{lk['threshold']}.</p><table><tr><th>task</th><th>exact</th><th>near</th>"
                   "<th class='l'>example</th></tr>")
        for name, info in lk["tasks"].items():
            ex = info["examples"][0] if info["examples"] else None
            example = f"{e(ex['text'][:90])} ≈ {e(ex['match'][:90])} ({ex['kind']})" if ex else ""
            out.append(f"<tr><td>{e(name)}</td><td>{info['exact']}</td><td>{info['near']}</td>"
                       f"<td class='l'>{example}</td></tr>")
        out.append("</table>")
    drift = report["drift"]
    if "knn_overlap" in drift:
        out.append(f"<h2>Space drift</h2><p>kNN overlap (k={drift['k']}, n={drift['n']}): mean "
                   f"{num(drift['knn_overlap']['mean'])}, median {num(drift['knn_overlap']['median'])}; linear CKA "
                   f"{num(drift['linear_cka'])}.</p><table><tr><th>geometry</th><th>before</th><th>after</th>"
                   "<th>Δ</th></tr>")
        out += [f"<tr><td>{e(k)}</td><td>{num(v['before'])}</td><td>{num(v['after'])}</td><td>{signed(v['delta'])}"
                "</td></tr>" for k, v in drift["geometry"].items()]
        out.append("</table>")
    if "deltas" in plots:
        out.append(f"<h2>Per-item changes</h2>{_img(plots['deltas'], 'per-item delta histograms')}")
    for t in report["tasks"]:
        out.append(_examples(t))
    if report["probes"]:
        p = report["probes"][0]
        out.append(f"<h2>Probes</h2><p>groups passed: {num(p['groups_passed']['before'], 2)} → "
                   f"{num(p['groups_passed']['after'], 2)}; pairs seen in training are marked †.</p>")
        if "probes" in plots:
            out.append(_img(plots["probes"], "probe cosines before/after"))
    out.append("</body></html>")
    return "\n".join(out)


def _examples(t: dict) -> str:
    e = html.escape
    wtl = t["win_tie_loss"]
    parts = [f"<h3>{e(t['name'])} <span class='muted'>({e(t['kind'])}, n={t['n']}; win/tie/loss "
             f"{wtl['win']}/{wtl['tie']}/{wtl['loss']}" + (f"; McNemar p {pval(t['mcnemar_p'])}" if "mcnemar_p" in t
                                                          else "") + ")</span></h3>"]
    for title, key in [("most improved", "most_improved"), ("most regressed", "most_regressed")]:
        if not t[key]:
            continue
        parts.append(f"<table><tr><th class='l'>{title}</th><th>Δ</th><th>rank</th></tr>")
        for x in t[key]:
            rank = f"{x.get('rank_before') or '>'} → {x.get('rank_after') or '>'}" if "rank_before" in x else ""
            parts.append(f"<tr><td class='l'>{e(x['text'][:140])}</td><td>{signed(x['delta'])}</td>"
                         f"<td>{rank}</td></tr>")
        parts.append("</table>")
    return "".join(parts)


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"
