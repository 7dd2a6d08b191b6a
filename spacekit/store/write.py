"""Writing a store: new, resumed from its last whole shard, or reused; one writer at a time.

Every file goes through a uniquely named temp file created exclusively beside it and is renamed over its name
(files.atomic_open), so a crash leaves whole files only and a link planted in the folder is never written through.
The manifest is rewritten after each shard and marked complete last. A lock file beside the folder
(`.NAME.lock`, flock) makes a second writer of the same store wait, then reuse or resume what the first wrote.
spacekit deletes only files it makes in a store folder (manifest.json, part-NNNNN.parquet, their temp files), and
only in a folder that is provably a store.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spacekit.errors import StoreError
from spacekit.files import atomic_open, atomic_write, file_digest
from spacekit.store.format import (
    MANIFEST,
    NP_DTYPES,
    SHARD_ROWS,
    is_store_file,
    key_diff,
    new_manifest,
    read_manifest,
    shard_name,
)
from spacekit.store.format import layout as manifest_layout
from spacekit.store.read import Store
from spacekit.store.vectors import Vectors, bad_row, concat, dense, layout_of, schema, to_arrays

try:
    import fcntl
except ImportError:  # not on POSIX: no lock (one writer at a time is then the user's to ensure)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("spacekit")
ROW_GROUP = 8192  # rows per Parquet row group: a reader holds one group at a time (Store.tiles)


ShardWriter = Callable[[int, int, int], dict]  # (shard number, lo, hi) -> the shard's manifest entry, file written


def write_store(path: str | Path, ids: list[str], embed: Callable[[int, int], Vectors] | None = None, *,
                dim: int, key: dict, shard_rows: int = SHARD_ROWS, dtype: str = "float32", overwrite: bool = False,
                write: ShardWriter | None = None, on_abort: Callable[[], None] | None = None,
                layout: str = "dense") -> Store:
    """Write (or resume, or reuse) a store of len(ids) vectors; embed(lo, hi) returns rows lo:hi, or write(number,
    lo, hi) writes that shard itself (write_shard, e.g. on a Ray worker) and returns its manifest entry. on_abort
    runs before a failed new store's files are removed (to stop writers still at work). layout: dense, csr (a
    sparse encoder's vectors) or tokens (a multi-vector model's); the last two float32 only."""
    path = Path(path)
    if (embed is None) == (write is None):
        raise ValueError("write_store needs exactly one of embed and write")
    if dtype not in NP_DTYPES:
        raise StoreError(f"store dtype must be float32 or float16, got {dtype!r}")
    if shard_rows < 1:
        raise StoreError(f"shard rows must be >= 1, got {shard_rows}")
    if layout != "dense" and dtype != "float32":
        raise StoreError(f"a {layout} store holds float32 values, not {dtype}")
    with store_lock(path):
        _remove_temp_files(path)                                          # a dead writer's (we hold the lock)
        manifest = _prepare(path, key, overwrite)
        created = manifest is None
        if manifest is None or (manifest["count"], manifest["dim"], manifest["dtype"], manifest_layout(manifest)) \
                != (len(ids), dim, dtype, layout):
            manifest = new_manifest(dim, dtype, len(ids), key, layout)
        good = _whole_prefix(path, manifest, ids)
        if manifest["complete"] and len(good) == len(manifest["shards"]):
            return Store(path, manifest)                                  # same key, intact: nothing to do
        manifest.update(shards=good, complete=False)
        path.mkdir(parents=True, exist_ok=True)
        try:
            _write_rows(path, manifest, ids, write or _local_writer(path, ids, embed, dim, dtype), shard_rows)
        except BaseException as e:
            if on_abort is not None:
                on_abort()
            if created and not isinstance(e, KeyboardInterrupt):
                remove_store_files(path, remove_folder=True)               # nothing half-written from a new store
            raise
        manifest["complete"] = True
        atomic_write(path / MANIFEST, json.dumps(manifest, indent=1))
        _remove_stale_shards(path, manifest)
        _remove_temp_files(path)                                          # a killed remote writer's
        return Store(path, manifest)


def _write_rows(path: Path, manifest: dict, ids: list[str], write: ShardWriter, shard_rows: int) -> None:
    """Write every row after the manifest's whole shards, a shard at a time, the manifest after each."""
    atomic_write(path / MANIFEST, json.dumps(manifest, indent=1))
    lo = sum(s["rows"] for s in manifest["shards"])
    while lo < len(ids):
        hi = min(lo + shard_rows, len(ids))
        manifest["shards"].append(write(len(manifest["shards"]), lo, hi))
        atomic_write(path / MANIFEST, json.dumps(manifest, indent=1))
        lo = hi


