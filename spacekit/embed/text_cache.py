"""The embedding cache, addressed by content: one growing store per model setting (weights, every module setting,
max length, the prompt: Model.cache_key) whose ids are the sha256 of each text. Every task, the leakage check, drift
and the probes read the vectors of the texts they need, and only texts not there yet are encoded — all of them in
one length-sorted pass — and appended as a new shard. Files, checksums, atomic writes and the lock are the store's
(store_write): a shard that fails its checksum is reported on stderr and its texts encoded again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from spacekit import __version__
from spacekit.embed.model import Model
from spacekit.embed.store_write import append_rows, open_growing_store, store_lock

LAYOUT = "by-text/1"


def text_id(text: str) -> str:
    """The id a text has in the cache: the sha256 of its UTF-8 bytes (the prompt is in the store's key)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def text_cache_key(model: Model, prompt: str, precision: str = "fp32") -> dict:
    """The key of the store that holds this model's vectors of texts after this prompt, computed in this
    precision."""
    return {**model.cache_key(prompt), "precision": precision, "layout": LAYOUT, "spacekit_version": __version__}


def cached_vectors(model: Model, texts: list[str], root: Path, *, prompt: str = "", **encode_args) -> np.ndarray:
    """(n, dim) float32 vectors of the texts after the prompt: read from the model's text cache under root, the
    texts not in it encoded once (in one pass) and added."""
    from spacekit import backend
    from spacekit.embed.cache import cache_name

    precision = backend.dtype_name(encode_args.get("dtype"), backend.device(encode_args.get("device")))
    key = text_cache_key(model, prompt, precision)
    path = root / cache_name(key)
    wanted = [text_id(t) for t in texts]
    with store_lock(path):
        manifest, ids, vec = open_growing_store(path, key, model.dim)
        row = {i: n for n, i in enumerate(ids)}
        todo = {i: t for i, t in zip(wanted, texts, strict=True) if i not in row}
        if todo:
            new = model.encode(list(todo.values()), prompt=prompt, **encode_args)
            append_rows(path, manifest, list(todo), new)
            row.update({i: len(ids) + n for n, i in enumerate(todo)})
            vec = np.concatenate([vec, new]) if len(vec) else new
    return vec[[row[i] for i in wanted]].astype(np.float32, copy=False)
