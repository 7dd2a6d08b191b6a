"""Embeddings through stores: `embed` into a named store, and the cache under $SPACEKIT_CACHE (one store per model
setting, addressed by text: spacekit.store.text_cache)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from spacekit.errors import StoreError
from spacekit.store.format import SHARD_ROWS, is_store_file, read_manifest
from spacekit.store.key import Encoder, cache_name, store_key
from spacekit.store.read import Store
from spacekit.store.vectors import LAYOUTS_OF_KINDS, Vectors
from spacekit.store.write import remove_store_files, store_lock, write_store

if TYPE_CHECKING:
    from spacekit.backend import Placement

log = logging.getLogger("spacekit")


def embed_to_store(model: Encoder, ids: list[str], texts: list[str], out: str | Path, *, prompt: str = "",
                   shard_rows: int = SHARD_ROWS, overwrite: bool = False, store_dtype: str = "float32",
                   placement: Placement | None = None) -> Store:
    """Embed texts (after the prompt) into the store at `out`, resuming or reusing what is there under the same
    key."""
    from spacekit.backend import Placement

    placement = placement or Placement.resolve()

    def embed(lo: int, hi: int) -> Vectors:
        return model.encode(texts[lo:hi], ids=ids[lo:hi], prompt=prompt, placement=placement)

    return write_store(out, ids, embed, dim=model.dim, key=store_key(model, ids, texts, prompt, placement.precision),
                       shard_rows=shard_rows, dtype=store_dtype, overwrite=overwrite,
                       layout=LAYOUTS_OF_KINDS[getattr(model, "kind", "dense")])


def cache_root(override: str | Path | None = None) -> Path:
    """--cache-dir > $SPACEKIT_CACHE > ~/.cache/spacekit."""
    return Path(override or os.environ.get("SPACEKIT_CACHE") or Path.home() / ".cache" / "spacekit")


def embeddings(model: Encoder, ids: list[str], texts: list[str], *, prompt: str = "",
               cache_dir: str | Path | None = None, use_cache: bool = True,
               placement: Placement | None = None) -> Vectors:
    """(n, dim) float32 vectors for the texts after the prompt, each text encoded once per model setting whatever
    list it came in (the cache; ids matter only to a store: model, which looks its vectors up by id)."""
    if not (model.cacheable and use_cache):
        return model.encode(texts, ids=ids, prompt=prompt, placement=placement)
    from spacekit.store.text_cache import cached_vectors

    return cached_vectors(model, texts, cache_root(cache_dir), prompt=prompt, placement=placement)


def list_cache(cache_dir: str | Path | None = None) -> list[dict]:
    """One dict per store the cache made: name, count, dim, bytes, model fingerprint, complete, damaged (why its
    manifest cannot be read: such an entry stops every evaluation of its model until `cache clear` removes it; ""
    when whole). Entries that are not the cache's (links, other folders) are skipped, each with a warning."""
    root = cache_root(cache_dir)
    rows = []
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        if d.name.startswith(".") and d.name.endswith(".lock"):
            continue
        ours = d.is_dir() and not d.is_symlink() and re.fullmatch(r"[0-9a-f]{24}", d.name) is not None
        try:
            manifest = read_manifest(d) if d.is_dir() and not d.is_symlink() else None
        except StoreError as e:
            if ours and all(is_store_file(f.name) for f in d.iterdir()):
                rows.append({"name": d.name, "count": 0, "dim": 0, "bytes": _size(d), "model": "",
                             "complete": False, "damaged": str(e)})
            else:
                log.warning("cache: skipping %s", e)
            continue
        if manifest is None or cache_name(manifest["key"]) != d.name:
            log.warning("cache: skipping %s (not a store the cache made)", d)
            continue
        rows.append({"name": d.name, "count": manifest["count"], "dim": manifest["dim"], "bytes": _size(d),
                     "model": manifest["key"].get("model_fingerprint", "")[:12], "complete": manifest["complete"],
                     "damaged": ""})
    return rows


def _size(folder: Path) -> int:
    """Bytes of the regular files in a folder."""
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file() and not f.is_symlink())


def clear_cache(cache_dir: str | Path | None = None) -> int:
    """Remove every store the cache made, damaged ones included (only its files; never through a link); returns how
    many."""
    root = cache_root(cache_dir)
    rows = list_cache(cache_dir)
    for r in rows:
        with store_lock(root / r["name"]):
            remove_store_files(root / r["name"], remove_folder=True)
    return len(rows)
