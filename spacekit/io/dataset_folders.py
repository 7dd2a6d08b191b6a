"""The folder layouts datasets come in, detected rather than configured: a `datasets` save_to_disk folder (Arrow
files listed in state.json; a DatasetDict's splits in sub-folders), a folder of Parquet / JSONL shards (the Hugging
Face Hub snapshot of an MTEB dataset: corpus/, queries/, qrels/ or default/), and BEIR's files under other formats
(corpus.jsonl.gz, corpus.parquet, qrels/test.parquet). pyarrow reads them all; `datasets` is never imported."""

from __future__ import annotations

import json
from pathlib import Path

from spacekit.errors import InputError

SHARD_SUFFIXES = (".parquet", ".arrow", ".jsonl", ".jsonl.gz", ".json")
PART_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet", ".tsv", ".csv")


def shard_files(folder: Path) -> list[Path]:
    """The data files of a dataset folder, in order: save_to_disk's Arrow files (as state.json lists them), else
    every Parquet / Arrow / JSONL file below it, sorted by path."""
    if (folder / "dataset_dict.json").is_file():
        splits = sorted(p.name for p in folder.iterdir() if (p / "state.json").is_file())
        raise InputError(f"{folder}: a DatasetDict folder; give one split's folder "
                         f"({', '.join(str(folder / s) for s in splits) or 'no split folders found'})")
    state = folder / "state.json"
    if state.is_file():
        try:
            names = [f["filename"] for f in json.loads(state.read_text(encoding="utf-8"))["_data_files"]]
        except (ValueError, KeyError, TypeError, RecursionError) as e:       # ValueError: JSON, UTF-8
            raise InputError(f"{state}: not a save_to_disk state file ({type(e).__name__}: {e})") from None
        for name in names:                         # a plain file name in this folder, as store manifests' shards
            if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
                raise InputError(f"{state}: data file {name!r} is not a file name in {folder} (refused: a state "
                                 f"file may only name files beside it)")
        files = [folder / n for n in names]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise InputError(f"{missing[0]}: listed in {state} but missing")
        return files
    files = sorted(p for p in folder.rglob("*") if p.is_file() and _is_shard(p))
    if not files:
        raise InputError(f"{folder}: a folder with no data files (expected Parquet, Arrow or JSONL shards, or a "
                         f"save_to_disk folder)")
    return files


def find_part(folder: Path, stem: str) -> Path | None:
    """A BEIR part (corpus, queries) in any accepted layout: stem.jsonl, stem.jsonl.gz, stem.parquet, or a folder
    stem/ (shards or save_to_disk)."""
    for suffix in PART_SUFFIXES:
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}"
    return folder / stem if (folder / stem).is_dir() else None


def find_qrels(folder: Path, split: str) -> Path | list[Path] | None:
    """A split's qrels: qrels/<split>.tsv (or .parquet, .jsonl), a save_to_disk split folder qrels/<split>/, or the
    Hub snapshot's shards named <split>-*.parquet / <split>.parquet (or under <split>/) in qrels/ or default/."""
    for config in ("qrels", "default"):
        base = folder / config
        for suffix in (".tsv", ".txt", *PART_SUFFIXES):
            if (base / f"{split}{suffix}").is_file():
                return base / f"{split}{suffix}"
        if (base / split).is_dir():
            return base / split
        if base.is_dir():
            shards = sorted(p for p in base.iterdir() if p.is_file() and _is_shard(p)
                            and (p.name.startswith(f"{split}-") or p.name.startswith(f"{split}.")))
            if shards:
                return shards
    return None


def _is_shard(path: Path) -> bool:
    """A data file by its name (dataset_info.json, state.json and other metadata are not)."""
    name = path.name.lower()
    return name.endswith(SHARD_SUFFIXES) and name not in {"state.json", "dataset_info.json", "dataset_dict.json"}
