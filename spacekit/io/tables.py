"""Row readers for JSONL (also gzipped), CSV, TSV, Parquet and Arrow files, and for dataset folders (save_to_disk,
Parquet shards): (line number, dict) pairs, every error naming file:line (a folder's rows are numbered across its
shards)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from spacekit.errors import InputError

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv",
           ".txt": "tsv", ".parquet": "parquet", ".arrow": "arrow", ".jsonl.gz": "jsonl.gz", ".json.gz": "jsonl.gz"}

FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)  # csv's default (128 KiB) is too small for long documents


def file_format(path: Path) -> str:
    """jsonl | jsonl.gz | csv | tsv | parquet | arrow, from the file name."""
    fmt = FORMATS.get("".join(path.suffixes[-2:]).lower()) or FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown file type {path.suffix!r} (use .jsonl, .jsonl.gz, .csv, .tsv, .parquet, "
                         f".arrow, or a dataset folder)")
    return fmt


def existing_file(path: str | Path) -> Path:
    """The path, checked to be a readable, non-empty file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    return path


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line without its line break) for every non-blank line of a UTF-8 text file (a BOM is
    skipped); text that is not UTF-8 is an InputError naming the file and byte."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            for lineno, line in enumerate(f, start=1):
                if line.strip():
                    yield lineno, line.rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def read_rows(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, row dict) for every data row; header-based for CSV/TSV; a dataset folder's rows
    numbered across its shards."""
    if Path(path).is_dir():
        from spacekit.io.dataset_folders import shard_files

        yield from read_rows_of(shard_files(Path(path)))
        return
    path = existing_file(path)
    fmt = file_format(path)
    if fmt in ("parquet", "arrow"):
        yield from _parquet_rows(path) if fmt == "parquet" else _arrow_rows(path)
        return
    try:
        with _open_text(path, fmt) as f:                                      # a BOM is skipped
            if fmt in ("jsonl", "jsonl.gz"):
                yield from _jsonl_rows(path, f)
            else:
                yield from _delimited_rows(path, f, "," if fmt == "csv" else "\t")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except (OSError, EOFError) as e:                                           # gzip: not gzip, or cut short
        raise InputError(f"{path}: unreadable ({type(e).__name__}: {e})") from None


def read_rows_of(files: list[Path]) -> Iterator[tuple[int, dict]]:
    """The rows of several files (a dataset's shards) as one table, numbered across them (each number also names
    its file and line there when shown); a file's own errors name the file and its line."""
    number = 0
    for file in files:
        for line, row in read_rows(file):
            number += 1
            yield ShardRow(number, file.name, line), row


class ShardRow(int):
    """A row's number across a dataset's shards that, when shown, also names its shard and line there: a message
    `{folder}:{row}` reads `data/train:1234 (data-00001-of-00002.arrow:234)`."""

    where: str

    def __new__(cls, number: int, file: str, line: int) -> ShardRow:
        row = super().__new__(cls, number)
        row.where = f"{file}:{line}"
        return row

    def __format__(self, spec: str) -> str:
        return f"{int(self)} ({self.where})" if not spec else int(self).__format__(spec)

    def __str__(self) -> str:
        return self.__format__("")


