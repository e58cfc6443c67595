"""Properties every plan keeps, checked on generated tenants against independent oracles.

The oracles read the tenants file the way a customer would (local dates and wall
clocks), not through the planner's UTC intervals, so a bug in the conversion
shows up as a broken property.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rollout.model.tenants import DayRange, Tenant, TenantsFile, Window
from rollout.schedule.plan import LocalSlot, ReleasePlan, Slot
from rollout.schedule.planner import plan_release

ZONES = ["UTC", "Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo",
         "Australia/Sydney", "America/Sao_Paulo", "Asia/Kolkata", "Australia/Adelaide"]
DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
STRATEGIES = ["canary:10:30m", "linear:25:15m", "all-at-once", "canary:5:1h"]
EPSILON = timedelta(microseconds=1)

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None)


DAY_MASKS = st.integers(1, 127)
HOURS = st.integers(0, 20)
WINDOW_HOURS = st.integers(2, 10)
DAY_OF_YEAR = st.integers(0, 364)
FREEZE_DAYS = st.integers(0, 90)
BUSY_DAYS = st.integers(0, 60)


@st.composite
def windows(draw: st.DrawFn) -> str:
    mask = draw(DAY_MASKS)
    days = ",".join(name for bit, name in enumerate(DAY_NAMES) if mask & (1 << bit))
    start = draw(HOURS)
    end = min(start + draw(WINDOW_HOURS), 24)
    return f"{days} {start:02d}:00-{end:02d}:00"


@st.composite
def day_ranges(draw: st.DrawFn, name: str, lengths: st.SearchStrategy[int]) -> dict[str, str]:
    first = date(2025, 1, 1) + timedelta(days=draw(DAY_OF_YEAR))
    last = first + timedelta(days=draw(lengths))
    if (last.month, last.day) == (2, 29):
        last -= timedelta(days=1)
    return {"name": name, "from": f"{first:%m-%d}", "to": f"{last:%m-%d}"}


@st.composite
def tenants_files(draw: st.DrawFn) -> TenantsFile:
    cohort_count = draw(st.integers(1, 3))
    cohorts = [{"name": f"c{n}", "order": draw(st.integers(0, 5)) * 10 + n,
                "strategy": draw(st.sampled_from(STRATEGIES)),
                "min_gap": f"{draw(st.integers(0, 72))}h"} for n in range(cohort_count)]
    tenants: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 6))):
        tenant: dict[str, Any] = {
            "id": f"t{index}", "cohort": f"c{draw(st.integers(0, 2)) % cohort_count}",
            "timezone": draw(st.sampled_from(ZONES)),
            "windows": draw(st.lists(windows(), max_size=2)),
            "busy_seasons": draw(st.lists(day_ranges("busy", BUSY_DAYS), max_size=2)),
            "notice_days": draw(st.none() | st.integers(0, 30)),
        }
        if draw(st.booleans()):
            until = date(2025, 6, 1) + timedelta(days=draw(st.integers(0, 400)))
            tenant["opt_out"] = {"until": until, "reason": "asked to wait"}
        tenants.append(tenant)
    return TenantsFile.model_validate({
        "defaults": {"windows": draw(st.lists(windows(), min_size=1, max_size=2)),
                     "freezes": draw(st.lists(day_ranges("freeze", FREEZE_DAYS), max_size=2)),
                     "timezone": draw(st.sampled_from(ZONES)),
                     "notice_days": draw(st.integers(0, 21))},
        "cohorts": cohorts,
        "tenants": tenants,
    })


starts = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31),
                      timezones=st.just(UTC))


def in_range(day: date, day_range: DayRange) -> bool:
    here = (day.month, day.day)
    first = (day_range.first.month, day_range.first.day)
    last = (day_range.last.month, day_range.last.day)
    return first <= here <= last if first <= last else (here >= first or here <= last)


def local_dates(slot: Slot, zone: str) -> list[date]:
    first = slot.start.astimezone(ZoneInfo(zone)).date()
    last = (slot.end - EPSILON).astimezone(ZoneInfo(zone)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def touches(slot: Slot, ranges: list[DayRange], zone: str) -> list[str]:
    return [str(r) for r in ranges for d in local_dates(slot, zone) if in_range(d, r)]


def inside_a_window(slot: Slot, tenant_windows: tuple[Window, ...], zone: str) -> bool:
    """Whether the wall clock shows a time inside some window at every minute of the slot.

    Adjacent windows (08:00-10:00 right after 00:00-08:00) together form one window.
    """
    minute = slot.start
    while minute < slot.end:
        local = minute.astimezone(ZoneInfo(zone))
        of_day = local.hour * 60 + local.minute
        if not any(local.weekday() in w.days and w.start <= of_day < w.end
                   for w in tenant_windows):
            return False
        minute += timedelta(minutes=1)
    return True


def check_tenant_slot(tenants: TenantsFile, tenant: Tenant, slot: Slot,
                      notice_from: datetime) -> None:
    zone = tenant.timezone
    assert not touches(slot, tenants.defaults.freezes, tenants.defaults.timezone), slot
    assert not touches(slot, tenant.busy_seasons, zone), (tenant.id, slot)
    assert inside_a_window(slot, tenants.windows_of(tenant), zone), (tenant.id, slot)
    assert slot.start >= notice_from + tenants.notice_of(tenant), tenant.id
    if tenant.opt_out is not None:
        assert slot.start.astimezone(ZoneInfo(zone)).date() >= tenant.opt_out.until


def check_local(local: LocalSlot, slot: Slot, zone: str) -> None:
    assert local.timezone == zone
    assert local.start == slot.start and local.end == slot.end
    assert local.start.tzinfo is not None and str(local.start.tzinfo) == zone


@PROPERTY_SETTINGS
@given(tenants_files(), starts)
def test_every_slot_keeps_windows_freezes_busy_seasons_notice_and_opt_outs(
        tenants: TenantsFile, start: datetime) -> None:
    plan: ReleasePlan = plan_release(tenants, "1.5.0", start)
    by_id = {t.id: t for t in tenants.tenants}
    planned_from = plan.planned_from
    assert planned_from >= start
    for cohort in plan.cohorts:
        members = [t.id for t in tenants.members(cohort.cohort)]
        if cohort.slot is None:
            assert cohort.problem
            continue
        assert not touches(cohort.slot, tenants.defaults.freezes, tenants.defaults.timezone)
        assert cohort.slot.end - cohort.slot.start == tenants.cohort(cohort.cohort).slot_length
        assert sorted(cohort.included_tenants() + [e.tenant for e in cohort.excluded]) == \
            sorted(members)
        for group in cohort.included:
            for tenant_id in group.tenants:
                tenant = by_id[tenant_id]
                check_tenant_slot(tenants, tenant, cohort.slot, planned_from)
                check_local(group.local, cohort.slot, tenant.timezone)
                assert group.notice_by == cohort.slot.start - tenants.notice_of(tenant)
        for excluded in cohort.excluded:
            assert excluded.reason
            if excluded.follow_up is None:
                assert excluded.flag
                continue
            tenant = by_id[excluded.tenant]
            assert excluded.follow_up.start >= cohort.slot.end
            check_tenant_slot(tenants, tenant, excluded.follow_up, planned_from)
            assert excluded.follow_up_local is not None
            check_local(excluded.follow_up_local, excluded.follow_up, tenant.timezone)
            behind = excluded.follow_up.start - cohort.slot.start
            assert (excluded.flag is not None) == (behind > tenants.defaults.max_deferral)


@PROPERTY_SETTINGS
@given(tenants_files(), starts)
def test_cohorts_go_in_order_separated_by_their_gaps(tenants: TenantsFile,
                                                     start: datetime) -> None:
    plan = plan_release(tenants, "1.5.0", start)
    assert [c.order for c in plan.cohorts] == sorted(c.order for c in tenants.cohorts)
    for previous, current in zip(plan.cohorts, plan.cohorts[1:], strict=False):
        if current.slot is None:
            continue
        assert previous.slot is not None
        gap = tenants.cohort(current.cohort).min_gap
        assert current.slot.start >= previous.slot.end + gap


@PROPERTY_SETTINGS
@given(st.integers(0, 3), st.integers(1, 4), st.sampled_from([30, 60, 90, 120, 180, 240]))
def test_a_berlin_window_on_the_last_sunday_of_march(start_hour: int, hours: int,
                                                      minutes: int) -> None:
    """Clocks jump from 02:00 to 03:00 on 2025-03-30: a window losing that hour is shorter."""
    assume(minutes <= hours * 60)
    end_hour = start_hour + hours
    tenants = TenantsFile.model_validate({
        "defaults": {"windows": [f"Sun {start_hour:02d}:00-{end_hour:02d}:00"],
                     "notice_days": 0},
        "cohorts": [{"name": "c", "order": 1, "strategy": "all-at-once",
                     "duration": f"{minutes}m"}],
        "tenants": [{"id": "berlin", "cohort": "c", "timezone": "Europe/Berlin"}],
    })
    plan = plan_release(tenants, "1.5.0", datetime(2025, 3, 24, tzinfo=UTC))
    slot = plan.cohorts[0].slot
    assert slot is not None
    berlin = ZoneInfo("Europe/Berlin")
    lost = max(0, min(end_hour, 3) - max(start_hour, 2)) * 60
    real_minutes = hours * 60 - lost
    local_start = slot.start.astimezone(berlin)
    if minutes <= real_minutes:
        assert local_start.date() == date(2025, 3, 30)
        assert local_start.hour == (3 if start_hour == 2 else start_hour)
    else:
        assert local_start.date() == date(2025, 4, 6)
        assert local_start.hour == start_hour
    assert slot.end - slot.start == timedelta(minutes=minutes)
    assert inside_a_window(Slot(start=slot.start, end=slot.end),
                           tenants.windows_of(tenants.tenants[0]), "Europe/Berlin")
