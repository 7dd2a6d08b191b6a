"""index.html: a self-contained page (inline CSS and images) that opens offline and reads on its own: the verdict
with the rows behind it and its rule, then every section with a line saying what it shows."""

from __future__ import annotations

import base64
from pathlib import Path

from spacekit.compare import Comparison
from spacekit.compare.drift import Drift
from spacekit.compare.entry import TaskEntry
from spacekit.escape import html as e
from spacekit.report.format import (
    BUDGET_COLUMNS,
    SLICE_COLUMNS,
    budget_rows,
    evidence_line,
    headline_parts,
    leakage_rows,
    model_rows,
    num,
    online_lines,
    provenance_rows,
    pval,
    reference_summary,
    reference_table,
    signed,
    slice_rows,
    summary_rows,
)
from spacekit.report.why import why_tables

CSS = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;
text-align:right;vertical-align:top}td:first-child,th:first-child,td.l,th.l{text-align:left}.improved{color:#1a7f37}
.regressed{color:#cf222e}.inconclusive{color:#9a6700}.banner{font-size:1.4rem;padding:.8rem 1rem;border-radius:6px;
background:#f3f4f6}.banner ul{font-size:1rem;margin:.4rem 0}img{max-width:100%;border:1px solid #eee}
.muted{color:#666;font-size:.9rem}.nw{white-space:nowrap}.warn{color:#cf222e;font-weight:600}"""


def render_html(comparison: Comparison, plots: dict[str, Path]) -> str:
    """The report page; images are embedded as base64 PNG; every data string escaped."""
    c = comparison
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>spacekit: {e(c.verdict)}</title>",
           f"<style>{CSS}</style></head><body>",
           f"<div class='banner'>Verdict: <b>{e(c.verdict)}</b><ul>"
           + "".join(f"<li>{e(p)}</li>" for p in headline_parts(c.headline)) + "</ul>"
           f"<div class='muted'>Rule: {e(c.headline.rule)}. {e(evidence_line(c))}.</div></div>",
           f"<p class='muted'>before <code>{e(c.before)}</code> → after <code>{e(c.after)}</code>; "
           f"{c.resamples:,} paired bootstrap resamples; created {e(c.created)} by spacekit "
           f"{e(c.spacekit_version)}.</p>",
           "<h2>Main metrics (the verdict)</h2>", _summary(c, "main", "summary")]
    if summary_rows(c, "secondary"):
        out += ["<h2>Secondary metrics</h2><p class='muted'>Corrected as a family of their own; they never decide "
                "the verdict.</p>", _summary(c, "secondary")]
    out.append(_models(c))
    if c.provenance is not None:
        out.append(f"<details><summary>Provenance: {e(c.provenance.summary())}</summary><table id='provenance'>"
                   + "".join(f"<tr><td>{e(k)}</td><td class='l'>{e(v)}</td></tr>" for k, v in provenance_rows(c))
                   + "</table></details>")
    out.append(f"<h2>Overfitting</h2><p>{e(c.overfitting.note)}</p>")
    if c.leakage:
        out.append(_leakage(c))
    if online_lines(c):
        out.append("<h2>Online evidence</h2><p class='muted'>" + e(evidence_line(c)) + ".</p><ul>"
                   + "".join(f"<li>{e(x)}</li>" for x in online_lines(c)) + "</ul>")
    if c.reference:
        out.append(_reference(c))
    if "projection" in plots:
        out.append("<h2>Projection</h2><p class='muted'>A sample of each task's texts under both models, one "
                   "projection fitted on both at once (the panels share coordinates); colour: task; lines: the probe "
                   f"pairs whose cosine moved most.</p>{_img(plots['projection'], 'joint projection before/after')}")
    out.append(_drift(c.drift))
    if "deltas" in plots:
        out.append("<h2>Per-item changes</h2><p class='muted'>Per task, the change of each item (what an item is: "
                   "below); items that did not change are counted in each panel's title, not drawn.</p>"
                   f"{_img(plots['deltas'], 'per-item delta histograms')}")
    out.append(_cutoffs(c.tasks, plots))
    out.append(_sparsity(c.tasks))
    out.append(_budget(c.tasks))
    out += [_slices(t) + _why(t) for t in c.tasks]
    out += [_examples(t) for t in c.tasks]
    for key, sections in c.observed.items():
        for i, section in enumerate(sections):
            name = key if i == 0 else f"{key}-{i + 1}"
            out.append(section.html(_img(plots[name], f"{key}: {section.name}") if name in plots else ""))
    out.append("</body></html>")
    return "\n".join(out)


def _summary(comparison: Comparison, family: str, table_id: str = "secondary") -> str:
    rows = [f"<table id='{table_id}'><tr><th>task</th><th class='l'>tag</th><th class='l'>metric</th>"
            "<th>before</th><th>after</th><th>Δ</th><th>95% CI</th><th>p (adj.)</th><th>margin</th>"
            "<th class='l'>verdict</th></tr>"]
    for r in summary_rows(comparison, family):
        basis = f"<br><span class='muted'>{e(r.basis)}</span>" if r.basis else ""
        rows.append(f"<tr><td>{e(r.task)}{basis}</td><td class='l'>{e(r.tag)}</td>"
                    f"<td class='l'>{e(r.metric)}</td><td>{r.before}</td><td>{r.after}</td>"
                    f"<td>{r.delta}</td><td class='nw'>{r.ci}</td><td>{r.p_adj}</td><td>{r.margin}</td>"
                    f"<td class='l {r.verdict.split()[0]}'>{r.arrow} {e(r.verdict_text)}</td></tr>")
    return "".join(rows) + "</table>"


def _models(comparison: Comparison) -> str:
    rows = model_rows(comparison)
    if not rows:
        return ""
    differ = [r[0] for r in rows if r[3]]
    out = ["<h2>Models</h2><p>" + (f"The two models differ in: <b>{e(', '.join(differ))}</b>; the comparison "
                                   "measures these differences too." if differ else
                                   "The two models share every setting below.") + "</p>",
           "<table id='models'><tr><th class='l'>setting</th><th class='l'>before</th><th class='l'>after</th>"
           "<th></th></tr>"]
    out += [f"<tr><td>{e(k)}</td><td class='l'>{e(b)}</td><td class='l'>{e(a)}</td><td>{'≠' if d else ''}</td></tr>"
            for k, b, a, d in rows]
    return "".join(out) + "</table>"


def _reference(comparison: Comparison) -> str:
    """The before model's numbers beside the MTEB result files given with --reference."""
    rows = "".join(f"<tr><td>{e(t)}</td><td>{e(m)}</td><td>{e(k)}</td><td>{a}</td><td>{b}</td><td>{d}</td>"
                   f"<td class='l{' regressed' if f else ''}'>{'differs' if f else ''}</td></tr>"
                   for t, m, k, a, b, d, f in reference_table(comparison))
    return (f"<h2>Reproducibility (MTEB reference)</h2><p>{e(reference_summary(comparison) or '')}.</p><table><tr>"
            "<th>task</th><th>MTEB task</th><th>metric</th><th>spacekit (before)</th><th>reference</th>"
            f"<th>difference</th><th></th></tr>{rows}</table>")


def _leakage(comparison: Comparison) -> str:
    lk = comparison.leakage
    if lk is None:
        return ""
    out = [f"<h2>Leakage</h2><p>{e(lk.train)}: {e(lk.read_as)}. An evaluation item leaks when one of its "
           f"texts equals a training text (normalised) or lies at cosine ≥ {lk.threshold} from one under the "
           "before model. The verdict judges a task with leaked items <b>without them</b>; for retrieval, the queries "
           "left whose relevant document was a training positive are counted (not leakage by itself: how much of "
           "the test the training touched), with the change on the rest (new documents only).</p>",
           "<table><tr><th>task</th><th>items</th><th>exact</th><th>near</th><th class='l'>all items</th>"
           "<th class='l'>without leaked items</th><th>relevant doc trained on</th>"
           "<th class='l'>new documents only</th></tr>"]
    out += [f"<tr><td>{e(r.task)}</td><td>{r.n}</td><td>{r.exact}</td><td>{r.near}</td>"
            f"<td class='l'>{e(r.all)}</td><td class='l'>{e(r.leak_free)}</td><td>{r.touched}</td>"
            f"<td class='l'>{e(r.new_documents)}</td></tr>" for r in leakage_rows(comparison)]
    out.append("</table>")
    for name, info in lk.tasks.items():
        if info.pairs:
            out.append(f"<h3>{e(name)}: leaked items and their training match</h3><p class='muted'>Nearest the "
                       "threshold first, so the judgement call is in view.</p><table><tr><th>cosine</th>"
                       "<th class='l'>evaluation text</th><th class='l'>training text</th></tr>")
            out += [f"<tr><td>{x.cosine:.3f}<br><span class='muted'>{x.kind}</span></td>"
                    f"<td class='l'>{e(x.text)}</td><td class='l'>{e(x.match)}</td></tr>" for x in info.pairs]
            out.append("</table>")
    return "".join(out)


def _drift(drift: Drift) -> str:
    if drift.knn_overlap is None or drift.geometry is None:
        return f"<h2>Space drift</h2><p class='muted'>{e(drift.note)}</p>" if drift.note else ""
    out = [f"<h2>Space drift</h2><p>How much each text's neighbourhood changed: kNN overlap (k={drift.k}, "
           f"n={drift.n}): mean {num(drift.knn_overlap.mean)}, median {num(drift.knn_overlap.median)}; "
           f"linear CKA {num(drift.linear_cka)}.</p><table><tr><th>geometry</th><th>before</th><th>after</th>"
           "<th>Δ</th></tr>"]
    out += [f"<tr><td>{e(k)}</td><td>{num(v.before)}</td><td>{num(v.after)}</td><td>{signed(v.delta)}"
            "</td></tr>" for k, v in drift.geometry.items()]
    return "".join(out) + "</table>"


def _budget(tasks: tuple[TaskEntry, ...]) -> str:
    rows = budget_rows(tasks)
    if not rows:
        return ""
    head = "".join(f"<th>{e(c)}</th>" for c in BUDGET_COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{e(x)}</td>" for x in r) + "</tr>" for r in rows)
    return ("<h2>Label budget</h2><p class='muted'>What each task's items can decide about its main metric (paired t "
            f"power at the level its test faced).</p><table><tr>{head}</tr>{body}</table>")


def _slices(t: TaskEntry) -> str:
    rows = slice_rows(t)
    if not rows or t.slices is None:
        return ""
    warning = f"<p class='warn'>{e(t.slices.simpson)}</p>" if t.slices.simpson else ""
    left = " class='l'"
    head = "".join(f"<th{left if i < 2 else ''}>{e(c)}</th>" for i, c in enumerate(SLICE_COLUMNS))
    body = "".join("<tr>" + "".join(f"<td{left if i < 2 else ''}>{e(x)}</td>" for i, x in enumerate(r))
                   + "</tr>" for r in rows)
    return (f"<h3>Slices of {e(t.name)} <span class='muted'>({e(t.slices.metric)}; {e(t.slices.items)}; p corrected "
            f"across its slices)</span></h3>{warning}<table><tr>{head}</tr>{body}</table>")


def _why(t: TaskEntry) -> str:
    out = []
    for table in why_tables(t):
        left = [" class='l'" if i in table.text else "" for i in range(len(table.columns))]
        head = "".join(f"<th{left[i]}>{e(c)}</th>" for i, c in enumerate(table.columns))
        body = "".join("<tr>" + "".join(f"<td{left[i]}>{e(x)}</td>" for i, x in enumerate(r)) + "</tr>"
                       for r in table.rows)
        warning = f"<p class='warn'>{e(table.warning)}</p>" if table.warning else ""
        out.append(f"<h3>{e(table.title)}</h3><p class='muted'>{e(table.note)}</p>{warning}"
                   + (f"<table><tr>{head}</tr>{body}</table>" if table.rows else ""))
    return "".join(out)


def _sparsity(tasks: tuple[TaskEntry, ...]) -> str:
    sparse = [t for t in tasks if t.sparsity is not None]
    if not sparse:
        return ""
    return ("<h2>Sparsity</h2><p class='muted'>A sparse encoder's active dimensions and FLOPs per query-document pair "
            "(sentence-transformers' SparseInformationRetrievalEvaluator's definitions).</p><ul>"
            + "".join(f"<li><b>{e(t.name)}</b>: {e(t.sparsity.line)}</li>" for t in sparse if t.sparsity is not None)
            + "</ul>")


def _cutoffs(tasks: tuple[TaskEntry, ...], plots: dict[str, Path]) -> str:
    cut = [t for t in tasks if t.threshold is not None]
    if not cut:
        return ""
    out = ["<h2>Similarity cut-offs</h2><p class='muted'>What a cut-off on the similarity (pairs scored at or "
           "above it count as matches) selects under each model; intervals: paired bootstrap over the items.</p><ul>"]
    out += [f"<li><b>{e(t.name)}</b>: {e(t.threshold.line)} <span class='muted'>(a positive: "
            f"{e(t.threshold.positive)})</span></li>" for t in cut if t.threshold is not None]
    out.append("</ul>")
    if "thresholds" in plots:
        out.append(_img(plots["thresholds"], "score histograms of both models with the cut-offs"))
    return "".join(out)


def _examples(t: TaskEntry) -> str:
    wtl = t.win_tie_loss
    mcnemar = f"; McNemar p {pval(t.extras.get('mcnemar_p'))}" if "mcnemar_p" in t.extras else ""
    parts = [f"<h3>{e(t.name)} <span class='muted'>({e(t.kind)}, n={t.n}; win/tie/loss "
             f"{wtl.win}/{wtl.tie}/{wtl.loss}{mcnemar})</span></h3>",
             f"<p class='muted'>{e(t.item_meaning[0].upper() + t.item_meaning[1:])}.</p>"]
    for title, items in [("most improved", t.most_improved), ("most regressed", t.most_regressed)]:
        if not items:
            continue
        ranked = any("rank_before" in x.facts for x in items)
        parts.append(f"<table><tr><th class='l'>{title}</th><th>Δ</th>" + ("<th>rank</th>" if ranked else "")
                     + "</tr>")
        for x in items:
            rank = (f"<td class='nw'>{x.facts.get('rank_before') or '>'} → {x.facts.get('rank_after') or '>'}</td>"
                    if ranked else "")
            parts.append(f"<tr><td class='l'>{e(x.text[:300])}</td><td>{signed(x.delta)}</td>{rank}</tr>")
        parts.append("</table>")
    return "".join(parts)


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"<img alt='{e(alt)}' src='data:image/png;base64,{data}'>"
