"""`eval retrieval --ray ADDRESS` and `compare --ray ADDRESS`: a corpus encoded by Ray actors into a store under the
cache (reused and resumed like any store), then searched shard by shard across the workers; queries are encoded
here. compare first writes every retrieval corpus of both models at once (encode_corpora), the workers split
between the stores, so each task then finds its store complete."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from spacekit.distributed.cluster import RaySettings
from spacekit.distributed.embed import EmbedJob, RayEmbedding, embed_stores_ray
from spacekit.distributed.search import sharded_topk
from spacekit.store.format import SHARD_ROWS
from spacekit.store.vectors import dense


def corpus_job(model, opts, corpus_ids: list[str], corpus_texts: list[str]) -> EmbedJob:
    """The store a model's vectors of a corpus go to (under the cache, named by its cache key)."""
    from spacekit.backend import check_dtype_name
    from spacekit.store.cache import cache_root
    from spacekit.store.key import cache_name, store_key

    prompt = model.prompt_for("document", opts.prompts)
    key = store_key(model, corpus_ids, corpus_texts, prompt, check_dtype_name(opts.dtype))
    folder = cache_root(opts.cache_dir) / "ray" / cache_name(key)
    return EmbedJob(model.spec, corpus_ids, corpus_texts, Path(folder), prompt, cache_shard_rows(len(corpus_ids)))


def cache_shard_rows(n: int) -> int:
    """Rows per shard of a corpus store the cluster writes: about 16 blocks for a mid-sized corpus (so 16 workers
    share it; one 50,000-row shard would go to one worker), never under 512 rows nor over the store's default."""
    return min(SHARD_ROWS, max(512, -(-n // 16)))


def with_encoding(settings: RaySettings, opts) -> RaySettings:
    """The settings with the encoding options (precision, tokens per batch) the task runs with."""
    return replace(settings, dtype=opts.dtype, batch_tokens=opts.batch_tokens)


def encode_corpora(jobs: list[EmbedJob], settings: RaySettings, opts, models: dict) -> list[RayEmbedding]:
    """Write every job's store, concurrently when the cluster has a worker for each (compare: both models; models:
    spec -> the loaded model)."""
    unique = list({job.out: job for job in jobs}.values())
    written = embed_stores_ray(unique, with_encoding(settings, opts), models)
    for job in unique:
        share_with_text_cache(models[job.spec], opts, job)
    return written


def share_with_text_cache(model, opts, job: EmbedJob) -> int:
    """Add the vectors of a corpus store the cluster wrote to the model's text cache, so that what is encoded here
    later (drift's and leakage's texts, a later run without --ray) reads them instead of encoding them again; not
    when the cache is off, nor for "auto" precision (resolved on each node). Returns how many were added."""
    from spacekit.backend import check_dtype_name
    from spacekit.store.cache import cache_root
    from spacekit.store.read import open_store
    from spacekit.store.text_cache import add_vectors

    precision = check_dtype_name(opts.dtype)
    if not (opts.use_cache and model.cacheable) or precision == "auto":
        return 0
    vectors = dense(open_store(job.out).lookup(job.ids))                    # a Ray store holds dense vectors
    return add_vectors(model, job.texts, vectors, cache_root(opts.cache_dir), prompt=job.prompt, precision=precision)


def ray_corpus_searcher(model, opts, corpus_ids: list[str], corpus_texts: list[str], depth: int, metric: str,
                        settings: RaySettings) -> Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor]]:
    """The corpus encoded on the cluster (a store under the cache); returns search(queries) -> (scores, indices) as
    ops.topk gives them for the corpus, computed on the cluster."""
    job = corpus_job(model, opts, corpus_ids, corpus_texts)
    embed_stores_ray([job], with_encoding(settings, opts), {model.spec: model})
    share_with_text_cache(model, opts, job)
    return lambda queries: sharded_topk(queries, job.out, depth, metric=metric, ray_address=settings.address,
                                        workers=settings.workers, gpus_per_worker=settings.gpus_per_worker)
