"""Time as the toolkit reasons about it: aware and in UTC.

A moment from a user (``--from 2026-12-01T09:00``) or a library may be naive;
every comparison needs it aware, and naive means UTC here, written once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


def utc_now() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive moment is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Clock(Protocol):
    """Where long work reads the time and waits: the system's, or a test's."""

    def now(self) -> datetime:
        """Now, aware, in UTC."""
        ...

    def sleep(self, seconds: float) -> None:
        ...


class SystemClock:
    """The wall clock and ``time.sleep``."""

    def now(self) -> datetime:
        return utc_now()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
