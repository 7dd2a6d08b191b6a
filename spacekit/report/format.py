"""Number and verdict formatting shared by the Markdown, HTML and terminal reports, read from the typed
Comparison."""

from __future__ import annotations

from dataclasses import dataclass

from spacekit.compare import Comparison
from spacekit.compare.entry import TaskEntry
from spacekit.compare.metric_test import MetricTest
from spacekit.compare.models import setting_rows
from spacekit.compare.verdict import Headline, HeadlineRow

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


def interval(cell: MetricTest | HeadlineRow) -> str:
    """'[+0.0050, +0.0420]'."""
    return f"[{signed(cell.ci_low)}, {signed(cell.ci_high)}]"


def verdict_text(cell: MetricTest) -> str:
    """The verdict, with the items needed to decide when it is inconclusive."""
    return f"{cell.verdict}" + (f" (needs n≈{cell.needed_n:,})" if cell.needed_n else "")


@dataclass(frozen=True)
class SummaryRow:
    """One metric of the summary tables, formatted."""

    task: str
    tag: str
    metric: str
    basis: str | None
    before: str
    after: str
    delta: str
    ci: str
    p_adj: str
    margin: str
    verdict: str
    verdict_text: str
    arrow: str


def summary_rows(comparison: Comparison, family: str = "main") -> list[SummaryRow]:
    """One row per tested task's main metric (family "main": what the verdict judges) or per secondary metric, each
    on the items the verdict judges it by (leak-free when leakage was found: its basis says so)."""
    rows = []
    for t in comparison.tasks:
        cells, based_on = t.basis()
        for name, m in cells.items():
            if (name == t.main_metric) != (family == "main"):
                continue
            verdict = m.verdict
            assert verdict is not None, "the cells a task is judged by are judged (compare.verdict.judge)"
            rows.append(SummaryRow(t.name, t.tag, name, based_on, num(m.before), num(m.after), signed(m.delta),
                                   interval(m), pval(m.p_adjusted), f"{m.margin:g}", verdict, verdict_text(m),
                                   ARROWS[verdict]))
    return rows


def slice_rows(t: TaskEntry) -> list[list[str]]:
    """The task's slices as table rows: slicing, group, n, before, after, Δ, interval, p adj., verdict."""
    if t.slices is None:
        return []
    return [[r.slicing, r.group, str(r.n), num(r.test.before), num(r.test.after), signed(r.test.delta),
             interval(r.test), pval(r.test.p_adjusted), r.test.verdict or ""] for r in t.slices.rows]


def budget_rows(tasks: tuple[TaskEntry, ...]) -> list[list[str]]:
    """One row per task with a label budget: task, n, sd, detectable change, certifiable margin, items to decide."""
    rows = []
    for t in tasks:
        b = t.label_budget
        if b is not None:
            decide = f"{b.needed_n:,} ({b.more:,} more)" if b.needed_n is not None and b.more is not None else "–"
            rows.append([t.name, t.main_metric, f"{b.n:,}", num(b.sd), num(b.detectable), num(b.equivalence_margin),
                         decide])
    return rows


BUDGET_COLUMNS = ("task", "metric", "n", "sd of Δ", "detectable (80% power)", "certifiable margin",
                  "items to decide")
SLICE_COLUMNS = ("slicing", "group", "n", "before", "after", "Δ", "95% CI", "p adj.", "verdict")


def headline_parts(headline: Headline) -> list[str]:
    """The rows behind the verdict, grouped by their verdict: 'improved on scifact ndcg@10 +0.0228 [+0.0050,
    +0.0420] (leak-free, n=211)', 'negligible change on stsb spearman -0.0030 [...]'."""
    parts = []
    for verdict in VERDICT_ORDER:
        mine = [r for r in headline.rows if r.verdict == verdict]
        if mine:
            parts.append(f"{verdict} on " + "; ".join(
                f"{r.task} {r.metric} {signed(r.delta)} {interval(r)}"
                + "".join(f" ({x})" for x in (r.basis, r.needed_n and f"needs n≈{r.needed_n:,}") if x)
                for r in mine))
    return parts + [f"warning: {w}" for w in headline.warnings]


@dataclass(frozen=True)
class LeakageRow:
    """One task of the leakage table, formatted."""

    task: str
    n: str
    exact: str
    near: str
    all: str = "–"
    leak_free: str = "–"
    touched: str = "–"
    new_documents: str = "–"


def leakage_rows(comparison: Comparison) -> list[LeakageRow]:
    """Per task of the leakage section, as text: its items, exact and near leaks, the main metric's change on all
    items and without the leaked ones (with the verdict that uses it), and for retrieval how many remaining queries
    had a relevant document among the training positives, with the change on the others (new documents only)."""
    if comparison.leakage is None:
        return []
    entries = {t.name: t for t in comparison.tasks}
    change = lambda c: f"{signed(c.delta)} {interval(c)}"
    rows = []
    for name, info in comparison.leakage.tasks.items():
        t = entries.get(name)
        if t is None:
            rows.append(LeakageRow(name, str(info.n), str(info.exact), str(info.near)))
            continue
        main = t.main_metric
        clean = t.leak_free.metrics[main] if t.leak_free else None
        seen, fresh = t.trained_documents, t.trained_documents and t.trained_documents.new_documents_only
        rows.append(LeakageRow(
            name, str(info.n), str(info.exact), str(info.near), f"{main} {change(t.metrics[main])}",
            f"{change(clean)} on n={t.leak_free.n}: {verdict_text(clean)}" if t.leak_free and clean else "–",
            f"{seen.touched} of {seen.of}" if seen else "–",
            f"{change(fresh.metrics[main])} on n={fresh.n}" if fresh else "–"))
    return rows