def _open_text(path: Path, fmt: str):
    """The file as UTF-8 text (a BOM skipped), through gzip for .jsonl.gz."""
    if fmt == "jsonl.gz":
        import gzip

        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _jsonl_rows(path: Path, f) -> Iterator[tuple[int, dict]]:
    """One JSON object per line; nesting too deep to read and lone surrogate escapes (text no UTF-8 file can
    hold, which tokenizers and writers then fail on) are errors naming the line."""
    for lineno, line in enumerate(f, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            lone = "\\u" in line and _lone_surrogate(row)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{lineno}: malformed JSON ({e.msg})") from None
        except RecursionError:
            raise InputError(f"{path}:{lineno}: JSON nested too deeply to read") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        if lone:
            raise InputError(f"{path}:{lineno}: a \\uD800-\\uDFFF escape that is not half of a pair (not text)")
        yield lineno, row


def _lone_surrogate(value: object) -> bool:
    """Whether a parsed JSON value holds a string with a lone surrogate (it cannot be encoded as UTF-8)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


def _delimited_rows(path: Path, f, delimiter: str) -> Iterator[tuple[int, dict]]:
    previous = csv.field_size_limit(FIELD_LIMIT)                        # csv's limit is global: restored after
    try:
        yield from _csv_rows(path, f, delimiter)
    finally:
        csv.field_size_limit(previous)


def _csv_rows(path: Path, f, delimiter: str) -> Iterator[tuple[int, dict]]:
    """CSV has quoting, checked strictly (a quote never closed is an error at the line that opened it, not a field
    that swallows the rest of the file); TSV has none (a field starting with a quote is text)."""
    reader = csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE,
                        strict=delimiter == ",")
    start = 1                                                           # the line the current record began on
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise InputError(f"{path}:1: missing header row")
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            raise InputError(f"{path}:1: repeated column name in header {header}")
        start = reader.line_num + 1
        for fields in reader:
            lineno, start = start, reader.line_num + 1
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) != len(header):
                raise InputError(
                    f"{path}:{lineno}: expected {len(header)} fields (as the header), got {len(fields)}")
            yield lineno, dict(zip(header, fields, strict=True))
    except csv.Error as e:
        if "unexpected end of data" in str(e):
            raise InputError(f"{path}:{start}: a quoted field opened on this line is never closed") from None
        raise InputError(f"{path}:{reader.line_num}: malformed {delimiter!r}-separated line ({e})") from None


BATCH_ROWS = 65_536     # rows of a Parquet / Arrow file turned into dicts at a time: memory follows the batch


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """A Parquet file's rows, read a batch at a time (a log of any size in bounded memory)."""
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS)
        yield from _numbered(path, batches)
    except InputError:
        raise
    except Exception as e:  # pyarrow raises several types for a broken file
        raise InputError(f"{path}: not a readable Parquet file ({type(e).__name__}: {e})") from None


def _arrow_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """An Arrow IPC file (the stream format save_to_disk writes, or the random-access file format), memory-mapped
    and turned into dicts a batch at a time."""
    import pyarrow as pa

    try:
        with pa.memory_map(str(path)) as source:
            try:
                table = pa.ipc.open_stream(source).read_all()
            except pa.ArrowInvalid:
                source.seek(0)
                table = pa.ipc.open_file(source).read_all()
            yield from _numbered(path, table.to_batches(max_chunksize=BATCH_ROWS))
    except InputError:
        raise
    except Exception as e:  # pyarrow raises several types for a broken file
        raise InputError(f"{path}: not a readable Arrow file ({type(e).__name__}: {e})") from None


def _numbered(path: Path, batches) -> Iterator[tuple[int, dict]]:
    """(row number, dict) over record batches, numbered from 1 across them; binary columns decoded as UTF-8 text
    (Hub datasets ship them), never passed on as bytes."""
    number = 0
    for batch in batches:
        for row in _text_columns(path, batch, number).to_pylist():
            number += 1
            yield number, row


def _text_columns(path: Path, batch, before: int):
    """The batch with its binary columns cast to UTF-8 strings; bytes that are not UTF-8 are an InputError naming
    the row (before: rows in earlier batches) and the column."""
    import pyarrow as pa

    binary = [pa.types.is_binary(c.type) or pa.types.is_large_binary(c.type) for c in batch.schema]
    if not any(binary):
        return batch
    columns = []
    for column, values, is_binary in zip(batch.schema, batch.columns, binary, strict=True):
        if is_binary:
            try:
                values = values.cast(pa.large_string() if pa.types.is_large_binary(column.type) else pa.string())
            except pa.ArrowInvalid:
                bad = next(r for r, v in enumerate(values.to_pylist()) if v is not None and not _utf8(v))
                raise InputError(f"{path}:{before + bad + 1}: column {column.name!r} holds bytes that are not "
                                 f"UTF-8 text") from None
        columns.append(values)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def field(path: Path, lineno: int | str, row: dict, name: str, *, kind: type = str):
    """row[name] converted to `kind`, or an InputError naming file:line and the column."""
    if name not in row or row[name] is None:
        raise InputError(f"{path}:{lineno}: missing field {name!r} (columns: {', '.join(map(str, row))})")
    value = row[name]
    if kind is str:
        if isinstance(value, (dict, list)):
            raise InputError(f"{path}:{lineno}: field {name!r} must be text, got {type(value).__name__}")
        return str(value)
    try:
        out = kind(value)
    except (TypeError, ValueError):
        raise InputError(f"{path}:{lineno}: field {name!r} must be a number, got {value!r}") from None
    if out != out or out in (float("inf"), float("-inf")):
        raise InputError(f"{path}:{lineno}: field {name!r} must be finite, got {value!r}")
    return out
