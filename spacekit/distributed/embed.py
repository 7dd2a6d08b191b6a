"""`spacekit embed ... --ray ADDRESS`: the single-process store writer (embed.store_write.write_store: the same
manifest, cache key, checksums, resume from the verified shards) whose shards are written by Ray workers.

Per shard-sized block: a CPU task tokenises it (the tokeniser stage, on by default when the encoders hold GPUs),
an encoder actor encodes it and writes its shard file atomically into the store folder (workers.Encoder.write),
and the driver lists the shard in the manifest in order once the file is there with the size the worker reported
(a store folder the workers cannot share is one clear error). Blocks are submitted a window ahead (twice the
workers), each to the actor with the fewest blocks in flight. A killed actor is restarted by Ray and its block
retried; a killed driver leaves the shards it listed, verified on the next run and not encoded again.

Several stores (compare: both models' corpora) are written concurrently by embed_stores_ray, the workers split
between them, under one progress line (texts/s, ETA, workers alive).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spacekit.distributed.cluster import RaySettings, connect, gpus_for, worker_count
from spacekit.distributed.liveness import Liveness
from spacekit.errors import InputError, StoreError
from spacekit.progress import REPORTER, progress_bar, stage
from spacekit.store.format import SHARD_ROWS
from spacekit.store.read import Store


@dataclass
class EmbedJob:
    """One store to write: a model's vectors of these texts."""

    spec: str
    ids: list[str]
    texts: list[str]
    out: Path
    prompt: str = ""
    shard_rows: int = SHARD_ROWS
    store_dtype: str = "float32"
    overwrite: bool = False


@dataclass
class RayEmbedding:
    """The store written, how many shard blocks this run encoded (0 when everything was already there), and by how
    many workers."""

    store: Store
    blocks_encoded: int
    workers: int


def embed_store_ray(spec: str, ids: list[str], texts: list[str], out: str | Path, *, prompt: str = "",
                    shard_rows: int = SHARD_ROWS, overwrite: bool = False, store_dtype: str = "float32",
                    ray_address: str = "local", workers: int | None = None, gpus_per_worker: float | None = None,
                    **settings) -> RayEmbedding:
    """Write the store `embed_to_store` writes, encoding on Ray (settings: RaySettings' other fields)."""
    job = EmbedJob(spec, ids, texts, Path(out), prompt, shard_rows, store_dtype, overwrite)
    return embed_stores_ray([job], RaySettings(ray_address, workers, gpus_per_worker, **settings))[0]


