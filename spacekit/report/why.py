"""A task's why-analyses (compare.diagnosis) as titled tables that report.md and index.html both render: judged
holes, tie sensitivity, clusters of lost and gained queries, displacement, hubness, truncation. Cells are plain
strings; `text` marks the columns that hold data (ids, texts: escaped by the renderer), the others are numbers we
formatted."""

from __future__ import annotations

from dataclasses import dataclass

from spacekit.compare.displacement import Displacement, Hubness, LostQuery
from spacekit.compare.entry import TaskEntry
from spacekit.compare.holes import JudgedHoles
from spacekit.compare.query_clusters import ClusterGroup
from spacekit.compare.ties import TieSensitivity
from spacekit.compare.truncation import TruncationAudit
from spacekit.report.format import interval, num, pval, signed

SHOWN_QUERIES = 5     # lost queries whose displacement the pages show (report.json holds up to 50)
TEXT = 140            # characters of a text shown in a cell
DOC_TEXT = 60         # characters of a document shown beside its id in a displacement list


@dataclass(frozen=True)
class Table:
    """One analysis: its title, a sentence saying what it is, its columns, rows, which columns hold data, and a
    warning line (None: none)."""

    title: str
    note: str
    columns: tuple[str, ...]
    rows: list[list[str]]
    text: frozenset[int]
    warning: str | None = None


def _cut(text: str, limit: int = TEXT) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def why_tables(t: TaskEntry) -> list[Table]:
    """The task's why-tables, in reading order (none without a diagnosis)."""
    d = t.diagnosis
    if d is None:
        return []
    out = [_holes(t.name, d.holes)] if d.holes is not None else []
    out += [_ties(t.name, d.ties)] if d.ties is not None else []
    out += [_clusters(t.name, d.metric, g) for g in (d.lost_clusters, d.gained_clusters) if g is not None]
    out += [_displacement(t.name, d.displacement), _hubness(t.name, d.displacement.hubness)] \
        if d.displacement is not None else []
    out += [_truncation(t.name, d.truncation)] if d.truncation is not None else []
    return out


def _holes(task: str, h: JudgedHoles) -> Table:
    return Table(
        f"Judged holes of {task}",
        f"Judged@{h.k}: {h.judged_before:.1%} of the before model's top {h.k} has a judgement, "
        f"{h.judged_after:.1%} of the after model's; {h.unjudged_pairs:,} (query, document) pairs in either top "
        f"{h.k} are unjudged. {h.metric} read three ways, each reading's test on its own.",
        ("reading", "before", "after", "Δ", "95% CI", "p", "verdict"),
        [[name, num(m.before), num(m.after), signed(m.delta), interval(m), pval(m.p_value), m.verdict or ""]
         for name, m in h.readings.items()], frozenset({0}),
        f"{h.undecidable}; the documents to judge are in {h.sheet}" if h.undecidable else None)


def _ties(task: str, s: TieSensitivity) -> Table:
    return Table(
        f"Tie sensitivity of {task}",
        f"{s.metric} with exactly tied scores ordered worst-first and best-first; {len(s.queries)} queries depend "
        f"on the order.",
        ("model", "worst-first", "best-first", "queries that depend on it"),
        [["before", num(s.before_low), num(s.before_high), str(s.tied_before)],
         ["after", num(s.after_low), num(s.after_high), str(s.tied_after)],
         ["Δ", signed(s.delta_low), signed(s.delta_high), str(len(s.queries))]], frozenset({0}),
        f"the sign of the change depends on tie order ({signed(s.delta_low)} to {signed(s.delta_high)})"
        if s.sign_depends else None)


def _clusters(task: str, metric: str, group: ClusterGroup) -> Table:
    return Table(
        f"{group.direction.capitalize()} queries of {task}, clustered",
        f"{group.changed} of {group.of} items {group.direction} on {metric} ({group.base_rate:.0%}); k-means on the "
        f"before model's query vectors (silhouette {group.silhouette:.2f}); a cluster's region holds the items near "
        f"it, p (max-T permutation) that so many of them {group.direction} by chance.",
        ("terms", "size", "mean Δ", "region", "share", "p", "nearest queries"),
        [[", ".join(c.terms), str(c.size), signed(c.mean_delta), str(c.region), f"{c.share:.0%}", pval(c.p_value),
          " | ".join(_cut(x) for x in c.examples)] for c in group.clusters],
        frozenset({0, 6}))


