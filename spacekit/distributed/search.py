"""Exact top-k over a store whose shards are spread across Ray workers: each worker runs spacekit's own exact search
(ops.topk) on its shards, the driver merges the candidates with the same tie rule (equal scores: lower global
index), so ids and scores equal ops.topk over the whole corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from spacekit.distributed.cluster import connect, gpus_for, worker_count


def _shard_search(store_path: str, shard_numbers: list[int], queries: np.ndarray, k: int, metric: str,
                  plan: dict[str, str], device: str = "cpu"):
    """On a worker: exact top-k over the given shards of the store on its device -> (scores, global row indices);
    on the CPU with the driver's BLAS and candidate precision (each process times its own otherwise)."""
    from spacekit.ops import topk
    from spacekit.ops.similarity import use_cpu_plan
    from spacekit.store.read import open_store

    use_cpu_plan(plan)
    store = open_store(store_path)
    offsets = np.cumsum([0] + [s["rows"] for s in store.manifest["shards"]])
    scores, indices = [], []
    for number in shard_numbers:
        _, vectors = store.shard(number)
        s, i = topk(queries, vectors, min(k, vectors.shape[0]), metric=metric, device=device)
        scores.append(s.cpu().numpy())
        indices.append(i.cpu().numpy() + offsets[number])
    return np.concatenate(scores, axis=1), np.concatenate(indices, axis=1)


def merge(scores: np.ndarray, indices: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query the k best candidates: by score descending, equal scores by lower global index."""
    order = np.lexsort((indices, -scores), axis=1)[:, :k]
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(indices, order, axis=1)


def sharded_topk(queries, store_path: str | Path, k: int, *, metric: str = "cosine", ray_address: str = "local",
                 workers: int | None = None, gpus_per_worker: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """ops.topk's result (scores (nq, k) float32, indices (nq, k) int64) for a store, computed by Ray workers that
    each search some of its shards (on a GPU each when the cluster has them, or as gpus_per_worker says)."""
    from spacekit.ops.similarity import cpu_plan
    from spacekit.store.read import open_store

    ray = connect(ray_address, gpus_per_worker=gpus_per_worker or 0.0)
    gpus = gpus_for(ray, gpus_per_worker)
    store = open_store(store_path)
    shards = len(store.manifest["shards"])
    count = min(worker_count(ray, workers, gpus), shards)
    q = np.asarray(queries, dtype=np.float32)
    remote = ray.remote(num_cpus=1, num_gpus=gpus)(_shard_search)
    device = "cuda" if gpus > 0 else "cpu"
    parts = ray.get([remote.remote(str(store_path), list(range(w, shards, count)), q, k, metric, cpu_plan(),
                                   device) for w in range(count)])
    scores, indices = merge(np.concatenate([p[0] for p in parts], axis=1),
                            np.concatenate([p[1] for p in parts], axis=1), min(k, store.count))
    return torch.from_numpy(scores.astype(np.float32)), torch.from_numpy(indices.astype(np.int64))
