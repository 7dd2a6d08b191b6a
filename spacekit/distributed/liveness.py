"""Workers alive, for the progress line: every few seconds each actor is pinged (its "ping" concurrency group answers
on a thread of its own while a block encodes). An actor that answered its last ping is alive; one that has never
answered yet is starting (loading its model); one whose ping failed (dead) or that answered before but not within
the wait now (hung, restarting) is not alive. A ping still out is not sent again."""

from __future__ import annotations

import threading
import time

PING_INTERVAL = 5.0  # seconds between two counts


class Liveness:
    """Pings the actors it is given on a thread of its own while entered; detail() reads the last count."""

    def __init__(self, ray, interval: float | None = None, wait: float = 3.0):
        self.ray, self.interval, self.wait = ray, interval or PING_INTERVAL, wait
        self.actors: list = []
        self.alive: int | None = None
        self.starting = 0
        self._out: dict[int, object] = {}         # id(actor) -> its ping not answered yet
        self._answered: set[int] = set()          # actors that have answered a ping
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, actors: list) -> None:
        """Count these actors too."""
        with self._lock:
            self.actors += actors

    def remove(self, actors: list) -> None:
        """Stop counting these actors (before they are killed)."""
        with self._lock:
            gone = {id(a) for a in actors}
            self.actors = [a for a in self.actors if id(a) not in gone]
            for key in gone:
                self._out.pop(key, None)

    def detail(self) -> str:
        """'N/M workers alive' (', K starting' while some load their model)."""
        with self._lock:
            total = len(self.actors)
        if self.alive is None:
            return f"{total} workers starting"
        return f"{self.alive}/{total} workers alive" + (f", {self.starting} starting" if self.starting else "")

    def ping(self) -> int:
        """Ping the actors (those without a ping out), wait up to `wait` s for the answers -> how many are alive."""
        with self._lock:
            actors = list(self.actors)
        if not actors:
            return 0
        for a in actors:
            if id(a) not in self._out:
                self._out[id(a)] = a.alive.remote()
        refs = [self._out[id(a)] for a in actors]
        ready = set(self.ray.wait(refs, num_returns=len(refs), timeout=self.wait)[0])
        alive = starting = 0
        for a, ref in zip(actors, refs, strict=True):
            if ref not in ready:
                starting += id(a) not in self._answered
                continue
            self._out.pop(id(a), None)
            try:
                self.ray.get(ref)
            except Exception:  # a dead actor's ping comes back as an error: not alive
                self._answered.discard(id(a))
                continue
            self._answered.add(id(a))
            alive += 1
        self.alive, self.starting = alive, starting
        return alive

    def _loop(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            self.ping()
            self._stop.wait(max(0.0, self.interval - (time.perf_counter() - start)))

    def __enter__(self) -> Liveness:
        self._thread = threading.Thread(target=self._loop, name="spacekit-ray-liveness", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.wait + 1)
