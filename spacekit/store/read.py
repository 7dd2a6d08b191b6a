"""Parquet embedding store, read side: part-NNNNN.parquet shards (id string, then embedding fixed_size_list; or,
layout csr, indices and values lists: store/vectors.py) + manifest.json (store/format.py); writing, resuming and
locking are in store/write.py.

Nothing is read unchecked: the manifest's structure, and for each shard that it is a regular file inside the folder
whose sha256 matches, whose schema has the manifest's dim and dtype, whose row count matches, and whose vectors are
finite; ids are unique across shards. Any failure is a StoreError naming the file (exit 2 on the command line).
`spacekit store verify DIR` lists every problem at once.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spacekit.errors import StoreError
from spacekit.files import file_digest
from spacekit.store.format import (
    MANIFEST,
    NP_DTYPES,
    layout,
    load_manifest_json,
    manifest_problems,
    read_manifest,
)
from spacekit.store.vectors import Vectors, bad_row, columns, concat, from_arrays, schema

READ_ROWS = 8192  # rows a shard is decoded at a time

if TYPE_CHECKING:
    import torch


@dataclass
class Store:
    """A complete store on disk, its manifest checked; shards are checked as they are read."""

    path: Path
    manifest: dict

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return int(self.manifest["dim"])

    @property
    def layout(self) -> str:
        """dense, or csr (a sparse encoder's vectors)."""
        return layout(self.manifest)

    @property
    def count(self) -> int:
        """Number of vectors."""
        return int(self.manifest["count"])

    def fingerprint(self) -> str:
        """sha256 over the shard hashes: identifies the vectors themselves."""
        return hashlib.sha256("".join(s["sha256"] for s in self.manifest["shards"]).encode()).hexdigest()

    def shards(self) -> Iterator[tuple[list[str], Vectors]]:
        """(ids, (rows, dim) vectors) per shard, in order, each checked; an id seen twice is an error."""
        seen: set[str] = set()
        for number in range(len(self.manifest["shards"])):
            ids, vectors = self.shard(number)
            for item in ids:
                if item in seen or item is None:
                    raise StoreError(f"{self.path / self.manifest['shards'][number]['file']}: id {item!r} appears "
                                     f"twice in the store")
                seen.add(item)
            yield ids, vectors

    def shard(self, number: int) -> tuple[list[str], Vectors]:
        """(ids, (rows, dim) vectors) of one shard, checked (a worker reads only the shards it searches), decoded
        READ_ROWS at a time (decoding a whole shard at once takes several times its size); dense rows into one
        array."""
        shard = self.manifest["shards"][number]
        file = self.path / shard["file"]
        parquet = open_shard(self.path, self.manifest, shard)
        ids: list[str] = []
        dense = self.layout == "dense"
        vectors = np.empty((shard["rows"], self.dim), NP_DTYPES[self.manifest["dtype"]]) if dense else None
        parts = []
        for batch in _batches(parquet, READ_ROWS, file, ["id", *columns(self.layout)]):
            with _reading(file):                                          # ids that are not UTF-8
                batch_ids = batch.column(0).to_pylist()
            _check_rows(file, len(ids) + len(batch_ids), shard["rows"], done=False)
            vec = _vectors(batch.columns[1:], self.dim, self.layout, file, batch_ids)
            if vectors is not None:
                vectors[len(ids):len(ids) + len(batch_ids)] = vec
            else:
                parts.append(vec)
            ids += batch_ids
        _check_rows(file, len(ids), shard["rows"])                        # damaged pages can decode to fewer
        return ids, vectors if vectors is not None else concat(parts, self.dim, self.layout)

    def tiles(self, rows: int, device: torch.device | str = "cpu",
              dtype: torch.dtype | None = None) -> Iterator[tuple[int, torch.Tensor]]:
        """(start row, (<=rows, dim) tensor) tiles (float32 by default), each shard checked and then read `rows`
        at a time: memory ~ two tiles, whatever the shard size."""
        import torch

        if self.layout != "dense":
            raise StoreError(f"{self.path}: a {self.layout} store is searched whole (load it), not tile by tile")
        dtype = dtype or torch.float32
        start, carry = 0, torch.zeros((0, self.dim))
        for shard in self.manifest["shards"]:
            file = open_shard(self.path, self.manifest, shard)
            decoded = 0
            for batch in _batches(file, rows, self.path / shard["file"], ["embedding"]):
                decoded += batch.num_rows
                _check_rows(self.path / shard["file"], decoded, shard["rows"], done=False)
                vec = _vectors(batch.columns, self.dim, "dense", self.path / shard["file"], None)
                buf = torch.cat([carry, torch.from_numpy(vec)]) if len(carry) else torch.from_numpy(vec)
                while buf.shape[0] >= rows:
                    yield start, buf[:rows].to(device=device, dtype=dtype)
                    start, buf = start + rows, buf[rows:]
                carry = buf
            _check_rows(self.path / shard["file"], decoded, shard["rows"])
        if len(carry):
            yield start, carry.to(device=device, dtype=dtype)

    def load(self) -> tuple[list[str], Vectors]:
        """All ids and vectors, float32 (when they fit in memory): one array, one CSR matrix (layout csr) or one
        TokenVectors (layout tokens)."""
        ids, parts = [], []
        for shard_ids, vec in self.shards():
            ids += shard_ids
            parts.append(vec)
        return ids, concat(parts, self.dim, self.layout)

    def lookup(self, wanted: list[str]) -> Vectors:
        """Vectors for the given ids (the store: model's encode); unknown ids are an error."""
        ids, vec = self.load()
        where = {i: n for n, i in enumerate(ids)}
        missing = [w for w in wanted if w not in where]
        if missing:
            raise StoreError(f"{self.path}: {len(missing)} ids not in the store, e.g. {missing[0]!r}")
        rows = vec[[where[w] for w in wanted]]
        return rows.astype(np.float32, copy=False) if isinstance(rows, np.ndarray) else rows


def open_shard(path: Path, manifest: dict, shard: dict) -> pq.ParquetFile:
    """A shard, checked: a regular file (not a link) whose sha256, schema (id string, embedding of the manifest's
    dim and dtype) and row count match the manifest."""
    file = path / shard["file"]
    if file.is_symlink() or not file.is_file():
        raise StoreError(f"{file}: missing or not a regular file (a store's files are never links)")
    if file_digest(file) != shard["sha256"]:
        raise StoreError(f"{file}: corrupt shard (sha256 differs from {MANIFEST}); re-run embed to rebuild it")
    try:
        parquet = pq.ParquetFile(file, pre_buffer=False)                 # read row group by row group
        found = parquet.schema_arrow.remove_metadata()
    except (pa.ArrowException, OSError, ValueError) as e:
        raise StoreError(f"{file}: not a readable Parquet file ({_first_line(e)})") from None
    want = schema(layout(manifest), manifest["dim"], pa.from_numpy_dtype(NP_DTYPES[manifest["dtype"]]))
    if not found.equals(want):
        raise StoreError(f"{file}: columns {_columns(found)} are not the manifest's {_columns(want)}")
    if parquet.metadata.num_rows != shard["rows"]:
        raise StoreError(f"{file}: {parquet.metadata.num_rows} rows, the manifest says {shard['rows']}")
    return parquet


def _columns(schema: pa.Schema) -> str:
    """The schema's columns on one line: a damaged file's names can hold any byte (a newline, a control)."""
    return ", ".join(f"{f.name}: {f.type}" for f in schema).encode("unicode_escape").decode("ascii")


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


@contextlib.contextmanager
def _reading(file: Path) -> Iterator[None]:
    """A shard that passed its checks but whose pages cannot be decoded: a StoreError naming it."""
    try:
        yield
    except (pa.ArrowException, OSError, ValueError) as e:
        raise StoreError(f"{file}: not a readable Parquet file ({_first_line(e)})") from None


def _batches(parquet: pq.ParquetFile, rows: int, file: Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """The columns, `rows` at a time, one row group in memory; a page that cannot be decoded is a StoreError naming
    the file."""
    batches = parquet.iter_batches(batch_size=rows, columns=columns, use_threads=False)
    while True:
        with _reading(file):
            batch = next(batches, None)
        if batch is None:
            return
        yield batch


def _check_rows(file: Path, decoded: int, rows: int, done: bool = True) -> None:
    """A StoreError when a shard decodes to more rows than its manifest says, or (done) to a different number: a
    damaged page can decode to fewer rows than the file's metadata promised."""
    if decoded > rows or (done and decoded != rows):
        raise StoreError(f"{file}: {decoded} rows decoded, the manifest says {rows}; re-run embed to rebuild it")


def _vectors(arrays: list[pa.Array], dim: int, row_layout: str, file: Path, ids: list[str] | None) -> Vectors:
    """(rows, dim) vectors of a batch's vector columns (store.vectors), checked: finite (the first bad row named),
    and a csr row's columns in range and ascending."""
    with _reading(file):
        vec, problem = from_arrays(arrays, dim, row_layout)
    if problem is not None:
        raise StoreError(f"{file}: {problem}")
    row = bad_row(vec)
    if row is not None:
        where = f"id {ids[row]!r}" if ids is not None else f"row {row} of a batch"
        raise StoreError(f"{file}: {where}: embedding has NaN or inf values")
    return vec


def open_store(path: str | Path) -> Store:
    """Open a complete store for reading (its manifest checked)."""
    path = Path(path)
    if not path.is_dir():
        raise StoreError(f"{path}: no such store folder")
    manifest = read_manifest(path)
    if manifest is None:
        raise StoreError(f"{path}: not a spacekit store (no {MANIFEST})")
    if not manifest["complete"]:
        raise StoreError(f"{path}: incomplete store (interrupted embed); re-run embed to resume it")
    return Store(path, manifest)


def verify_store(path: str | Path) -> list[str]:
    """Every problem with a store, one line each (empty when it is whole): the manifest's structure, then each
    shard (file, sha256, schema, rows, finite vectors), ids unique, and completeness."""
    path = Path(path)
    file = path / MANIFEST
    if not file.exists() and not file.is_symlink():
        return [f"{path}: not a spacekit store (no {MANIFEST})"]
    try:
        manifest = load_manifest_json(file)
    except StoreError as e:
        return [str(e)]
    problems = [f"{file}: {p}" for p in manifest_problems(manifest)]
    if problems:
        return problems
    seen: set[str] = set()
    for shard in manifest["shards"]:
        try:
            for _ids, _ in Store(path, {**manifest, "shards": [shard]}).shards():
                twice = seen.intersection(_ids)
                if twice:
                    problems.append(f"{path / shard['file']}: id {sorted(twice)[0]!r} is in an earlier shard too")
                seen.update(_ids)
        except StoreError as e:
            problems.append(str(e))
    if not manifest["complete"]:
        problems.append(f"{path}: incomplete ({len(manifest['shards'])} shards written); re-run embed to resume it")
    return problems
