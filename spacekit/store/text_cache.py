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
from spacekit.store.vectors import LAYOUTS_OF_KINDS, Vectors, concat
from spacekit.store.write import append_rows, open_growing_store, store_lock

if TYPE_CHECKING:
    from spacekit.backend import Placement


def cached_vectors(model: Encoder, texts: list[str], root: Path, *, prompt: str = "",
                   placement: Placement | None = None) -> Vectors:
    """(n, dim) float32 vectors of the texts after the prompt (a CSR matrix for a sparse model): read from the
    model's text cache under root (one per precision), the texts not in it encoded once (in one pass) and added."""
    from spacekit.backend import Placement

    placement = placement or Placement.resolve()
    key = text_cache_key(model, prompt, placement.precision)
    path = root / cache_name(key)
    layout = LAYOUTS_OF_KINDS[getattr(model, "kind", "dense")]
    wanted = [text_id(t) for t in texts]
    with store_lock(path, reading=True):                 # a read-only cache holding every vector still serves
        _, ids, vec = open_growing_store(path, key, model.dim, layout)
    row = {i: n for n, i in enumerate(ids)}
    at = np.fromiter((row.get(i, -1) for i in wanted), np.int64, len(wanted))
    missing = np.flatnonzero(at < 0)
    if not missing.size:                                  # every text held
        return vec[at]
    if layout == "dense":                                 # the result filled in place: no concatenated copies
        out = _held_rows_in_place(np.asarray(vec), at, model.dim)
    else:
        held = vec[at[at >= 0]]
    del row, ids, vec                                     # the cache's other rows are not needed any more
    todo = {wanted[n]: texts[n] for n in missing}
    todo_ids = list(todo)                # encoded outside the lock: another process with this model is never held up
    new = model.encode(list(todo.values()), prompt=prompt, placement=placement)
    have, theirs_vec, fresh = _add_missing(path, key, model.dim, todo_ids, new, layout)
    if len(fresh) < len(todo_ids):       # another process added some meanwhile: the cache's vectors are theirs
        theirs, fresh_set = {i: n for n, i in enumerate(have)}, set(fresh)
        kept = [n for n in range(len(todo_ids)) if n not in fresh_set]
        pick = np.arange(len(todo_ids))
        pick[kept] = len(todo_ids) + np.arange(len(kept))
        new = concat([new, theirs_vec[[theirs[todo_ids[n]] for n in kept]]], model.dim, layout)[pick]
    new_row = {i: n for n, i in enumerate(todo_ids)}
    new_at = np.array([new_row[wanted[n]] for n in missing], np.int64)  # each missing text's row in new
    if layout == "dense":
        out[missing] = np.asarray(new, np.float32)[new_at]
        return out
    source = np.empty(len(wanted), np.int64)              # each wanted row's row in [held; new]
    source[at >= 0] = np.arange(int((at >= 0).sum()))
    source[missing] = len(at[at >= 0]) + new_at
    return concat([held, new], model.dim, layout)[source]


def _held_rows_in_place(vec: np.ndarray, at: np.ndarray, dim: int, block: int = 65536) -> np.ndarray:
    """(len(at), dim) float32 with the cache's rows at[i] where at[i] >= 0 (the rest to be filled), copied a block at
    a time: one copy of the found rows, where gathering then concatenating then reordering made three."""
    out = np.empty((len(at), dim), np.float32)
    found = np.flatnonzero(at >= 0)
    for lo in range(0, found.size, block):
        part = found[lo:lo + block]
        out[part] = vec[at[part]]
    return out


def add_vectors(model: Encoder, texts: list[str], vectors: np.ndarray, root: Path, *, prompt: str = "",
                precision: str = "fp32") -> int:
    """Add vectors computed elsewhere (a store the Ray cluster wrote) to the model's text cache under root: the
    texts not in it yet, as one new shard. Returns how many were added."""
    key = text_cache_key(model, prompt, precision)
    rows = {text_id(t): n for n, t in enumerate(texts)}
    _, _, fresh = _add_missing(root / cache_name(key), key, model.dim, list(rows),
                               np.asarray(vectors, np.float32)[list(rows.values())])   # a Ray store: dense
    return len(fresh)


def _add_missing(path: Path, key: dict, dim: int, ids: list[str], vectors: Vectors,
                 layout: str = "dense") -> tuple[list[str], Vectors, list[int]]:
    """Under the store's lock, the rows whose ids the cache lacks appended as one new shard (what another process
    added meanwhile is kept, not added twice) -> (the ids and vectors the cache held before, the positions in ids
    of the rows appended)."""
    with store_lock(path):
        manifest, have, held = open_growing_store(path, key, dim, layout)
        known = set(have)
        fresh = [n for n, i in enumerate(ids) if i not in known]
        if fresh:
            append_rows(path, manifest, [ids[n] for n in fresh], vectors[fresh])
    return have, held, fresh
