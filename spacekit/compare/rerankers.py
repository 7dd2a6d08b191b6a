"""Two rerankers compared: `compare RERANKER RERANKER --suite` where both folders are cross-encoders. Every task of
the suite is retrieval and names the first stage both rerank (`first_stage`: a model, searched as any retrieval
task searches, or a TREC run file; `rerank_depth` of its results reranked); the suite becomes the same retrieval
tasks with `rerank = BEFORE` and `rerank_after = AFTER`, run with the first stage as the model on both sides (the
reranking path of a retrieval task, not a second one), so the main metric of each task is the reranked run's."""

from __future__ import annotations

import dataclasses

from spacekit.compare.suite import TaskSpec, located, with_derived_metrics
from spacekit.errors import InputError


def spec_kind(spec: str) -> str:
    """The kind of model MODEL names (dense, sparse, cross-encoder, multi-vector; a store or a built-in: dense)."""
    from spacekit.embed.model import model_folder
    from spacekit.embed.st_config import model_kind

    if spec.startswith("store:"):
        return "dense"
    return model_kind(model_folder(spec))


def reranker_suite(before: str, after: str, suite: list[TaskSpec]) -> tuple[str, list[TaskSpec]] | None:
    """(the first stage, the suite with both rerankers in each task) when BEFORE and AFTER are both cross-encoders;
    None when neither is; an InputError (one line) for one of each, or a suite that does not say what they
    rerank."""
    rerankers = [spec_kind(m) == "cross-encoder" for m in (before, after)]
    if not any(rerankers):
        for spec in suite:
            if spec.options.get("first_stage"):
                raise InputError(f"task {spec.name}: first_stage is for comparing two rerankers (BEFORE and AFTER "
                                 f"cross-encoders)")
        return None
    if not all(rerankers):
        which = before if rerankers[0] else after
        raise InputError(f"{which} is a cross-encoder (reranker) and the other model is not: compare a reranker "
                         f"with a reranker, or name it as a retrieval task's rerank")
    stages = set()
    for spec in suite:
        if spec.kind != "retrieval":
            raise InputError(f"task {spec.name}: two rerankers are compared on retrieval tasks only, not {spec.kind}")
        if not spec.options.get("first_stage"):
            raise InputError(f"task {spec.name}: comparing two rerankers needs first_stage (the model or TREC run "
                             f"file whose results they rerank)")
        for key in ("rerank", "rerank_after"):
            if spec.options.get(key):
                raise InputError(f"task {spec.name}: {key} is set, but the compared models are the rerankers")
        stages.add(spec.options["first_stage"])
    if len(stages) > 1:
        raise InputError(f"the suite's tasks name {len(stages)} first stages ({', '.join(sorted(stages))}): two "
                         f"rerankers are compared over one")
    checked = []
    for spec in suite:
        with located(f"task {spec.name}"):
            checked.append(with_derived_metrics(dataclasses.replace(
                spec, options={**spec.options, "rerank": before, "rerank_after": after})))
    return stages.pop(), checked
