"""Progress a person can follow anywhere: a rich bar (items/s) while encoding on a terminal, and for a whole job a
line per stage plus, while a stage runs, a line every INTERVAL seconds with its counts, rate and ETA — plain text,
so a log file gets it too (stderr not a terminal: never minutes of silence). `quiet()` turns all of it off."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator

from spacekit.escape import plain

INTERVAL = 10.0  # seconds between a running stage's lines


class Reporter:
    """One job's progress on stderr: stage lines and a heartbeat thread for long stages."""

    def __init__(self) -> None:
        self.quiet = False
        self.stage_name: str | None = None
        self.done = self.total = 0
        self.started = self.counted = self.last_line = 0.0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.timings: list[tuple[str, float, float]] = []   # (stage, seconds, of which encoding) per stage run
        self.encoding = 0.0
        self.detail: Callable[[], str] | None = None        # more for the running stage's lines (workers alive)

    @contextlib.contextmanager
    def stage(self, name: str, announce: bool = True) -> Iterator[None]:
        """Announce a stage; while it runs, a line every INTERVAL s; the stage before it resumes after. A stage not
        announced (reading the inputs: a bad one must end in one line) is only timed."""
        outer, outer_started, outer_encoding = self.stage_name, self.started, self.encoding
        with self._lock:
            self.stage_name, self.done, self.total = (name if announce else None), 0, 0
            self.started, self.encoding = time.perf_counter(), 0.0
        if announce:
            self._line(name)
            self._ensure_thread()
        try:
            yield
        finally:
            seconds, encoding = time.perf_counter() - self.started, self.encoding
            if outer is None:
                self.timings.append((name, seconds, encoding))
            with self._lock:
                self.stage_name, self.done, self.total = outer, 0, 0
                self.started, self.encoding = outer_started, outer_encoding + encoding

    def encoded(self, seconds: float) -> None:
        """Time the current stage spent in the encoder."""
        with self._lock:
            self.encoding += seconds

    def profile(self) -> list[tuple[str, float, float, float]]:
        """(stage, seconds, share of the whole, seconds encoding) for the outermost stages run so far."""
        total = sum(s for _, s, _ in self.timings) or 1.0
        return [(name, s, s / total, enc) for name, s, enc in self.timings]

    def count(self, total: int) -> None:
        """The current stage now works through `total` items (texts to encode)."""
        with self._lock:
            self.done, self.total, self.counted = 0, total, time.perf_counter()

    def advance(self, n: int) -> None:
        """n more items done."""
        with self._lock:
            self.done += n

    def more(self, n: int) -> None:
        """n more items to do in the current stage (fewer when negative: a job that finds some already done)."""
        with self._lock:
            if not self.total:
                self.counted = time.perf_counter()
            self.total += n

    @contextlib.contextmanager
    def showing(self, detail: Callable[[], str]) -> Iterator[None]:
        """The running stage's lines end with detail() meanwhile."""
        self.detail = detail
        try:
            yield
        finally:
            self.detail = None

    def _line(self, text: str) -> None:
        if self.quiet:
            return
        print(f"[{time.strftime('%H:%M:%S')}] {plain(text)}", file=sys.stderr, flush=True)
        self.last_line = time.perf_counter()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._beat, name="spacekit-progress", daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        while True:
            time.sleep(0.5)
            with self._lock:
                name, done, total, counted = self.stage_name, self.done, self.total, self.counted
            if name is None or time.perf_counter() - self.last_line < INTERVAL:
                continue
            elapsed = time.perf_counter() - self.started
            detail = self.detail                                  # read once: the job may end meanwhile
            extra = f"; {detail()}" if detail is not None else ""
            if total:
                rate = done / max(1e-9, time.perf_counter() - counted)
                eta = f", ETA {(total - done) / rate:,.0f} s" if rate > 0 else ""
                self._line(f"{name}: {done:,}/{total:,} texts, {rate:,.0f}/s{eta} ({elapsed:,.0f} s in stage{extra})")
            else:
                self._line(f"{name}: {elapsed:,.0f} s in stage{extra}")


REPORTER = Reporter()


def stage(name: str, announce: bool = True) -> contextlib.AbstractContextManager[None]:
    """REPORTER.stage(name, announce)."""
    return REPORTER.stage(name, announce)


def quiet(value: bool = True) -> None:
    """Turn every progress line and bar off (--quiet) or on."""
    REPORTER.quiet = value


@contextlib.contextmanager
def quieted(value: bool = True) -> Iterator[None]:
    """Progress lines off (or on) for the block, as they were afterwards (a --quiet command leaves the process as
    it found it)."""
    before = REPORTER.quiet
    REPORTER.quiet = value
    try:
        yield
    finally:
        REPORTER.quiet = before


def _counted(n: int, kept: bool = False) -> None:
    """n items done: encoded now, or kept (found already done: the stage has n fewer to do)."""
    if kept:
        REPORTER.more(-n)
    else:
        REPORTER.advance(n)


class progress_bar:
    """Encoding progress: a rich bar (items/s, and the stage's detail such as workers alive) on stderr when it is a
    terminal, and the job's counts (its heartbeat lines) either way. Entering gives advance(n, kept=False)."""

    def __init__(self, total: int, enabled: bool):
        self.total = total
        self.enabled = enabled and not REPORTER.quiet and sys.stderr.isatty()

    def __enter__(self):
        REPORTER.count(self.total)
        if not self.enabled:
            return _counted
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("encoding"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"),
                            TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task("encode", total=self.total, rate="")
        t0, encoded = time.perf_counter(), [0]

        def advance(n: int, kept: bool = False) -> None:
            _counted(n, kept)
            encoded[0] += 0 if kept else n
            shown = REPORTER.detail
            detail = f", {shown()}" if shown is not None else ""
            self.bar.update(task, advance=n,
                            rate=f"{encoded[0] / max(1e-9, time.perf_counter() - t0):,.0f} items/s{detail}")
        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()
        return False
