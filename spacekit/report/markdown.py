"""report.md: the comparison as Markdown."""

from __future__ import annotations

from spacekit.compare import Comparison
from spacekit.compare.entry import ItemChange, TaskEntry
from spacekit.escape import md
from spacekit.report.format import (
    BUDGET_COLUMNS,
    SLICE_COLUMNS,
    budget_rows,
    evidence_line,
    headline_parts,
    leakage_rows,
    markdown_table,
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
from spacekit.report.online import ab_table
from spacekit.report.why import why_tables


def render_markdown(comparison: Comparison) -> str:
    """The whole report as one Markdown document; every data string (names, paths, texts, ids) escaped by md()."""
    c = comparison
    lines = [f"# spacekit comparison: **{c.verdict}**", ""]
    lines += [f"- {md(part)}" for part in headline_parts(c.headline)]
    lines += ["", f"Rule: {md(c.headline.rule)}. before {md(c.before)} → after {md(c.after)}; {c.resamples:,} "
              f"paired bootstrap resamples. {md(evidence_line(c))}.", "", "## Main metrics (the verdict)", ""]
    lines += _summary(c, "main")
    secondary = _summary(c, "secondary")
    if secondary:
        lines += ["", "## Secondary metrics", "", "Corrected as a family of their own; they never decide the verdict.",
                  "", *secondary]
    rows = model_rows(c)
    if rows:
        differ = [r[0] for r in rows if r[3]]
        lines += ["", "## Models", "", (f"The two models differ in: {md(', '.join(differ))} (marked ≠); the "
                                        f"comparison measures these differences too." if differ else
                                        "The two models share every setting below."), "",
                  "| setting | before | after | |", "|---|---|---|---|"]
        lines += [f"| {md(k)} | {md(b)} | {md(a)} | {'≠' if d else ''} |" for k, b, a, d in rows]
    lines += ["", "## Overfitting", "", md(c.overfitting.note)]
    lines += _leakage(c)
    lines += _online(c)
    if c.reference:
        lines += ["", "## Reproducibility (MTEB reference)", "", md(reference_summary(c) or "") + ".", "",
                  "| task | MTEB task | metric | spacekit (before) | reference | difference | |",
                  "|---|---|---|---:|---:|---:|---|"]
        lines += [f"| {md(t)} | {md(m)} | {md(k)} | {a} | {b} | {d} | {'differs' if f else ''} |"
                  for t, m, k, a, b, d, f in reference_table(c)]
    drift = c.drift
    if drift.knn_overlap is not None and drift.geometry is not None:
        lines += ["", "## Space drift", "", f"kNN overlap (k={drift.k}, n={drift.n}): mean "
                  f"{num(drift.knn_overlap.mean)}, median {num(drift.knn_overlap.median)}; linear CKA "
                  f"{num(drift.linear_cka)}.", "", "| geometry | before | after | Δ |", "|---|---:|---:|---:|"]
        lines += [f"| {md(k)} | {num(v.before)} | {num(v.after)} | {signed(v.delta)} |"
                  for k, v in drift.geometry.items()]
    elif drift.note:
        lines += ["", "## Space drift", "", md(drift.note)]
    for section in c.sections():
        lines += section.markdown()
    cut = [t for t in c.tasks if t.threshold is not None]
    if cut:
        lines += ["", "## Similarity cut-offs", ""]
        lines += [f"- **{md(t.name)}**: {md(t.threshold.line)} (a positive: {md(t.threshold.positive)})"
                  for t in cut if t.threshold is not None]
    sparse = [t for t in c.tasks if t.sparsity is not None]
    if sparse:
        lines += ["", "## Sparsity", "", "A sparse encoder's active dimensions and FLOPs per query-document pair "
                  "(sentence-transformers' SparseInformationRetrievalEvaluator's definitions).", ""]
        lines += [f"- **{md(t.name)}**: {md(t.sparsity.line)}" for t in sparse if t.sparsity is not None]
    budget = budget_rows(c.tasks)
    if budget:
        lines += ["", "## Label budget", "", "What each task's items can decide about its main metric (paired t power "
                  "at the level its test faced; docs/conventions.md).", "",
                  "| " + " | ".join(BUDGET_COLUMNS) + " |", "|---|---|" + "---:|" * 5]
        lines += ["| " + " | ".join([md(r[0]), md(r[1]), *r[2:]]) + " |" for r in budget]
    for t in c.tasks:
        lines += _slices(t)
        lines += _why(t)
        lines += _examples(t)
    if c.provenance is not None:
        lines += ["", "## Provenance", "", md(c.provenance.summary()) + ".", "", "| | |", "|---|---|"]
        lines += [f"| {md(k)} | {md(v)} |" for k, v in provenance_rows(c)]
    return "\n".join(lines) + "\n"


def _slices(t: TaskEntry) -> list[str]:
    rows = slice_rows(t)
    if not rows or t.slices is None:
        return []
    title = f"## Slices of {md(t.name)} ({md(t.slices.metric)}; {md(t.slices.items)}; p corrected across its slices)"
    out = ["", title, "",
           "| " + " | ".join(SLICE_COLUMNS) + " |", "|---|---|" + "---:|" * 6 + "---|"]
    out += ["| " + " | ".join([md(r[0]), md(r[1]), *r[2:]]) + " |" for r in rows]       # numbers as they are
    if t.slices.simpson:
        out += ["", f"**Warning**: {md(t.slices.simpson)}."]
    return out


def _why(t: TaskEntry) -> list[str]:
    out = []
    for table in why_tables(t):
        out += ["", f"## {md(table.title)}", "", md(table.note)]
        if table.warning:
            out += ["", f"**Warning**: {md(table.warning)}."]
        out += ["", "| " + " | ".join(md(c) for c in table.columns) + " |", "|" + "---|" * len(table.columns)]
        out += ["| " + " | ".join(md(c) if i in table.text else c for i, c in enumerate(row)) + " |"
                for row in table.rows] or ["| " + " | ".join(["–"] * len(table.columns)) + " |"]
    return out


def _examples(t: TaskEntry) -> list[str]:
    wtl = t.win_tie_loss
    mcnemar = t.extras.get("mcnemar_p")
    lines = ["", f"## {md(t.name)} ({md(t.kind)}, {md(t.tag)}, n={t.n})", "",
             f"{md(t.item_meaning[0].upper() + t.item_meaning[1:])}.", "",
             f"win / tie / loss on {md(t.main_metric)}: {wtl.win} / {wtl.tie} / {wtl.loss}"
             + (f"; McNemar p {pval(mcnemar)}" if "mcnemar_p" in t.extras else "")]
    for title, items in [("Most improved", t.most_improved), ("Most regressed", t.most_regressed)]:
        if items:
            lines += ["", f"{title}:", ""]
            lines += [f"- {signed(x.delta)} {md(x.id)} {md(x.text[:160])}" + _ranks(x) for x in items]
    return lines


def _ranks(item: ItemChange) -> str:
    if "rank_before" not in item.facts:
        return ""
    show = lambda r: str(r) if r else ">depth"
    return f" (first relevant rank {show(item.facts['rank_before'])} → {show(item.facts['rank_after'])})"


def _summary(comparison: Comparison, family: str) -> list[str]:
    rows = summary_rows(comparison, family)
    if not rows:
        return []
    out = ["| task | tag | metric | before | after | Δ | 95% CI | p (adj.) | margin | verdict |",
           "|---|---|---|---:|---:|---:|---|---:|---:|---|"]
    for r in rows:
        task = md(r.task) + (f" ({md(r.basis)})" if r.basis else "")
        out.append(f"| {task} | {md(r.tag)} | {md(r.metric)} | {r.before} | {r.after} | {r.delta} | {r.ci} | "
                   f"{r.p_adj} | {r.margin} | {r.arrow} {md(r.verdict_text)} |")
    return out


def _online(comparison: Comparison) -> list[str]:
    lines = online_lines(comparison)
    if not lines:
        return []
    out = ["", "## Online evidence", "", *[f"- {md(x)}" for x in lines]]
    ab = comparison.online.ab if comparison.online else None
    if ab:
        out += ["", *markdown_table(ab_table(ab))]
    return out


def _leakage(comparison: Comparison) -> list[str]:
    lk = comparison.leakage
    if lk is None:
        return []
    out = ["", "## Leakage", "", f"{md(lk.train)}: {md(lk.read_as)}. An evaluation item leaks when one of its "
           f"texts equals a training text (normalised) or lies at cosine ≥ {lk.threshold} from one under the "
           f"before model; the verdict judges a task with leaked items without them.", "",
           "| task | items | exact | near | all items | without leaked items | relevant doc trained on | new "
           "documents only |", "|---|---:|---:|---:|---|---|---|---|"]
    out += [f"| {md(r.task)} | {r.n} | {r.exact} | {r.near} | {md(r.all)} | {md(r.leak_free)} | {r.touched} | "
            f"{md(r.new_documents)} |" for r in leakage_rows(comparison)]
    for name, info in lk.tasks.items():
        if info.pairs:
            out += ["", f"{md(name)}: leaked items beside their training match, nearest the threshold first:", ""]
            out += [f"- {x.cosine:.3f} ({x.kind}): {md(x.text[:200])} ≈ {md(x.match[:200])}" for x in info.pairs]
    return out


__all__ = ["pval", "render_markdown"]