def embed_stores_ray(jobs: list[EmbedJob], settings: RaySettings, models: dict | None = None) -> list[RayEmbedding]:
    """Write every job's store on the cluster: concurrently, the workers split between them, when there are at
    least as many workers as jobs; else one after another with all of them. models: spec -> the model when the
    caller has it loaded (its key and dimension; else loaded here). A store already complete starts no actor."""
    ray = connect(settings.address, gpus_per_worker=settings.gpus_per_worker or 0.0)
    gpus = gpus_for(ray, settings.gpus_per_worker)
    count = worker_count(ray, settings.workers, gpus)
    shares = [count // len(jobs) + (j < count % len(jobs)) for j in range(len(jobs))] \
        if count >= len(jobs) else [count] * len(jobs)
    together = count >= len(jobs) > 1
    texts = sum(len(job.ids) for job in jobs)
    label = f"encoding {texts:,} texts on Ray ({count} worker{'s' if count != 1 else ''}" + \
        (f", {len(jobs)} stores at once)" if together else ")")
    spare = ray.cluster_resources().get("CPU", 0) - settings.cpus_per_worker * count
    if settings.tokenize and spare < 1:
        raise InputError(f"the tokeniser stage needs a CPU beside the encoders: the cluster has "
                         f"{ray.cluster_resources().get('CPU', 0):g}, the encoders hold "
                         f"{settings.cpus_per_worker * count}")
    tokenize = (settings.tokenize if settings.tokenize is not None else gpus > 0) and spare >= 1
    liveness = Liveness(ray)
    results: list[RayEmbedding | None] = [None] * len(jobs)
    with stage(label), progress_bar(texts, True) as advance, REPORTER.showing(liveness.detail), liveness:
        runs = [_JobRun(ray, job, share, gpus, settings, liveness, advance, tokenize)
                for job, share in zip(jobs, shares, strict=True)]
        models = dict(models or {})
        for run in runs:                         # here, not on the jobs' threads (transformers' lazy imports race)
            run.prepare(models)
        if together:
            _run_concurrently(runs, results)
        else:
            for j, run in enumerate(runs):
                results[j] = run()
    return [r for r in results if r is not None]


def _run_concurrently(runs: list[_JobRun], results: list) -> None:
    """Each run on a driver thread of its own (Ray's driver API is thread-safe); the first error stops the other runs
    and is re-raised."""
    errors: list[BaseException] = []
    lock = threading.Lock()

    def target(j: int) -> None:
        try:
            results[j] = runs[j]()
        except BaseException as e:  # re-raised on the main thread below
            with lock:
                errors.append(e)
                if len(errors) == 1:
                    for other in runs:
                        other._stop()

    threads = [threading.Thread(target=target, args=(j,), name=f"spacekit-ray-{j}", daemon=True)   # Ctrl-C: no wait
               for j in range(len(runs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


class Stopped(RuntimeError):
    """A store's write stopped because another store written at the same time failed (that error is the one
    raised)."""


class _JobRun:
    """One store's write: its encoder actors, the tokeniser tasks, and the shard writer handed to write_store."""

    def __init__(self, ray, job: EmbedJob, workers: int, gpus: float, settings: RaySettings, liveness: Liveness,
                 advance: Callable[..., None], tokenize: bool = False):
        self.ray, self.job, self.workers, self.gpus, self.settings = ray, job, workers, gpus, settings
        self.tokenize = tokenize
        self.liveness, self.advance = liveness, advance
        self.blocks: list[tuple[int, int, int]] = []
        self.refs: dict[int, object] = {}
        self.in_flight: dict[int, int] = {}
        self.owner: dict[int, int] = {}
        self.written = 0
        self.pool: list = []
        self.tokenizing = None                  # the remote tokenize_block when the tokeniser stage runs
        self.stopped = False                    # _stop ran (another store failed): start nothing more
        self._lock = threading.Lock()

    def prepare(self, models: dict) -> None:
        """The store's cache key and dimension, from the model loaded once per spec (no encoding here)."""
        from spacekit.backend import check_dtype_name
        from spacekit.embed import load_model
        from spacekit.store.key import store_key

        job = self.job
        if job.spec not in models:
            models[job.spec] = load_model(job.spec, trust_remote_code=self.settings.trust_remote_code)
        model = models[job.spec]
        precision = check_dtype_name(self.settings.dtype)          # "auto" stays auto: each node resolves it
        self.key, self.dim = store_key(model, job.ids, job.texts, job.prompt, precision), model.dim

    def __call__(self) -> RayEmbedding:
        from spacekit.store.write import write_store

        job = self.job
        try:
            store = write_store(job.out, job.ids, write=self._write, dim=self.dim, key=self.key,
                                shard_rows=job.shard_rows, dtype=job.store_dtype, overwrite=job.overwrite,
                                on_abort=self._stop)
        finally:
            self._stop()
        if not self.blocks:
            self.advance(len(job.ids), kept=True)                                # complete already: reused
        return RayEmbedding(store, self.written, self.workers)

    def _start_actors(self) -> list:
        from spacekit.distributed.workers import Encoder

        s = self.settings
        actor = self.ray.remote(num_cpus=s.cpus_per_worker, num_gpus=self.gpus, max_restarts=2, max_task_retries=2,
                                concurrency_groups={"ping": 1})(Encoder)
        args = ("cuda" if self.gpus > 0 else "cpu", s.dtype, s.batch_tokens)
        with self._lock:
            if self.stopped:
                raise Stopped(f"{self.job.out}: stopped before it started")
            self.pool = [actor.remote(self.job.spec, s.trust_remote_code, args, s.cpus_per_worker)
                         for _ in range(self.workers)]
        self.liveness.add(self.pool)
        return self.pool

    def _tokenizer_stage(self):
        """The remote tokenize_block, or None when each encoder tokenises its own blocks."""
        from spacekit.distributed.workers import tokenize_block

        if not self.tokenize or self.job.spec.startswith("store:"):        # a store's vectors: nothing to tokenise
            return None
        return self.ray.remote(num_cpus=1)(tokenize_block)

    def _stop(self) -> None:
        """Kill the actors (no worker writes into the folder after this) and start none again."""
        with self._lock:
            self.stopped, pool = True, self.pool
        self.liveness.remove(pool)
        for a in pool:
            self.ray.kill(a)

    def _write(self, number: int, lo: int, hi: int) -> dict:
        """write_store's shard writer: submit blocks a window ahead, wait for this one, check its file."""
        if not self.blocks:                     # the first block write_store asks for: the actors start now
            self._start_actors()
            self.tokenizing = self._tokenizer_stage()
            self.advance(lo, kept=True)
            rows = self.job.shard_rows
            self.blocks = [(number + j, b, min(b + rows, len(self.job.ids)))
                           for j, b in enumerate(range(lo, len(self.job.ids), rows))]
        if self.settings.stop_after is not None and self.written >= self.settings.stop_after:
            raise KeyboardInterrupt("test hook: the driver stops here")
        if self.stopped:
            raise Stopped(f"{self.job.out}: stopped (another store failed)")
        for block in self.blocks[len(self.refs) + self.written:][:2 * len(self.pool) - len(self.refs)]:
            self._submit(*block)
        entry = self.ray.get(self.refs.pop(number))
        self.in_flight[self.owner.pop(number)] -= 1
        self.written += 1
        self._check(entry, number, hi - lo)
        self.advance(hi - lo)
        return {k: entry[k] for k in ("file", "rows", "sha256")}

    def _submit(self, number: int, lo: int, hi: int) -> None:
        job, s = self.job, self.settings
        texts = job.texts[lo:hi]
        block = self.tokenizing.remote(job.spec, s.trust_remote_code, texts, job.prompt) if self.tokenizing else texts
        a = min(range(len(self.pool)), key=lambda i: self.in_flight.get(i, 0))
        self.in_flight[a] = self.in_flight.get(a, 0) + 1
        self.owner[number] = a
        self.refs[number] = self.pool[a].write.remote(str(job.out), number, job.ids[lo:hi], block, job.prompt,
                                                      job.store_dtype, s.fail_once)

    def _check(self, entry: dict, number: int, rows: int) -> None:
        """The worker's error as one line; the shard must be here (a shared folder), whole and of `rows` rows."""
        if "error" in entry:
            raise StoreError(entry["error"])
        file = self.job.out / entry["file"]
        if not file.is_file() or file.stat().st_size != entry["bytes"] or entry["rows"] != rows:
            raise InputError(f"{self.job.out}: shard {number} ({entry['file']}), written by a Ray worker, is not in "
                             f"this folder as written: the store folder must be on a filesystem every worker shares")
