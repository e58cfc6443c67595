"""Upgrade windows as real (UTC) time: wall clocks, time zones and daylight saving.

A window like ``Sun 02:00-06:00`` in Europe/Berlin means "while the tenant's
wall clock shows a time from 02:00 to 06:00". On the last Sunday of March the
clock jumps from 02:00 to 03:00, so that window is three real hours long, from
01:00 to 04:00 UTC. Converting wall times with :func:`wall_to_utc` gives exactly
that, and intervals in UTC can then be intersected across tenants whatever their
time zones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from rollout.model.tenants import Window
from rollout.vocabulary.clock import as_utc

ONE_DAY = timedelta(days=1)
ONE_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """A half-open stretch of real time, ``[start, end)``, in UTC."""

    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end


@dataclass(frozen=True, slots=True, eq=False)
class WindowProfile:
    """Windows in one time zone: tenants sharing a profile share every window computation.

    Its hash is computed once, since planning looks profiles up once per tenant.
    """

    zone: str
    windows: tuple[Window, ...]
    _hash: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.zone, self.windows)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WindowProfile):
            return NotImplemented
        return self is other or (self._hash == other._hash and self.zone == other.zone
                                 and self.windows == other.windows)

    def label(self) -> str:
        return f"{', '.join(str(w) for w in self.windows)} ({self.zone})"


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def wall_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """The first instant the wall clock in ``tz`` shows ``local`` (naive), in UTC.

    A wall time skipped by a spring-forward transition is never shown; it maps to
    the transition itself, the first instant after the skipped hour. A repeated
    (autumn) wall time maps to its first occurrence.
    """
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == local:
        return first
    second = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = min(first, second), max(first, second)
    after = high.astimezone(tz).utcoffset()
    below, above = 0, (high - low) // ONE_MINUTE
    while above - below > 1:
        middle = (below + above) // 2
        if (low + middle * ONE_MINUTE).astimezone(tz).utcoffset() == after:
            above = middle
        else:
            below = middle
    return low + above * ONE_MINUTE


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for interval in sorted(intervals):
        if interval.end <= interval.start:
            continue
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return merged


@lru_cache(maxsize=65536)
def day_intervals(profile: WindowProfile, day: date) -> tuple[Interval, ...]:
    """The real time a profile's windows cover on one local date."""
    tz = zone(profile.zone)
    midnight = datetime.combine(day, time())
    found = [
        Interval(wall_to_utc(midnight + timedelta(minutes=w.start), tz),
                 wall_to_utc(midnight + timedelta(minutes=w.end), tz))
        for w in profile.windows if day.weekday() in w.days
    ]
    return tuple(_merge(found))


def profile_intervals(profile: WindowProfile, first: datetime, last: datetime) -> list[Interval]:
    """Every window interval of ``profile`` that overlaps ``[first, last)``, unclipped."""
    day = as_utc(first).date() - ONE_DAY
    final = as_utc(last).date() + ONE_DAY
    found: list[Interval] = []
    while day <= final:
        found.extend(i for i in day_intervals(profile, day) if i.overlaps(first, last))
        day += ONE_DAY
    return _merge(found)


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The time covered by both sorted, disjoint interval lists."""
    result: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i].start, b[j].start)
        end = min(a[i].end, b[j].end)
        if start < end:
            result.append(Interval(start, end))
        if a[i].end < b[j].end:
            i += 1
        else:
            j += 1
    return result


def subtract(intervals: Sequence[Interval], blocked: Sequence[Interval]) -> list[Interval]:
    """``intervals`` minus every blocked stretch (both sorted)."""
    result: list[Interval] = []
    for interval in intervals:
        start = interval.start
        for block in blocked:
            if block.end <= start or block.start >= interval.end:
                continue
            if block.start > start:
                result.append(Interval(start, block.start))
            start = max(start, block.end)
        if start < interval.end:
            result.append(Interval(start, interval.end))
    return result


def contains(profile: WindowProfile, start: datetime, end: datetime) -> bool:
    """Whether ``[start, end)`` lies inside one window of ``profile``."""
    return any(i.start <= start and end <= i.end
               for i in profile_intervals(profile, start, end))


def local_time(moment: datetime, zone_name: str) -> datetime:
    """``moment`` (naive means UTC) on the wall clock of ``zone_name``, with its offset."""
    return as_utc(moment).astimezone(zone(zone_name))