def _local_writer(path: Path, ids: list[str], embed, dim: int, dtype: str) -> ShardWriter:
    """Shards written here from embed(lo, hi)'s rows."""
    def write(number: int, lo: int, hi: int) -> dict:
        vec = embed(lo, hi)
        return write_shard(path, number, ids[lo:hi], vec if layout_of(vec) != "dense" else np.asarray(vec), dim,
                           dtype)
    return write


@contextlib.contextmanager
def store_lock(path: Path, reading: bool = False) -> Iterator[None]:
    """Hold the store's lock file (beside the folder; it names its holder's PID; removed by its holder on release, so
    none is left behind); a second writer says at once on stderr whom it waits for, then waits until the first is
    done. reading: the caller only reads, so a folder it may not write (a read-only cache) is read without the lock
    rather than refused."""
    if fcntl is None:
        yield
        return
    lock, told = path.parent / f".{path.name}.lock", False
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            if not (reading and e.errno in (errno.EROFS, errno.EACCES, errno.EPERM)):
                raise
            yield                                      # nobody can write here: nothing to wait for
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not told:
                    holder = os.pread(fd, PID_BYTES, 0).decode("ascii", "replace").strip() or "?"
                    log.warning("waiting for spacekit (PID %s), which is writing %s", holder, path)
                    told = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            if not _names(lock, fd):                   # its holder removed it meanwhile: lock the file there now
                continue
            os.pwrite(fd, str(os.getpid()).ljust(PID_BYTES).encode("ascii"), 0)     # one write: never read half
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(lock)                    # while still held: whoever waits on it opens a new one
                fcntl.flock(fd, fcntl.LOCK_UN)
            return
        finally:
            os.close(fd)


def _names(path: Path, fd: int) -> bool:
    """Whether path is (still) the file open as fd."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


PID_BYTES = 20


def _whole_prefix(path: Path, manifest: dict, ids: list[str]) -> list[dict]:
    """The leading shards that are still whole, checked as a reader checks them (file, sha256, schema, rows, finite
    vectors) and holding exactly the ids of the rows they stand for (so no null or repeated id is kept); the first
    that is not is reported on stderr, and it and the shards after it are recomputed."""
    good: list[dict] = []
    store, lo = Store(path, manifest), 0
    for number, shard in enumerate(manifest["shards"]):
        try:
            shard_ids, _ = store.shard(number)
            if shard_ids != ids[lo:lo + len(shard_ids)]:
                raise StoreError(f"{path / shard['file']}: holds other ids than the input's rows {lo:,}.."
                                 f"{lo + len(shard_ids) - 1:,}")
        except StoreError as e:
            log.warning("%s: recomputing from row %d", e, lo)
            break
        good.append(shard)
        lo += len(shard_ids)
    return good


CACHE_REMEDY = "the cache entry cannot be used: `spacekit cache clear` removes it (its texts are encoded again)"


def _prepare(path: Path, key: dict, overwrite: bool, remedy: str | None = None) -> dict | None:
    """The manifest to resume from (same key), or None for a fresh store. A different key is refused unless
    overwrite; a folder that is not a store, or holds files besides a store's, is never deleted. A damaged manifest
    is made again with overwrite when the folder holds only a store's files; otherwise its error says the way out
    (remedy, or for a named store --overwrite / deleting the folder)."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise StoreError(f"{path}: exists and is not a folder")
    if not path.exists():
        return None
    others = sorted(p.name for p in path.iterdir() if not is_store_file(p.name))
    try:
        manifest = read_manifest(path)
    except StoreError as e:
        if overwrite and not others:
            log.warning("%s; --overwrite: the store is made again", e)
            remove_store_files(path)
            return None
        if remedy is None:
            remedy = ("the store cannot be resumed: pass --overwrite to make it again" if not others else
                      f"the store cannot be resumed, and --overwrite replaces only a folder holding nothing but a "
                      f"store's files (this one also holds {others[0]!r}): delete the folder or choose another")
        raise StoreError(f"{e}; {remedy}") from None
    if manifest is None:
        if others:
            raise StoreError(f"{path}: folder is not empty and is not a spacekit store (it holds {others[0]!r}); "
                             f"spacekit deletes only its own stores: choose an empty or new folder")
        return None
    if manifest["key"] != key:
        diff = ", ".join(key_diff(manifest["key"], key))
        if not overwrite:
            raise StoreError(f"{path}: store was made with a different cache key ({diff} differ); use --overwrite")
        if others:
            raise StoreError(f"{path}: --overwrite: the store folder also holds {others[0]!r}, which spacekit "
                             f"did not make; move it away first")
        remove_store_files(path)
        return None
    return manifest


