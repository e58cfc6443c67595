"""Recurring yearly date ranges (company freezes, busy seasons) as real time.

A range covers whole days on the wall calendar of its time zone: a freeze from
``Dec 01`` to ``Feb 28`` in Europe/Berlin starts at Berlin midnight on December 1
and ends at Berlin midnight when March 1 begins, every year.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from rollout.model.tenants import DayRange
from rollout.schedule.windows import Interval, wall_to_utc, zone

INSTANT = timedelta(microseconds=1)


class FreezeCalendar:
    """Date ranges that repeat every year, in one time zone, as UTC intervals."""

    def __init__(self, ranges: Sequence[DayRange], zone_name: str) -> None:
        self.ranges = tuple(ranges)
        self.zone_name = zone_name
        self._years: dict[int, list[tuple[Interval, DayRange]]] = {}

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def _year(self, year: int) -> list[tuple[Interval, DayRange]]:
        """The occurrences that start in ``year``."""
        if year not in self._years:
            tz = zone(self.zone_name)
            found = []
            for day_range in self.ranges:
                first, after = day_range.dates(year)
                found.append((Interval(wall_to_utc(datetime.combine(first, time()), tz),
                                       wall_to_utc(datetime.combine(after, time()), tz)),
                              day_range))
            self._years[year] = found
        return self._years[year]

    def occurrences(self, start: datetime, end: datetime) -> list[tuple[Interval, DayRange]]:
        """Every occurrence overlapping ``[start, end)``, earliest first."""
        if not self.ranges:
            return []
        found = [
            (interval, day_range)
            for year in range(start.year - 1, end.year + 1)
            for interval, day_range in self._year(year)
            if interval.overlaps(start, end)
        ]
        return sorted(found, key=lambda pair: pair[0])

    def blocked(self, start: datetime, end: datetime) -> list[Interval]:
        """The blocked time overlapping ``[start, end)``, merged and sorted."""
        merged: list[Interval] = []
        for interval, _ in self.occurrences(start, end):
            if merged and interval.start <= merged[-1].end:
                merged[-1] = Interval(merged[-1].start, max(merged[-1].end, interval.end))
            else:
                merged.append(interval)
        return merged

    def touching(self, start: datetime, end: datetime) -> tuple[Interval, DayRange] | None:
        """The first occurrence that ``[start, end)`` touches, if any."""
        found = self.occurrences(start, end)
        return found[0] if found else None

    def free_from(self, moment: datetime) -> datetime:
        """``moment``, or the end of the blocked stretch it falls in."""
        while True:
            hit = self.touching(moment, moment + INSTANT)
            if hit is None:
                return moment
            moment = hit[0].end
