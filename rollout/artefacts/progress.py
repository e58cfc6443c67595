"""Upload progress: the store reports bytes, a renderer shows them.

The store only knows :class:`UploadProgress`; the CLI passes :class:`RichUploadProgress`,
which draws one bar per file on stderr so ``--json`` output on stdout stays clean.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class UploadProgress(Protocol):
    """Told about each file's upload; ``advanced`` is called from transfer threads."""

    def started(self, name: str, size: int) -> None: ...

    def advanced(self, name: str, amount: int) -> None: ...

    def finished(self, name: str) -> None: ...


class RichUploadProgress:
    """A rich progress bar per file, on ``console`` (stderr in the CLI)."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(), console=console)
        self._tasks: dict[str, TaskID] = {}
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> RichUploadProgress:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._progress.stop()

    def started(self, name: str, size: int) -> None:
        with self._lock:
            self._sizes[name] = size
            self._tasks[name] = self._progress.add_task(f"upload {name}", total=size)

    def advanced(self, name: str, amount: int) -> None:
        self._progress.advance(self._tasks[name], amount)

    def finished(self, name: str) -> None:
        self._progress.update(self._tasks[name], completed=self._sizes[name])