def _displacement(task: str, m: Displacement) -> Table:
    rows = []
    for q in m.queries[:SHOWN_QUERIES]:
        rows.append([f"{q.id}: {_cut(q.text)}", signed(q.delta), "", "", ""])
        moved = {x.id: x for x in q.displacers}

        def cell(doc: str, q: LostQuery = q) -> str:
            mark = " ✓" if doc in q.relevant else ""
            return f"{doc}{mark}: {_cut(q.documents.get(doc, ''), DOC_TEXT)}" if doc else ""

        for rank in range(max(len(q.top_before), len(q.top_after))):
            b = q.top_before[rank] if rank < len(q.top_before) else ""
            a = q.top_after[rank] if rank < len(q.top_after) else ""
            rows.append([str(rank + 1), "", cell(b), cell(a), ", ".join(moved[a].classes) if a in moved else ""])
    counts = ", ".join(f"{name} {n}" for name, n in m.classes.items() if n)
    return Table(
        f"Displacement in {task}",
        f"The {min(SHOWN_QUERIES, len(m.queries))} largest losses: both top {m.k} lists (✓ relevant) and the "
        f"documents that moved above the first relevant one, by class ({counts or 'none'}; report.json holds "
        f"{len(m.queries)} lost queries).",
        ("query / rank", "Δ", "before", "after", "displacer"), rows, frozenset({0, 2, 3, 4}))


def _hubness(task: str, hub: Hubness) -> Table:
    return Table(
        f"Hubness of {task}",
        f"Skewness of N_{hub.k} (how many queries rank a document in their top {hub.k}) over {hub.documents:,} "
        f"documents: {hub.skew_before:.2f} before, {hub.skew_after:.2f} after ({hub.change:+.2f}); a hub needs "
        f"N_{hub.k} ≥ {hub.hub_threshold:.1f}. The documents whose N_{hub.k} rose most:",
        ("document", "before", "after", "text"),
        [[h.id, str(h.before), str(h.after), _cut(h.text)] for h in hub.rising], frozenset({0, 3}))


def _truncation(task: str, a: TruncationAudit) -> Table:
    rows = [[which, str(side.max_length), x.texts,
             f"{x.n:,}" + ("" if x.counted == x.n else f" ({x.counted:,} sampled)"), f"{x.share_truncated:.1%}",
             f"{x.mean_tokens:.1f}", num(x.mean_tokens_truncated, 1)]
            for which, side in (("before", a.before), ("after", a.after)) for x in side.lengths]
    return Table(
        f"Truncation in {task}",
        "Texts cut at each model's max length (tokens with specials, no prompt)"
        + (f"; the slices split the items by '{a.slicing}'." if a.slicing else "."),
        ("model", "max length", "texts", "n", "cut", "mean tokens", "mean tokens of the cut"), rows,
        frozenset({0, 2}), a.changed)


def why_line(t: TaskEntry, alpha: float) -> str | None:
    """The task's why-analyses in one terminal line (None without a diagnosis)."""
    d = t.diagnosis
    if d is None:
        return None
    parts = []
    if d.holes is not None:
        parts.append(f"judged@{d.holes.k} {d.holes.judged_before:.0%} → {d.holes.judged_after:.0%}"
                     + (" (the verdict depends on the unjudged)" if d.holes.undecidable else ""))
    if d.ties is not None:
        parts.append(f"tie order moves {len(d.ties.queries)} queries" if d.ties.queries else "no tie matters")
    for group in (d.lost_clusters, d.gained_clusters):
        if group is not None:
            found = [f"'{', '.join(c.terms[:3])}' ({c.size}, p {pval(c.p_value)})" for c in group.clusters
                     if c.p_value < alpha]
            parts.append(f"{group.changed} {group.direction}" + (f", concentrated in {'; '.join(found)}"
                                                                  if found else ", no concentrated cluster"))
    if d.displacement is not None:
        hub = d.displacement.hubness
        parts.append(f"hubness {hub.skew_before:.2f} → {hub.skew_after:.2f}")
    if d.truncation is not None:
        parts += [f"{x.texts} cut {x.share_truncated:.0%}" for x in d.truncation.before.lengths if x.share_truncated]
    return f"why, {t.name}: " + "; ".join(parts) if parts else None
