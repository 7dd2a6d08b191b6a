"""Displacement: for each lost query, both models' top k side by side, and the documents that pushed its relevant
documents down (displacers: non-relevant documents the after model ranks above its first relevant one that the
before model did not), each classified: a near-duplicate of a relevant document (cosine >= the leakage threshold
under the after model), unjudged (a possible hole), judged non-relevant, a training document, a hub (its
k-occurrence over all queries rose to a hub's). And the hubness of both spaces: the skewness of the documents'
k-occurrence N_k (how many queries rank a document in their top k; every corpus document counted, zeros included),
Radovanović et al. 2010's S_{N_k}, population skewness. A hub: N_k at least HUB_MIN and at least the mean plus three
standard deviations of N_k over the corpus (after model), and higher than under the before model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from spacekit.metrics.judged import top_docs
from spacekit.ranked_run import RankedRun

HUB_MIN = 5
SHOWN_HUBS = 10
MAX_QUERIES = 50      # the largest losses given a displacement each (report.json; the pages show fewer)
TEXT_KEPT = 500       # characters of each document's text a displacement keeps (the id finds the rest)
CLASSES = ("near-duplicate of a relevant document", "unjudged", "judged non-relevant", "training document", "hub")


@dataclass(frozen=True)
class Displacer:
    """A document that moved above a lost query's relevant documents: its id, ranks, and classes."""

    id: str
    rank_before: int | None
    rank_after: int
    classes: tuple[str, ...]


@dataclass(frozen=True)
class LostQuery:
    """A lost query: its id, text, Δ, both top k lists (ids), its relevant documents, the displacers, and the text
    (its first TEXT_KEPT characters) of every document the lists and its relevant documents name."""

    id: str
    text: str
    delta: float
    top_before: tuple[str, ...]
    top_after: tuple[str, ...]
    relevant: tuple[str, ...]
    displacers: tuple[Displacer, ...]
    documents: Mapping[str, str]


@dataclass(frozen=True)
class Hub:
    """A document by its k-occurrence: id, text, N_k before and after."""

    id: str
    text: str
    before: int
    after: int


@dataclass(frozen=True)
class Hubness:
    """The skewness of N_k in both spaces (k, the corpus size), its change, and the documents whose N_k rose most."""

    k: int
    documents: int
    skew_before: float
    skew_after: float
    change: float
    hub_threshold: float
    rising: tuple[Hub, ...]


@dataclass(frozen=True)
class Displacement:
    """The lost queries' displacements (the largest losses first), the count per displacer class, and hubness."""

    k: int
    queries: tuple[LostQuery, ...]
    classes: Mapping[str, int]
    hubness: Hubness


def k_occurrence(run: RankedRun, k: int, ndoc: int) -> np.ndarray:
    """N_k of every corpus document (by code): how many of the run's queries rank it in their top k."""
    from spacekit.metrics.judged import ranked

    codes = ranked(run)[0][:, :k]
    return np.bincount(codes[codes >= 0], minlength=ndoc)


def hubness(before: RankedRun, after: RankedRun, k: int, documents: Mapping[str, str]) -> tuple[Hubness, np.ndarray]:
    """Both spaces' skewness of N_k, the rising documents, and the after model's hub mask (by code)."""
    from scipy.stats import skew

    ndoc = len(before.doc_ids)
    nb, na = k_occurrence(before, k, ndoc), k_occurrence(after, k, ndoc)
    threshold = max(HUB_MIN, float(na.mean() + 3 * na.std()))
    hub = (na >= threshold) & (na > nb)
    sb, sa = float(skew(nb)), float(skew(na))
    order = np.lexsort((np.arange(ndoc), -na, -(na - nb)))[:SHOWN_HUBS]
    rising = tuple(Hub(str(before.doc_ids[c]), documents.get(str(before.doc_ids[c]), ""), int(nb[c]), int(na[c]))
                   for c in order if na[c] > nb[c])
    return Hubness(k, ndoc, sb, sa, sa - sb, threshold, rising), hub


def displacement(before: RankedRun, after: RankedRun, qrels: Mapping[str, Mapping[str, int]], ids: list[str],
                 delta: np.ndarray, k: int, query_text: Mapping[str, str], documents: Mapping[str, str],
                 near_duplicate: Callable[[str, list[str]], bool], trained: Callable[[str], bool]) -> Displacement:
    """The displacement of every lost query (delta < 0; the MAX_QUERIES largest losses), with hubness.
    near_duplicate(doc id, relevant ids): whether the document is a near-duplicate of one of them."""
    hubs, hub = hubness(before, after, k, documents)
    code_of = {str(d): c for c, d in enumerate(before.doc_ids)}
    tops = [top_docs(run, max(k, 1)) for run in (before, after)]
    lost = [i for i in np.argsort(delta, kind="stable") if delta[i] < -1e-12][:MAX_QUERIES]
    counts = dict.fromkeys(CLASSES, 0)
    queries = []
    for i in lost:
        q = ids[i]
        judged = qrels.get(q, {})
        relevant = [d for d, g in judged.items() if g >= 1]
        top_b, top_a = tops[0].get(q, []), tops[1].get(q, [])
        first_a = next((r for r, d in enumerate(top_a) if d in relevant), len(top_a))
        first_b = next((r for r, d in enumerate(top_b) if d in relevant), len(top_b))
        above_before = set(top_b[:first_b])
        out = []
        for r, d in enumerate(top_a[:first_a]):
            if d in above_before:
                continue
            classes = tuple(name for name, holds in zip(CLASSES, (
                near_duplicate(d, relevant), d not in judged, d in judged and judged[d] < 1,
                trained(documents.get(d, "")), bool(hub[code_of[d]]) if d in code_of else False), strict=True)
                if holds)
            for name in classes:
                counts[name] += 1
            out.append(Displacer(d, top_b.index(d) + 1 if d in top_b else None, r + 1, classes))
        named = dict.fromkeys([*top_b, *top_a, *relevant])
        queries.append(LostQuery(q, query_text.get(q, ""), float(delta[i]), tuple(top_b), tuple(top_a),
                                 tuple(relevant), tuple(out), {d: documents.get(d, "")[:TEXT_KEPT] for d in named}))
    return Displacement(k, tuple(queries), counts, hubs)
