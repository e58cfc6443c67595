"""Upgrade windows and yearly ranges as real time: time zones, daylight saving, wrapping years."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from rollout.model.tenants import DayRange, Window
from rollout.schedule.calendar import FreezeCalendar
from rollout.schedule.windows import (
    Interval,
    WindowProfile,
    day_intervals,
    intersect,
    subtract,
    wall_to_utc,
    zone,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def window(text: str) -> Window:
    return Window.model_validate(text)


@pytest.mark.parametrize(("text", "days", "shown"), [
    ("Sat 02:00-06:00", {5}, "Sat 02:00-06:00"),
    ("Mon-Fri 22:00-24:00", {0, 1, 2, 3, 4}, "Mon,Tue,Wed,Thu,Fri 22:00-24:00"),
    ("Fri-Mon 01:00-02:30", {4, 5, 6, 0}, "Mon,Fri,Sat,Sun 01:00-02:30"),
    ("Sat,Sun 00:00-08:00", {5, 6}, "Sat,Sun 00:00-08:00"),
    ("daily 03:00-04:00", set(range(7)), "daily 03:00-04:00"),
])
def test_windows_read_like_people_write_them(text: str, days: set[int], shown: str) -> None:
    parsed = window(text)
    assert parsed.days == frozenset(days)
    assert str(parsed) == shown


def test_a_skipped_wall_time_maps_to_the_spring_forward_transition() -> None:
    berlin = zone("Europe/Berlin")
    assert wall_to_utc(datetime(2025, 3, 30, 1, 59), berlin) == utc(2025, 3, 30, 0, 59)
    assert wall_to_utc(datetime(2025, 3, 30, 2, 30), berlin) == utc(2025, 3, 30, 1, 0)
    assert wall_to_utc(datetime(2025, 3, 30, 3, 0), berlin) == utc(2025, 3, 30, 1, 0)
    lord_howe = zone("Australia/Lord_Howe")  # a half-hour shift
    assert wall_to_utc(datetime(2025, 10, 5, 2, 15), lord_howe) == utc(2025, 10, 4, 15, 30)


def test_a_repeated_wall_time_maps_to_its_first_occurrence() -> None:
    assert wall_to_utc(datetime(2025, 10, 26, 2, 30), zone("Europe/Berlin")) == \
        utc(2025, 10, 26, 0, 30)


def test_a_berlin_window_is_three_real_hours_on_the_last_sunday_of_march() -> None:
    profile = WindowProfile("Europe/Berlin", (window("Sun 02:00-06:00"),))
    assert day_intervals(profile, date(2025, 3, 23)) == (
        Interval(utc(2025, 3, 23, 1), utc(2025, 3, 23, 5)),)
    assert day_intervals(profile, date(2025, 3, 30)) == (
        Interval(utc(2025, 3, 30, 1), utc(2025, 3, 30, 4)),)
    assert day_intervals(profile, date(2025, 10, 26)) == (
        Interval(utc(2025, 10, 26, 0), utc(2025, 10, 26, 5)),)
    assert day_intervals(profile, date(2025, 3, 29)) == ()


def test_windows_in_different_zones_intersect_in_real_time() -> None:
    new_york = WindowProfile("America/New_York", (window("Sat 00:00-06:00"),))
    oslo = WindowProfile("Europe/Oslo", (window("Sat 06:00-12:00"),))
    day = date(2026, 3, 14)  # New York already on summer time, Oslo not yet
    shared = intersect(day_intervals(new_york, day), day_intervals(oslo, day))
    assert shared == [Interval(utc(2026, 3, 14, 5), utc(2026, 3, 14, 10))]


def test_subtract_cuts_blocked_time_out() -> None:
    spans = [Interval(utc(2026, 1, 1, 0), utc(2026, 1, 1, 10))]
    blocked = [Interval(utc(2026, 1, 1, 2), utc(2026, 1, 1, 3)),
               Interval(utc(2026, 1, 1, 9), utc(2026, 1, 2, 0))]
    assert subtract(spans, blocked) == [Interval(utc(2026, 1, 1, 0), utc(2026, 1, 1, 2)),
                                        Interval(utc(2026, 1, 1, 3), utc(2026, 1, 1, 9))]


def test_a_freeze_wraps_over_new_year_in_its_time_zone() -> None:
    freeze = DayRange.model_validate({"name": "year-end", "from": "Dec 01", "to": "02-28"})
    calendar = FreezeCalendar([freeze], "Europe/Berlin")
    hit = calendar.touching(utc(2026, 1, 15), utc(2026, 1, 15, 1))
    assert hit is not None
    assert hit[0] == Interval(utc(2025, 11, 30, 23), utc(2026, 2, 28, 23))
    assert calendar.touching(utc(2026, 2, 28, 23), utc(2026, 3, 1, 1)) is None
    assert calendar.free_from(utc(2026, 1, 15)) == utc(2026, 2, 28, 23)
    assert calendar.free_from(utc(2026, 3, 5)) == utc(2026, 3, 5)


def test_february_29_falls_on_the_28th_in_other_years() -> None:
    season = DayRange.model_validate({"name": "leap", "from": "02-29", "to": "03-01"})
    assert season.dates(2027) == (date(2027, 2, 28), date(2027, 3, 2))
    assert season.dates(2028) == (date(2028, 2, 29), date(2028, 3, 2))
