"""A rich progress bar (items/s) on stderr when it is a terminal; silent otherwise."""

from __future__ import annotations

import sys
import time


class progress_bar:
    """A rich progress bar (items/s) on stderr when it is a terminal; silent otherwise."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled and sys.stderr.isatty()

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("encoding"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"),
                            TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task("encode", total=self.total, rate="")
        t0 = time.perf_counter()

        def advance(n: int) -> None:
            done = self.bar.tasks[0].completed + n
            self.bar.update(task, advance=n, rate=f"{done / max(1e-9, time.perf_counter() - t0):,.0f} items/s")
        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()
        return False
