"""`python -m spacekit.cli ARGS` as a process of its own, without paying for its imports each time (about 5 s of the
6 s a small `embed` takes on 2 cores): each is forked from one server (multiprocessing's forkserver) that imported
torch, transformers and the CLI once and ran nothing. Each is still a real process (its own pid, environment,
working folder, files and locks; killable with SIGKILL mid-write), so the crash and concurrency tests mean what
they meant with a cold interpreter; only the import of unchanged code is shared. (tests/test_import_shadowing.py
keeps cold interpreters: what it tests is the import.)"""

from __future__ import annotations

import multiprocessing
import os
import runpy
import signal
import sys
import tempfile
from pathlib import Path

PRELOAD = ["torch", "transformers", "transformers.models.bert.modeling_bert", "safetensors.torch", "tokenizers",
           "spacekit.cli", "spacekit.embed.model", "spacekit.embed.encoder", "spacekit.store"]
_context: list = []


def _server():
    """The forkserver context, started on first use with PRELOAD imported."""
    if not _context:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        _context.append(ctx)
    return _context[0]


def _main(args: list[str], env: dict[str, str], cwd: str, out: str, err: str) -> None:
    """In the forked process: this environment and folder, stdout/stderr to files, then the CLI's __main__; the
    process exits with the CLI's exit code."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    for path, fd in ((out, 1), (err, 2)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    signal.signal(signal.SIGINT, signal.default_int_handler)      # as a fresh interpreter has it
    sys.argv = ["spacekit", *args]
    code: int = 0
    try:
        runpy.run_module("spacekit.cli", run_name="__main__", alter_sys=True)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:                                          # as the interpreter would: a traceback, exit 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


class CliProcess:
    """One `spacekit ARGS` process (Popen's poll / wait / send_signal / returncode; stdout and stderr as text once
    it has ended)."""

    def __init__(self, args: list[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None):
        self._files = tempfile.mkdtemp(prefix="cli-process-")
        self._out, self._err = os.path.join(self._files, "out"), os.path.join(self._files, "err")
        self.process = _server().Process(target=_main, args=([str(a) for a in args], dict(env or os.environ),
                                                             str(cwd or os.getcwd()), self._out, self._err))
        self.process.start()

    @property
    def pid(self) -> int:
        """The process id."""
        return int(self.process.pid)

    @property
    def returncode(self) -> int | None:
        """The exit code (-N for signal N), None while it runs."""
        return self.process.exitcode

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        return self.process.exitcode

    def send_signal(self, sig: int) -> None:
        """Send a signal to the process."""
        os.kill(self.pid, sig)

    def wait(self, timeout: float = 600) -> int:
        """Wait for the end -> the exit code."""
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise TimeoutError(f"spacekit still running after {timeout} s")
        return self.process.exitcode

    @property
    def stdout(self) -> str:
        """What it printed."""
        return Path(self._out).read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        """What it printed to stderr."""
        return Path(self._err).read_text(encoding="utf-8", errors="replace")


def run_cli(args: list[str], *, env: dict[str, str] | None = None, check: bool = False) -> CliProcess:
    """Run `spacekit ARGS` to its end (check: an exit code other than 0 fails with its stderr)."""
    proc = CliProcess(args, env=env)
    code = proc.wait()
    if check and code != 0:
        raise AssertionError(f"spacekit {' '.join(map(str, args))} exited {code}: {proc.stderr[-2000:]}")
    return proc
