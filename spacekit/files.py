"""File helpers every writer shares: a sha256 over files, and atomic writes (a unique temp file, then rename)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def file_digest(*paths: str | Path) -> str:
    """sha256 hex digest over the bytes of the files, in order."""
    h, buffer = hashlib.sha256(), bytearray(1 << 20)                     # one reused 1 MiB buffer
    view = memoryview(buffer)
    for path in paths:
        with open(path, "rb") as f:
            while size := f.readinto(buffer):
                h.update(view[:size])
    return h.hexdigest()


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """A file that appears at `path` only once the block ends without an error (flushed, fsynced, renamed over
    any old file); the temp file beside it has a unique name, is created exclusively, and is removed on error."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):                  # mkstemp makes it 0600: give it the mode open() would
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _crash_test_hook()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@functools.cache
def _umask() -> int:
    """The process's umask (read once: setting it back at once leaves it as it was)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write bytes or text (UTF-8) to `path` atomically."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


_RENAMES = [0]


def _crash_test_hook() -> None:
    """SPACEKIT_TEST_KILL_BEFORE_RENAME=N (for the crash tests only): SIGKILL this process just before its Nth
    atomic rename, the temp file written and synced, its name not yet taken."""
    target = os.environ.get("SPACEKIT_TEST_KILL_BEFORE_RENAME")
    if target:
        _RENAMES[0] += 1
        if _RENAMES[0] == int(target):
            os.kill(os.getpid(), signal.SIGKILL)


def safe_file_name(name: str) -> str:
    """A data name (a task, a model) as one safe path component: runs of other characters become '_'."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "unnamed"
