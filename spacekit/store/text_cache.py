"""The embedding cache, addressed by content: one growing store per model setting (weights, every module setting,
max length, the prompt: Model.cache_key) whose ids are the sha256 of each text. Every task, the leakage check, drift
and the probes read the vectors of the texts they need, and only texts not there yet are encoded — all of them in
one length-sorted pass, outside the lock (two processes with one model encode at once) — and appended as a new
shard under it (what another process added meanwhile is kept, not added twice). Files, checksums, atomic writes and
the lock are the store's (store.write): a shard that fails its checksum is reported on stderr and its texts encoded
again; a process that must wait for the lock says so at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from spacekit.store.key import Encoder, cache_name, text_cache_key, text_id
from spacekit.store.write import append_rows, open_growing_store, store_lock

if TYPE_CHECKING:
    from spacekit.backend import Placement


def cached_vectors(model: Encoder, texts: list[str], root: Path, *, prompt: str = "",
                   placement: Placement | None = None) -> np.ndarray:
    """(n, dim) float32 vectors of the texts after the prompt: read from the model's text cache under root (one per
    precision), the texts not in it encoded once (in one pass) and added."""
    from spacekit.backend import Placement

    placement = placement or Placement.resolve()
    key = text_cache_key(model, prompt, placement.precision)
    path = root / cache_name(key)
    wanted = [text_id(t) for t in texts]
    with store_lock(path, reading=True):                 # a read-only cache holding every vector still serves
        _, ids, vec = open_growing_store(path, key, model.dim)
    row = {i: n for n, i in enumerate(ids)}
    todo = {i: t for i, t in zip(wanted, texts, strict=True) if i not in row}
    if todo:                      # encoded outside the lock: another process with this model is never held up
        new = model.encode(list(todo.values()), prompt=prompt, placement=placement)
        with store_lock(path):    # read again: what another process added meanwhile is kept, not added twice
            manifest, ids, vec = open_growing_store(path, key, model.dim)
            row = {i: n for n, i in enumerate(ids)}
            todo_ids = list(todo)
            fresh = [n for n, i in enumerate(todo_ids) if i not in row]
            if fresh:
                append_rows(path, manifest, [todo_ids[n] for n in fresh], new[fresh])
                row.update({todo_ids[n]: len(ids) + j for j, n in enumerate(fresh)})
                vec = np.concatenate([vec, new[fresh]]) if len(vec) else new[fresh]
    return vec[[row[i] for i in wanted]].astype(np.float32, copy=False)


def add_vectors(model: Encoder, texts: list[str], vectors: np.ndarray, root: Path, *, prompt: str = "",
                precision: str = "fp32") -> int:
    """Add vectors computed elsewhere (a store the Ray cluster wrote) to the model's text cache under root: the
    texts not in it yet, as one new shard. Returns how many were added."""
    key = text_cache_key(model, prompt, precision)
    path = root / cache_name(key)
    with store_lock(path):
        manifest, ids, _ = open_growing_store(path, key, model.dim)
        have = set(ids)
        new = {text_id(t): n for n, t in enumerate(texts) if text_id(t) not in have}
        if new:
            append_rows(path, manifest, list(new), np.asarray(vectors, np.float32)[list(new.values())])
    return len(new)
