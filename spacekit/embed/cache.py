"""Embeddings through stores: `embed` into a named store, and the cache under $SPACEKIT_CACHE (one store per model
setting, addressed by text: spacekit.embed.text_cache)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from spacekit import __version__
from spacekit.embed.manifest import SHARD_ROWS, read_manifest
from spacekit.embed.model import Model
from spacekit.embed.store import Store
from spacekit.embed.store_write import remove_store_files, store_lock, write_store
from spacekit.errors import StoreError

log = logging.getLogger("spacekit")


def input_fingerprint(ids: list[str], texts: list[str]) -> str:
    """sha256 over the (id, text) pairs in order."""
    h = hashlib.sha256()
    for i, t in zip(ids, texts, strict=True):
        h.update(json.dumps([i, t], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def store_key(model: Model, ids: list[str], texts: list[str], prompt: str = "") -> dict:
    """The full cache key of a store: model half (with the prompt) + input fingerprint + spacekit version."""
    return {**model.cache_key(prompt), "input_fingerprint": input_fingerprint(ids, texts),
            "spacekit_version": __version__}


def embed_to_store(model: Model, ids: list[str], texts: list[str], out: str | Path, *, prompt: str = "",
                   shard_rows: int = SHARD_ROWS, overwrite: bool = False, store_dtype: str = "float32",
                   **encode_args) -> Store:
    """Embed texts (after the prompt) into the store at `out`, resuming or reusing what is there under the same
    key."""
    def embed(lo: int, hi: int) -> np.ndarray:
        return model.encode(texts[lo:hi], ids=ids[lo:hi], prompt=prompt, **encode_args)

    return write_store(out, ids, embed, dim=model.dim, key=store_key(model, ids, texts, prompt),
                       shard_rows=shard_rows, dtype=store_dtype, overwrite=overwrite)


def cache_root(override: str | Path | None = None) -> Path:
    """--cache-dir > $SPACEKIT_CACHE > ~/.cache/spacekit."""
    return Path(override or os.environ.get("SPACEKIT_CACHE") or Path.home() / ".cache" / "spacekit")


def embeddings(model: Model, ids: list[str], texts: list[str], *, prompt: str = "",
               cache_dir: str | Path | None = None, use_cache: bool = True, **encode_args) -> np.ndarray:
    """(n, dim) float32 vectors for the texts after the prompt, each text encoded once per model setting whatever
    list it came in (the cache; ids matter only to a store: model, which looks its vectors up by id)."""
    if not (model.cacheable and use_cache):
        return model.encode(texts, ids=ids, prompt=prompt, **encode_args)
    from spacekit.embed.text_cache import cached_vectors

    return cached_vectors(model, texts, cache_root(cache_dir), prompt=prompt, **encode_args)


def cache_name(key: dict) -> str:
    """The folder name the cache gives the store of a key (so a folder the cache made names its own key)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


def list_cache(cache_dir: str | Path | None = None) -> list[dict]:
    """One dict per store the cache made: name, count, dim, bytes, model fingerprint, complete. Entries that are
    not such stores (links, other folders, a broken manifest) are skipped, each with a warning."""
    root = cache_root(cache_dir)
    rows = []
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        if d.name.startswith(".") and d.name.endswith(".lock"):
            continue
        try:
            manifest = read_manifest(d) if d.is_dir() and not d.is_symlink() else None
        except StoreError as e:
            log.warning("cache: skipping %s", e)
            continue
        if manifest is None or cache_name(manifest["key"]) != d.name:
            log.warning("cache: skipping %s (not a store the cache made)", d)
            continue
        size = sum(f.stat().st_size for f in d.iterdir() if f.is_file() and not f.is_symlink())
        rows.append({"name": d.name, "count": manifest["count"], "dim": manifest["dim"], "bytes": size,
                     "model": manifest["key"].get("model_fingerprint", "")[:12], "complete": manifest["complete"]})
    return rows


def clear_cache(cache_dir: str | Path | None = None) -> int:
    """Remove every store the cache made (only its files; never through a link); returns how many."""
    root = cache_root(cache_dir)
    rows = list_cache(cache_dir)
    for r in rows:
        with store_lock(root / r["name"]):
            remove_store_files(root / r["name"], remove_folder=True)
    return len(rows)
