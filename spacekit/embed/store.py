"""Parquet embedding store: part-NNNNN.parquet shards (id string, embedding fixed_size_list) + manifest.json.

Writes are atomic (temp file + rename; the manifest is rewritten after each shard and marked complete last),
so an interrupted `embed` resumes from the last whole shard. A shard whose sha256 no longer matches the
manifest is never used: readers raise StoreError, a resumed write recomputes it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spacekit.errors import StoreError
from spacekit.files import atomic_open, atomic_write, file_digest

if TYPE_CHECKING:
    import torch

FORMAT = "spacekit-store/1"
MANIFEST = "manifest.json"
NP_DTYPES = {"float32": np.float32, "float16": np.float16}
SHARD_ROWS = 50_000  # rows per Parquet shard


def key_diff(a: dict, b: dict) -> list[str]:
    """Names of the cache-key fields that differ between two keys."""
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


@dataclass
class Store:
    """A complete, verified store on disk."""

    path: Path
    manifest: dict

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return int(self.manifest["dim"])

    @property
    def count(self) -> int:
        """Number of vectors."""
        return int(self.manifest["count"])

    def fingerprint(self) -> str:
        """sha256 over the shard hashes: identifies the vectors themselves."""
        return hashlib.sha256("".join(s["sha256"] for s in self.manifest["shards"]).encode()).hexdigest()

    def _read_shard(self, shard: dict) -> tuple[list[str], np.ndarray]:
        file = self.path / shard["file"]
        if not file.is_file() or file_digest(file) != shard["sha256"]:
            raise StoreError(f"{file}: corrupt shard (sha256 differs from {MANIFEST}); re-run embed to rebuild it")
        table = pq.read_table(file)
        emb = table.column("embedding").combine_chunks()
        vec = emb.values.to_numpy(zero_copy_only=False, writable=True).reshape(-1, self.dim)
        return table.column("id").to_pylist(), vec

    def shards(self) -> Iterator[tuple[list[str], np.ndarray]]:
        """(ids, (rows, dim) array) per shard, in order, each verified against its sha256."""
        for shard in self.manifest["shards"]:
            yield self._read_shard(shard)

    def tiles(self, rows: int, device: torch.device | str = "cpu",
              dtype: torch.dtype | None = None) -> Iterator[tuple[int, torch.Tensor]]:
        """(start row, (<=rows, dim) tensor) tiles streamed shard by shard (dtype: float32 by default); memory ~
        one shard + one tile."""
        import torch

        dtype = dtype or torch.float32
        start, carry = 0, []
        for _ids, vec in self.shards():
            carry.append(torch.from_numpy(vec))
            buf = torch.cat(carry) if len(carry) > 1 else carry[0]
            while buf.shape[0] >= rows:
                yield start, buf[:rows].to(device=device, dtype=dtype)
                start, buf = start + rows, buf[rows:]
            carry = [buf] if buf.shape[0] else []
        if carry:
            yield start, carry[0].to(device=device, dtype=dtype)

    def load(self) -> tuple[list[str], np.ndarray]:
        """All ids and vectors as one float32 array (when it fits in memory)."""
        ids, parts = [], []
        for shard_ids, vec in self.shards():
            ids += shard_ids
            parts.append(vec.astype(np.float32, copy=False))
        return ids, np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)

    def ids(self) -> list[str]:
        """All ids in store order (reads only the id column)."""
        return [i for s in self.manifest["shards"] for i in pq.read_table(self.path / s["file"],
                                                                          columns=["id"]).column("id").to_pylist()]

    def lookup(self, wanted: list[str]) -> np.ndarray:
        """Vectors for the given ids (the store: model's encode); unknown ids are an error."""
        ids, vec = self.load()
        where = {i: n for n, i in enumerate(ids)}
        missing = [w for w in wanted if w not in where]
        if missing:
            raise StoreError(f"{self.path}: {len(missing)} ids not in the store, e.g. {missing[0]!r}")
        return vec[[where[w] for w in wanted]].astype(np.float32, copy=False)


def read_manifest(path: Path) -> dict | None:
    """The manifest of a store folder, or None when there is none."""
    file = path / MANIFEST
    if not file.is_file():
        return None
    try:
        manifest = json.loads(file.read_text())
    except json.JSONDecodeError:
        raise StoreError(f"{file}: not valid JSON") from None
    if manifest.get("format") != FORMAT:
        raise StoreError(f"{file}: not a spacekit store manifest (format {manifest.get('format')!r})")
    return manifest


def open_store(path: str | Path) -> Store:
    """Open a complete store for reading."""
    path = Path(path)
    if not path.is_dir():
        raise StoreError(f"{path}: no such store folder")
    manifest = read_manifest(path)
    if manifest is None:
        raise StoreError(f"{path}: not a spacekit store (no {MANIFEST})")
    if not manifest.get("complete"):
        raise StoreError(f"{path}: incomplete store (interrupted embed); re-run embed to resume it")
    return Store(path, manifest)


def _new_manifest(dim: int, dtype: str, count: int, key: dict) -> dict:
    return {"format": FORMAT, "dim": dim, "dtype": dtype, "count": count, "complete": False,
            "shards": [], "key": key}


def _valid_prefix(path: Path, manifest: dict) -> list[dict]:
    """The leading shards whose files exist and still match their sha256."""
    good = []
    for shard in manifest["shards"]:
        file = path / shard["file"]
        if not file.is_file() or file_digest(file) != shard["sha256"]:
            break
        good.append(shard)
    return good


def write_store(path: str | Path, ids: list[str], embed: Callable[[int, int], np.ndarray], *, dim: int,
                key: dict, shard_rows: int = SHARD_ROWS, dtype: str = "float32", overwrite: bool = False) -> Store:
    """Write (or resume, or reuse) a store of len(ids) vectors; embed(lo, hi) returns rows lo:hi."""
    path = Path(path)
    if dtype not in NP_DTYPES:
        raise StoreError(f"store dtype must be float32 or float16, got {dtype!r}")
    if shard_rows < 1:
        raise StoreError(f"shard rows must be >= 1, got {shard_rows}")
    manifest = _prepare(path, key, overwrite)
    created = manifest is None
    if manifest is None or manifest["count"] != len(ids) or manifest["dim"] != dim or manifest["dtype"] != dtype:
        manifest = _new_manifest(dim, dtype, len(ids), key)
    elif manifest.get("complete") and len(_valid_prefix(path, manifest)) == len(manifest["shards"]):
        return Store(path, manifest)  # same key, intact: nothing to do
    manifest["shards"] = _valid_prefix(path, manifest)
    manifest["complete"] = False
    path.mkdir(parents=True, exist_ok=True)
    atomic_write(path / MANIFEST, json.dumps(manifest, indent=1).encode())
    try:
        lo = sum(s["rows"] for s in manifest["shards"])
        while lo < len(ids):
            hi = min(lo + shard_rows, len(ids))
            vec = np.asarray(embed(lo, hi))
            if vec.shape != (hi - lo, dim):
                raise StoreError(f"{path}: rows {lo}:{hi} came back with shape {vec.shape}, expected {(hi - lo, dim)}")
            if not np.isfinite(vec).all():
                bad = ids[lo + int(np.flatnonzero(~np.isfinite(vec).all(1))[0])]
                raise StoreError(f"{path}: id {bad!r}: embedding has NaN or inf values")
            manifest["shards"].append(_write_shard(path, len(manifest["shards"]), ids[lo:hi], vec, dtype))
            atomic_write(path / MANIFEST, json.dumps(manifest, indent=1).encode())
            lo = hi
    except BaseException as e:
        if created and not isinstance(e, KeyboardInterrupt):
            shutil.rmtree(path, ignore_errors=True)  # nothing half-written from a failed new store
        raise
    manifest["complete"] = True
    atomic_write(path / MANIFEST, json.dumps(manifest, indent=1).encode())
    return Store(path, manifest)


def _prepare(path: Path, key: dict, overwrite: bool) -> dict | None:
    """The manifest to resume from (same key), or None for a fresh store; refuses a different key."""
    if not path.exists():
        return None
    if not path.is_dir():
        raise StoreError(f"{path}: exists and is not a folder")
    manifest = read_manifest(path)
    if manifest is None:
        if any(path.iterdir()) and not overwrite:
            raise StoreError(f"{path}: folder is not empty and is not a spacekit store; use --overwrite")
        if overwrite:
            shutil.rmtree(path)
        return None
    if manifest.get("key") != key:
        if not overwrite:
            diff = ", ".join(key_diff(manifest.get("key", {}), key))
            raise StoreError(f"{path}: store was made with a different cache key ({diff} differ); use --overwrite")
        shutil.rmtree(path)
        return None
    return manifest


def _write_shard(path: Path, index: int, ids: list[str], vec: np.ndarray, dtype: str) -> dict:
    name = f"part-{index:05d}.parquet"
    flat = pa.array(vec.astype(NP_DTYPES[dtype], copy=False).reshape(-1))
    table = pa.table({"id": pa.array(ids, pa.string()),
                      "embedding": pa.FixedSizeListArray.from_arrays(flat, vec.shape[1])})
    with atomic_open(path / name, "wb") as f:
        pq.write_table(table, f)
    return {"file": name, "rows": len(ids), "sha256": file_digest(path / name)}
