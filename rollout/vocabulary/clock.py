"""Time as the toolkit reasons about it: aware and in UTC.

A moment from a user (``--from 2026-12-01T09:00``) or a library may be naive;
every comparison needs it aware, and naive means UTC here, written once.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive moment is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