def remove_store_files(path: Path, remove_folder: bool = False) -> None:
    """Delete the files spacekit makes in a store folder (never a link's target, never another file); with
    remove_folder, the folder too when nothing else is left in it."""
    if path.is_symlink() or not path.is_dir():
        return
    for file in path.iterdir():
        if is_store_file(file.name) and (file.is_symlink() or file.is_file()):
            file.unlink(missing_ok=True)
    if remove_folder and not any(path.iterdir()):
        path.rmdir()


def _remove_temp_files(path: Path) -> None:
    """Temp files spacekit made in a store folder and never renamed (a writer killed mid-file)."""
    if path.is_dir() and not path.is_symlink():
        for file in path.iterdir():
            if file.name.startswith(".") and file.name.endswith(".tmp") and is_store_file(file.name):
                file.unlink(missing_ok=True)


def _remove_stale_shards(path: Path, manifest: dict) -> None:
    """Shard files the manifest no longer lists (left by an earlier, larger store under the same name)."""
    listed = {s["file"] for s in manifest["shards"]}
    for file in path.glob("part-*.parquet"):
        if is_store_file(file.name) and file.name not in listed:
            file.unlink(missing_ok=True)


def open_growing_store(path: Path, key: dict, dim: int, layout: str = "dense") -> tuple[dict, list[str], Vectors]:
    """(manifest, ids, float32 vectors) of a store that grows by appended shards (the text cache), each shard checked
    and read once: made when absent (in the layout given); the same key or a StoreError; a shard that fails its
    check is reported on stderr and dropped (its rows are computed again by the caller). Hold store_lock around it
    and every append."""
    _remove_temp_files(path)
    manifest = _prepare(path, key, overwrite=False, remedy=CACHE_REMEDY) or new_manifest(dim, "float32", 0, key,
                                                                                          layout)
    good: list[dict] = []
    ids: list[str] = []
    rows = sum(int(s["rows"]) for s in manifest["shards"])
    out = np.empty((rows, dim), np.float32) if manifest_layout(manifest) == "dense" else None   # filled shard by shard
    parts = []
    for shard in manifest["shards"]:
        try:
            shard_ids, vec = next(Store(path, {**manifest, "shards": [shard]}).shards())
        except StoreError as e:
            log.warning("%s: its vectors are computed again", e)
            continue
        good.append(shard)
        if out is not None:
            out[len(ids):len(ids) + len(shard_ids)] = dense(vec)
        else:
            parts.append(vec)
        ids += shard_ids
    manifest.update(shards=good, count=len(ids), complete=True)
    return manifest, ids, out[:len(ids)] if out is not None else concat(parts, dim, manifest_layout(manifest))


def append_rows(path: Path, manifest: dict, ids: list[str], vec: Vectors, shard_rows: int = SHARD_ROWS) -> None:
    """Append rows as new shards (each written whole, then the manifest): a growing store's only write."""
    _check_finite(path, ids, vec)
    path.mkdir(parents=True, exist_ok=True)
    taken = [int(s["file"][5:10]) for s in manifest["shards"]]
    for lo in range(0, len(ids), shard_rows):
        index = max(taken, default=-1) + 1
        shard = write_shard(path, index, ids[lo:lo + shard_rows], vec[lo:lo + shard_rows], manifest["dim"],
                            manifest["dtype"])
        manifest["shards"].append(shard)
        taken.append(index)
        manifest["count"] += shard["rows"]
        atomic_write(path / MANIFEST, json.dumps(manifest, indent=1))
    _remove_stale_shards(path, manifest)


def _check_finite(path: Path, ids: list[str], vec: Vectors) -> None:
    """A StoreError naming the first id whose vector has a NaN or inf value (it would rank first in a search)."""
    row = bad_row(vec)
    if row is not None:
        raise StoreError(f"{path}: id {ids[row]!r}: embedding has NaN or inf values")


def write_shard(path: Path, number: int, ids: list[str], vec: Vectors, dim: int, dtype: str) -> dict:
    """Write shard `number` (part-NNNNN.parquet, atomically; dense or csr rows as vec is) -> its manifest entry; a
    StoreError for vectors of the wrong shape or with NaN / inf values."""
    if vec.shape != (len(ids), dim):
        raise StoreError(f"{path}: {len(ids)} rows from id {ids[0]!r} came back with shape {vec.shape}, expected "
                         f"{(len(ids), dim)}")
    _check_finite(path, ids, vec)
    name = shard_name(number)
    arrays = to_arrays(vec, NP_DTYPES[dtype])
    table = pa.Table.from_arrays([pa.array(ids, pa.string()), *arrays],
                                 schema=schema(layout_of(vec), dim, pa.from_numpy_dtype(NP_DTYPES[dtype])))
    with atomic_open(path / name, "wb") as f:
        pq.write_table(table, f, row_group_size=ROW_GROUP)
    return {"file": name, "rows": len(ids), "sha256": file_digest(path / name)}
