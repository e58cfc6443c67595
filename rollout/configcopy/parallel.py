"""Run many independent AWS calls at once, a bounded number at a time.

Throughput against a remote API is bounded by round trips, not by work, so the
copy keeps a fixed number of calls in flight (each one a thread blocked on the
network). Throttling is botocore's job (``adaptive`` retry mode), never a loop
here. The first failure stops the run: calls not yet started are cancelled,
calls in flight finish, and :class:`StoppedEarly` says how far it got.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_WORKERS = 16

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` after every finished item."""


class _Skipped(Exception):
    """An item not started because an earlier one failed."""


class StoppedEarly(Exception):
    """A call failed; ``completed`` items had finished by then (the failed one excluded)."""

    def __init__(self, stage: str, completed: int, total: int, cause: BaseException) -> None:
        super().__init__(f"{stage}: stopped after {completed} of {total}")
        self.stage = stage
        self.completed = completed
        self.total = total
        self.cause = cause


class Parallel:
    """A bounded pool shared by every stage of one copy."""

    def __init__(self, workers: int = DEFAULT_WORKERS, progress: Progress | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._workers = workers
        self._progress = progress

    def map(self, stage: str, call: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``call`` on every item, results in input order."""
        total = len(items)
        if total == 0:
            return []
        stop = threading.Event()

        def guarded(item: T) -> R:
            if stop.is_set():
                raise _Skipped
            try:
                return call(item)
            except BaseException:
                stop.set()
                raise

        results: list[R | None] = [None] * total
        done = 0
        failure: BaseException | None = None
        with ThreadPoolExecutor(max_workers=min(self._workers, total),
                                thread_name_prefix=f"configcopy-{stage}") as pool:
            futures: dict[Future[R], int] = {pool.submit(guarded, item): index
                                             for index, item in enumerate(items)}
            pending: set[Future[R]] = set(futures)
            while pending:
                finished, pending = wait(
                    pending, return_when=ALL_COMPLETED if stop.is_set() else FIRST_COMPLETED)
                for future in finished:
                    error = None if future.cancelled() else future.exception()
                    if future.cancelled() or isinstance(error, _Skipped):
                        continue
                    if error is not None:
                        failure = failure or error
                        continue
                    results[futures[future]] = future.result()
                    done += 1
                if stop.is_set():
                    for future in pending:
                        future.cancel()
                elif self._progress is not None:
                    self._progress(stage, done, total)
        if failure is not None:
            raise StoppedEarly(stage, done, total, failure)
        return cast(list[R], results)