def model_rows(comparison: Comparison) -> list[tuple[str, str, str, bool]]:
    """(setting, before, after, differs) per row of the models section (compare.models.setting_rows), shown as
    text; prompts as Python literals, so an empty one reads ''."""
    def show(setting: str, v) -> str:
        if setting.startswith("prompt ("):
            return repr(v)
        return "–" if v is None else ", ".join(map(str, v)) if isinstance(v, list) else str(v)
    models = comparison.models
    return [(s, show(s, b), show(s, a), b != a) for s, b, a in setting_rows(models.before, models.after)]


def provenance_rows(comparison: Comparison) -> list[tuple[str, str]]:
    """(what, value) per row of the provenance section: the device and encode settings, each model's fingerprint,
    then each library's version (empty without a provenance record)."""
    p = comparison.provenance
    if p is None:
        return []
    rows = [("device", p.device), ("precision", p.precision),
            ("tokens per batch", "the device's default" if p.batch_tokens is None else f"{p.batch_tokens:,}"),
            ("embedding cache", "used" if p.cache else "off"), ("python", p.python), ("platform", p.platform)]
    rows += [(f"fingerprint ({which})", value) for which, value in p.fingerprints.items()]
    rows += [(f"reranker {folder}", value) for folder, value in p.rerankers.items()]
    return rows + [(name, version) for name, version in p.libraries.items()]


def reference_summary(comparison: Comparison) -> str | None:
    """One sentence on the MTEB reference check (None without --reference)."""
    ref = comparison.reference
    if not ref:
        return None
    checked = sum(len(t.rows) for t in ref.tasks)
    if ref.flagged:
        return (f"MTEB reference: {ref.flagged} of {checked} metrics differ from the reference by more than "
                f"{ref.tolerance:g}: the before model does not reproduce the published numbers")
    return (f"MTEB reference: all {checked} metrics of {len(ref.tasks)} tasks within {ref.tolerance:g} of the "
            f"reference (the before model reproduces them)")


def reference_table(comparison: Comparison) -> list[tuple[str, str, str, str, str, str, bool]]:
    """(task, MTEB task, metric, spacekit, reference, difference, flagged) per metric, formatted."""
    if comparison.reference is None:
        return []
    return [(t.task, t.mteb_task, r.metric, f"{r.spacekit:.5f}", f"{r.reference:.5f}", f"{r.difference:+.6f}",
             r.flagged) for t in comparison.reference.tasks for r in t.rows]


def online_lines(comparison: Comparison) -> list[str]:
    """The online evidence, one sentence per log (empty without --ab / --interleaved)."""
    online = comparison.online
    if online is None:
        return []
    lines: list[str] = []
    ab = online.ab
    if ab:
        m = ab.metrics[0]
        srm = "sample ratio ok" if not ab.srm.mismatch else "SAMPLE RATIO MISMATCH"
        lines.append(f"A/B test ({ab.log}; {ab.control} = before, {ab.treatment} = after): {m.metric} "
                     f"{m.control:.4f} → {m.treatment:.4f}, {m.delta:+.4f} [{m.ci_low:+.4f}, {m.ci_high:+.4f}] over "
                     f"{sum(ab.units.values()):,} units, {srm}; verdict: {ab.verdict}")
        health = ab.health
        lines += [f"A/B test: {note}" for note in (*ab.not_measured, *(health.problems + health.notes if health
                                                                          else ()))]
    il = online.interleaved
    if il:
        side = {"b preferred": "after preferred", "a preferred": "before preferred"}.get(il.verdict, il.verdict)
        lines.append(f"interleaving ({il.log}; a = before, b = after): preference for after {il.preference_b:+.3f} "
                     f"[{il.ci_low:+.3f}, {il.ci_high:+.3f}] over {il.units:,} units, sign test p "
                     f"{il.sign_test_p:.3g}; {side}")
    return [f"SIMULATED {x}" for x in lines] if online.simulated else lines


def evidence_line(comparison: Comparison) -> str:
    """What the verdict rests on: the offline suite, and the online logs reported beside it."""
    tested = len(comparison.tasks)
    online = comparison.online
    extra = [name for name, present in (("an A/B log", online and online.ab), ("an interleaved log",
                                                                               online and online.interleaved))
             if present]
    return (f"evidence: the verdict rests on the offline suite ({tested} tested task{'s' if tested != 1 else ''})"
            + (f"; {' and '.join(extra)} reported beside it, not folded into it" if extra else ""))


def markdown_table(rows: list[list[str]]) -> list[str]:
    """A header row and data rows as Markdown table lines, every cell escaped; the first and last columns left,
    the others right-aligned."""
    from spacekit.escape import md

    header, *body = rows
    return ["| " + " | ".join(md(h) for h in header) + " |", "|---|" + "---:|" * (len(header) - 2) + "---|",
            *["| " + " | ".join(md(c) for c in row) + " |" for row in body]]
