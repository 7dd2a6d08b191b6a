"""A store's manifest.json: what it must hold, checked before anything is read or written through it.

A manifest gives the vectors' dim, dtype and layout (dense, or csr for a sparse encoder's: spacekit.store.vectors)
and names its shards part-00000.parquet, part-00001.parquet, ... in order (so a shard entry can point nowhere
outside the folder), gives each its row count and sha256, and, once complete, row counts that add up to `count`.
The files spacekit makes in a store folder are exactly these (plus the temp files it writes them through): the only
files it ever deletes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from spacekit.errors import StoreError
from spacekit.store.vectors import LAYOUTS

FORMAT = "spacekit-store/1"
MANIFEST = "manifest.json"
NP_DTYPES = {"float32": np.float32, "float16": np.float16}
SHARD_ROWS = 50_000  # rows per Parquet shard
_OURS = re.compile(r"(manifest\.json|part-\d{5}\.parquet|\.(manifest\.json|part-\d{5}\.parquet)\..+\.tmp)")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def shard_name(index: int) -> str:
    """The file name of shard `index`."""
    return f"part-{index:05d}.parquet"


def is_store_file(name: str) -> bool:
    """A file name spacekit writes in a store folder (manifest, shard, or one of their temp files)."""
    return _OURS.fullmatch(name) is not None


def key_diff(a: dict, b: dict) -> list[str]:
    """Names of the cache-key fields that differ between two keys."""
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def new_manifest(dim: int, dtype: str, count: int, key: dict, layout: str = "dense") -> dict:
    """An empty, incomplete manifest (layout: dense, or csr for sparse vectors; spacekit.store.vectors)."""
    return {"format": FORMAT, "dim": dim, "dtype": dtype, "count": count, "complete": False, "shards": [],
            "key": key, **({"layout": layout} if layout != "dense" else {})}


def layout(manifest: dict) -> str:
    """A manifest's row layout: dense (when it names none) or csr."""
    return str(manifest.get("layout", "dense"))


def read_manifest(path: Path) -> dict | None:
    """The checked manifest of a store folder, or None when there is none; any problem is a StoreError naming it."""
    file = path / MANIFEST
    if not file.exists() and not file.is_symlink():
        return None
    manifest = load_manifest_json(file)
    problems = manifest_problems(manifest)
    if problems:
        raise StoreError(f"{file}: {problems[0]}")
    return manifest


def load_manifest_json(file: Path) -> Any:
    """A manifest file's JSON, unchecked; a link, a non-file or invalid JSON is a StoreError naming it."""
    if file.is_symlink() or not file.is_file():
        raise StoreError(f"{file}: not a regular file (a store's files are never links)")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StoreError(f"{file}: not valid JSON ({e})") from None


def manifest_problems(m: object) -> list[str]:
    """What is wrong with a manifest's structure, one line each (empty when nothing is)."""
    if not isinstance(m, dict):
        return [f"not a spacekit store manifest (a JSON {type(m).__name__}, not an object)"]
    if m.get("format") != FORMAT:
        return [f"not a spacekit store manifest (format {m.get('format')!r})"]
    problems = []
    for name, low in (("dim", 1), ("count", 0)):
        if not _is_int(m.get(name)) or m[name] < low:
            problems.append(f"{name} must be an integer >= {low}, got {m.get(name)!r}")
    if not isinstance(m.get("dtype"), str) or m["dtype"] not in NP_DTYPES:
        problems.append(f"dtype must be float32 or float16, got {m.get('dtype')!r}")
    if m.get("layout", "dense") not in LAYOUTS:
        problems.append(f"layout must be one of {', '.join(LAYOUTS)}, got {m.get('layout')!r}")
    if not isinstance(m.get("complete"), bool) or not isinstance(m.get("key"), dict):
        problems.append("complete must be true or false and key an object")
    shards = m.get("shards")
    if not isinstance(shards, list):
        return [*problems, f"shards must be a list, got {type(shards).__name__}"]
    for i, shard in enumerate(shards):
        problems += [f"shard {i}: {p}" for p in _shard_problems(i, shard)]
    if not problems and m["complete"] and sum(s["rows"] for s in shards) != m["count"]:
        problems.append(f"complete, but its shards hold {sum(s['rows'] for s in shards)} rows, not count "
                        f"{m['count']}")
    return problems


def _shard_problems(i: int, shard: object) -> list[str]:
    if not isinstance(shard, dict):
        return ["not an object"]
    problems = []
    if shard.get("file") != shard_name(i):
        problems.append(f"file must be {shard_name(i)!r}, got {shard.get('file')!r}")
    if not _is_int(shard.get("rows")) or shard["rows"] < 1:
        problems.append(f"rows must be an integer >= 1, got {shard.get('rows')!r}")
    if not isinstance(shard.get("sha256"), str) or not _SHA256.fullmatch(shard["sha256"]):
        problems.append("sha256 must be 64 hex digits")
    return problems


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
