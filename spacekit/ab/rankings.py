"""Both models' exact top-k lists on a set of queries (the queries task's search): what `ab interleave` interleaves
for serving and what the demo's simulated logs show their users."""

from __future__ import annotations

from pathlib import Path

from spacekit.embed import EncodeOptions, load_model
from spacekit.tasks.base import run_checked
from spacekit.tasks.queries import QueriesResult, QueriesTask


def both_top_lists(before: str, after: str, queries: str | Path, corpus: str | Path, k: int,
                   opts: EncodeOptions) -> tuple[QueriesResult, QueriesResult]:
    """Each model's top k per query (the query files read and checked before either model encodes)."""
    task = QueriesTask(queries, corpus, k)
    task.inputs()
    first, second = (run_checked(task, load_model(spec), opts) for spec in (before, after))
    return first, second

