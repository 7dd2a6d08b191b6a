"""A sparse encoder's sparsity before vs after (retrieval): active dimensions of queries and documents and the FLOPs
per query-document pair, as sentence-transformers' SparseInformationRetrievalEvaluator reports them."""

from __future__ import annotations

from dataclasses import dataclass

from spacekit.metrics.sparsity import SparsityStats
from spacekit.tasks import TaskResult


@dataclass(frozen=True)
class SparsityChange:
    """Each model's sparsity on a retrieval task (None: that model is dense), and the sentence the report shows."""

    before: SparsityStats | None
    after: SparsityStats | None

    @property
    def line(self) -> str:
        """Active dimensions and FLOPs, before → after."""
        def pair(field: str, digits: int) -> str:
            values = [getattr(s, field) if s is not None else None for s in (self.before, self.after)]
            return " → ".join(f"{v:,.{digits}f}" if v is not None else "dense" for v in values)
        return (f"active dimensions per query {pair('query_active_dims', 1)}, per document "
                f"{pair('corpus_active_dims', 1)}; FLOPs per query-document pair {pair('avg_flops', 2)}")


def sparsity_change(before: TaskResult, after: TaskResult) -> SparsityChange | None:
    """The change when either model is a sparse encoder, else None."""
    b, a = before.sparsity_stats(), after.sparsity_stats()
    return SparsityChange(b, a) if b is not None or a is not None else None
