"""`eval retrieval --ray ADDRESS`: the corpus encoded by Ray actors into a store under the cache (reused and resumed
like any store), then searched shard by shard across the workers; queries are encoded here."""

from __future__ import annotations

import numpy as np
import torch

from spacekit.distributed.embed import embed_store_ray
from spacekit.distributed.search import sharded_topk


def ray_corpus_search(model, opts, corpus_ids: list[str], corpus_texts: list[str], queries: np.ndarray, depth: int,
                      metric: str, address: str, workers: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(scores, indices) as ops.topk gives them for the corpus, computed on the cluster."""
    from spacekit.embed.cache import cache_name, cache_root, store_key

    prompt = model.prompt_for("document", opts.prompts)
    folder = cache_root(opts.cache_dir) / "ray" / cache_name(store_key(model, corpus_ids, corpus_texts, prompt))
    embed_store_ray(model.spec, corpus_ids, corpus_texts, folder, prompt=prompt, ray_address=address,
                    workers=workers, encode_args={"dtype": opts.dtype, "batch_tokens": opts.batch_tokens})
    return sharded_topk(queries, folder, depth, metric=metric, ray_address=address, workers=workers)
