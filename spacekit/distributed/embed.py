"""`spacekit embed ... --ray ADDRESS`: the single-process store writer (embed.store_write.write_store: the same
manifest, cache key, checksums, resume from the verified shards) fed by a pool of Ray encoder actors that encode
every remaining shard-sized block concurrently; the driver writes each block's shard in order as it arrives.

A killed actor is restarted by Ray and its block retried (max_restarts / max_task_retries); a killed driver leaves
the shards it wrote, verified on the next run and not encoded again. Vectors travel back through Ray's object store
to the driver, which writes the shards (workers writing their own shards would need a shared filesystem).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from spacekit.distributed.cluster import connect, worker_count
from spacekit.embed.manifest import SHARD_ROWS
from spacekit.embed.progress import REPORTER, stage
from spacekit.embed.store import Store


class Encoder:
    """One encoder actor: its own copy of the model, encoding a block of texts per call."""

    def __init__(self, spec: str, trust_remote_code: bool, encode_args: dict, fail_once: str | None = None,
                 threads: int = 1):
        import torch

        from spacekit.embed import load_model

        torch.set_num_threads(threads)                      # Ray gives an actor as many threads as CPUs it holds
        self.model = load_model(spec, trust_remote_code=trust_remote_code)
        self.encode_args = encode_args
        self.fail_once = fail_once

    def encode(self, texts: list[str], ids: list[str], prompt: str):
        """(rows, dim) float32 vectors of the block."""
        if self.fail_once and not Path(self.fail_once).exists():        # the tests' hook: this actor dies once
            Path(self.fail_once).touch()
            os._exit(1)
        return self.model.encode(texts, ids=ids, prompt=prompt, **self.encode_args)


@dataclass
class RayEmbedding:
    """The store written, and how many shard blocks this run encoded (0 when everything was already there)."""

    store: Store
    blocks_encoded: int
    workers: int


def embed_store_ray(spec: str, ids: list[str], texts: list[str], out: str | Path, *, prompt: str = "",
                    shard_rows: int = SHARD_ROWS, overwrite: bool = False, store_dtype: str = "float32",
                    ray_address: str = "local", workers: int | None = None, gpus_per_worker: float = 0.0,
                    trust_remote_code: bool = False, encode_args: dict | None = None, fail_once: str | None = None,
                    stop_after: int | None = None, cpus_per_worker: int = 1) -> RayEmbedding:
    """Write the store `embed_to_store` writes, encoding on Ray; `fail_once` and `stop_after` (blocks) are test
    hooks: an actor that dies once, a driver interrupted after that many blocks."""
    from spacekit.embed import load_model
    from spacekit.embed.cache import store_key
    from spacekit.embed.store_write import write_store

    ray = connect(ray_address, gpus_per_worker=gpus_per_worker)
    model = load_model(spec, trust_remote_code=trust_remote_code)             # the key and dim (no encoding here)
    count = worker_count(ray, workers, gpus_per_worker)
    actor = ray.remote(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=2, max_task_retries=2)(
        Encoder)
    args = dict(encode_args or {}, device="cuda" if gpus_per_worker > 0 else "cpu")
    pool = [actor.remote(spec, trust_remote_code, args, fail_once, cpus_per_worker) for _ in range(count)]
    pending: dict[tuple[int, int], object] = {}
    done = [0]

    def embed(lo: int, hi: int):
        if not pending:                                     # the first block asked for: submit all that remain
            REPORTER.count(len(ids) - lo)
            for j, start in enumerate(range(lo, len(ids), shard_rows)):
                end = min(start + shard_rows, len(ids))
                pending[start, end] = pool[j % count].encode.remote(texts[start:end], ids[start:end], prompt)
        if stop_after is not None and done[0] >= stop_after:
            raise KeyboardInterrupt("test hook: the driver stops here")
        done[0] += 1
        vectors = ray.get(pending.pop((lo, hi)))
        REPORTER.advance(hi - lo)
        return vectors

    try:
        with stage(f"encoding {len(ids):,} texts on Ray ({count} worker{'s' if count != 1 else ''})"):
            store = write_store(out, ids, embed, dim=model.dim, key=store_key(model, ids, texts, prompt),
                                shard_rows=shard_rows, dtype=store_dtype, overwrite=overwrite)
    finally:
        for a in pool:
            ray.kill(a)
    return RayEmbedding(store, done[0], count)
