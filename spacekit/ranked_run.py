"""A ranked run (per query, documents in rank order with scores) as arrays: what search produces, io reads and
writes in TREC format, and the retrieval metrics score. Ids appear only here, at the edge."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RankedRun:
    """A run as arrays: per query row, corpus codes (-1 = padding) and scores; codes index doc_ids."""

    query_ids: list[str]
    doc_ids: np.ndarray          # (ndoc,) str
    codes: np.ndarray            # (nq, depth) int64
    scores: np.ndarray           # (nq, depth) float
    ordered: bool = False        # rows already by score descending (ties may still need the id rule)

    @classmethod
    def from_dict(cls, run: dict[str, dict[str, float]]) -> RankedRun:
        """{qid: {docid: score}} -> RankedRun (rows in dict order, any order within a query)."""
        doc_ids = list(dict.fromkeys(d for docs in run.values() for d in docs))
        code = {d: i for i, d in enumerate(doc_ids)}
        depth = max(len(v) for v in run.values())
        codes = np.full((len(run), depth), -1, np.int64)
        scores = np.full((len(run), depth), -np.inf)
        for r, docs in enumerate(run.values()):
            codes[r, :len(docs)] = [code[d] for d in docs]
            scores[r, :len(docs)] = list(docs.values())
        return cls(list(run), np.array(doc_ids, dtype=object), codes, scores, ordered=False)

    def top(self, depth: int) -> RankedRun:
        """Each query's first `depth` results (a copy: the run it came from can be freed)."""
        return RankedRun(self.query_ids, self.doc_ids, self.codes[:, :depth].copy(), self.scores[:, :depth].copy(),
                         self.ordered)

    @classmethod
    def concat(cls, blocks: list[RankedRun], doc_ids: np.ndarray) -> RankedRun:
        """The queries of several blocks over one corpus as one run (rows in block order)."""
        depth = max((b.codes.shape[1] for b in blocks), default=0)
        codes = np.full((sum(len(b.query_ids) for b in blocks), depth), -1, np.int64)
        scores = np.full(codes.shape, -np.inf)
        row = 0
        for b in blocks:
            codes[row:row + len(b.query_ids), :b.codes.shape[1]] = b.codes
            scores[row:row + len(b.query_ids), :b.codes.shape[1]] = b.scores
            row += len(b.query_ids)
        return cls([q for b in blocks for q in b.query_ids], doc_ids, codes, scores,
                   all(b.ordered for b in blocks))
