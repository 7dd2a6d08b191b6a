"""Embeddings through stores: `embed` into a named store, and the per-(model, input) cache under $SPACEKIT_CACHE."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from spacekit import __version__
from spacekit.embed.model import Model
from spacekit.embed.store import SHARD_ROWS, Store, read_manifest, write_store


def input_fingerprint(ids: list[str], texts: list[str]) -> str:
    """sha256 over the (id, text) pairs in order."""
    h = hashlib.sha256()
    for i, t in zip(ids, texts, strict=True):
        h.update(json.dumps([i, t], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def store_key(model: Model, ids: list[str], texts: list[str]) -> dict:
    """The full cache key of a store: model half + input fingerprint + spacekit version."""
    return {**model.cache_key(), "input_fingerprint": input_fingerprint(ids, texts),
            "spacekit_version": __version__}


def embed_to_store(model: Model, ids: list[str], texts: list[str], out: str | Path, *, shard_rows: int = SHARD_ROWS,
                   overwrite: bool = False, store_dtype: str = "float32", **encode_args) -> Store:
    """Embed texts into the store at `out`, resuming or reusing what is there under the same key."""
    def embed(lo: int, hi: int) -> np.ndarray:
        return model.encode(texts[lo:hi], ids=ids[lo:hi], **encode_args)

    return write_store(out, ids, embed, dim=model.dim, key=store_key(model, ids, texts), shard_rows=shard_rows,
                       dtype=store_dtype, overwrite=overwrite)


def cache_root(override: str | Path | None = None) -> Path:
    """--cache-dir > $SPACEKIT_CACHE > ~/.cache/spacekit."""
    return Path(override or os.environ.get("SPACEKIT_CACHE") or Path.home() / ".cache" / "spacekit")


def embeddings(model: Model, ids: list[str], texts: list[str], *, cache_dir: str | Path | None = None,
               use_cache: bool = True, **encode_args) -> np.ndarray:
    """(n, dim) float32 vectors for the texts, read from the cache when this model embedded them before."""
    if not (model.cacheable and use_cache):
        return model.encode(texts, ids=ids, **encode_args)
    key = store_key(model, ids, texts)
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    store = embed_to_store(model, ids, texts, cache_root(cache_dir) / name, overwrite=True, **encode_args)
    _, vec = store.load()
    return vec


def list_cache(cache_dir: str | Path | None = None) -> list[dict]:
    """One dict per cached store: name, count, dim, bytes, model fingerprint, complete."""
    root = cache_root(cache_dir)
    rows = []
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        manifest = read_manifest(d) if d.is_dir() else None
        if manifest is None:
            continue
        size = sum(f.stat().st_size for f in d.iterdir())
        rows.append({"name": d.name, "count": manifest["count"], "dim": manifest["dim"], "bytes": size,
                     "model": manifest["key"].get("model_fingerprint", "")[:12],
                     "complete": bool(manifest.get("complete"))})
    return rows


def clear_cache(cache_dir: str | Path | None = None) -> int:
    """Remove every cached store; returns how many."""
    rows = list_cache(cache_dir)
    for r in rows:
        shutil.rmtree(cache_root(cache_dir) / r["name"])
    return len(rows)

