"""One thing done every few milliseconds in a daemon thread until stopped: what the
listener watcher (reading moto) and the metrics flusher (writing CloudWatch) share."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Repeating:
    """Calls ``work`` every ``every`` seconds between :meth:`start` and :meth:`stop`.

    A failing call does not end the loop (AWS, even a local stand-in, fails now and then):
    its error is kept in :attr:`last_error` until a later call succeeds.
    """

    def __init__(self, name: str, every: float, work: Callable[[], object]) -> None:
        self._name = name
        self._every = every
        self._work = work
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: Exception | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._work()
                self.last_error = None
            except Exception as exc:
                self.last_error = exc
