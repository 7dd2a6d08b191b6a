"""Embedding stores: the format (Parquet shards + manifest.json with dims, dtype, checksums and the cache key:
format.py), reading (read.py), writing, resuming and locking (write.py; shard writers for Ray workers), the keys
that address stores (key.py), and the cache under $SPACEKIT_CACHE, addressed by text (cache.py, text_cache.py).
Layer: below embed and ops (which read stores), above the bottom (files, errors); imports nothing of embed."""

from spacekit.store.read import Store, open_store

__all__ = ["Store", "open_store"]
