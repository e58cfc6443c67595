"""Plan a release over every cohort: the earliest slot each cohort may take, and who is in it.

For each cohort, in order, the slot is the earliest stretch of real time that

* starts after the previous cohort's slot has ended plus the cohort's ``min_gap``;
* starts once every tenant taking part has had its full notice period;
* lies inside the cohort window: the time all its tenants' upgrade windows share,
  each evaluated on the tenant's own wall clock (daylight saving included);
* touches no company freeze.

The cohort window is found greedily: window profiles (a time zone plus windows;
tenants alike share one) are taken largest first, and a profile that would leave
no time long enough for the rollout is left out. Its tenants are not upgraded at
the slot; they follow in a slot of their own. So do tenants that opted out or are
in a busy season at the slot (they stay pinned on the old colour meanwhile). A
tenant that would stay behind longer than ``max_deferral`` is flagged for a human.

Everything here is pure: the same input gives the same plan, with no AWS at all.
Work is done per window profile and per time zone, not per tenant, so planning
grows with the number of tenants only through one cheap pass over them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rollout.model.tenants import Cohort, Tenant, TenantsFile
from rollout.schedule.calendar import FreezeCalendar
from rollout.schedule.pins import (
    busy_calendar,
    busy_during,
    busy_reason,
    opt_out_ends,
    opt_out_reason,
)
from rollout.schedule.plan import (
    CohortPlan,
    Exclusion,
    ExclusionKind,
    LocalSlot,
    PlannedGroup,
    ReleasePlan,
    Slot,
    utc_text,
)
from rollout.schedule.windows import (
    Interval,
    WindowProfile,
    contains,
    intersect,
    local_time,
    profile_intervals,
    subtract,
)
from rollout.vocabulary.clock import as_utc
from rollout.vocabulary.durations import format_span

SEARCH_CHUNK = timedelta(days=7)
CONSENSUS_SPAN = timedelta(days=14)
"""Two weeks hold every weekday twice, so a weekly window shows up whatever the start."""
HORIZON = timedelta(days=730)
"""How far ahead a slot is looked for before the plan gives up and flags it."""


def as_utc_minute(moment: datetime) -> datetime:
    """``moment`` in UTC (naive means UTC), rounded up to a whole minute."""
    moment = as_utc(moment)
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)


def earliest_slot(profiles: Sequence[WindowProfile], not_before: datetime, length: timedelta,
                  calendars: Sequence[FreezeCalendar], horizon: datetime) -> Interval | None:
    """The earliest ``length`` of time inside every profile's windows and no calendar range.

    Scans a week at a time; a stretch blocked by a calendar is jumped over whole.
    """
    cursor = not_before
    active = [c for c in calendars if c]
    while cursor < horizon:
        moved = True
        while moved:
            moved = False
            for calendar in active:
                free = calendar.free_from(cursor)
                moved, cursor = moved or free != cursor, free
        chunk_end = cursor + SEARCH_CHUNK
        common: list[Interval] | None = None
        for profile in profiles:
            found = profile_intervals(profile, cursor, chunk_end)
            common = found if common is None else intersect(common, found)
            if not common:
                break
        if common:
            blocked = sorted(b for c in active
                             for b in c.blocked(common[0].start, common[-1].end))
            for interval in subtract(common, blocked):
                begin = max(interval.start, not_before)
                if interval.end - begin >= length and begin < horizon:
                    return Interval(begin, begin + length)
        cursor = chunk_end
    return None


@dataclass(frozen=True, slots=True)
class _Member:
    tenant: Tenant
    profile: WindowProfile
    notice: timedelta
    ready: datetime
    """When its notice period is complete."""
    opt_out_ends: datetime | None

    def opted_out_at(self, moment: datetime) -> bool:
        return self.opt_out_ends is not None and moment < self.opt_out_ends


class Planner:
    """Plans one release for one tenants file; caches what tenants alike share."""

    def __init__(self, tenants: TenantsFile, start: datetime,
                 notices: Mapping[str, datetime] | None = None) -> None:
        self.tenants = tenants
        self.start = as_utc_minute(start)
        self.notices = notices or {}
        self.freeze = FreezeCalendar(tenants.defaults.freezes, tenants.defaults.timezone)
        self._follow_ups: dict[tuple[object, ...], Interval | None] = {}
        self._profiles: dict[tuple[str, tuple[object, ...] | None], WindowProfile] = {}

    def plan(self, release: str) -> ReleasePlan:
        members: dict[str, list[_Member]] = {c.name: [] for c in self.tenants.cohorts}
        for tenant in self.tenants.tenants:
            members[tenant.cohort].append(self._member(tenant))
        cohorts: list[CohortPlan] = []
        previous: CohortPlan | None = None
        for cohort in self.tenants.ordered_cohorts():
            planned = self._cohort(cohort, members[cohort.name], previous)
            cohorts.append(planned)
            previous = planned
        return ReleasePlan(release=release, planned_from=self.start, cohorts=cohorts)

    def _member(self, tenant: Tenant) -> _Member:
        key = (tenant.timezone, tuple(tenant.windows) if tenant.windows else None)
        profile = self._profiles.get(key)
        if profile is None:
            profile = self._profiles[key] = WindowProfile(tenant.timezone,
                                                          self.tenants.windows_of(tenant))
        sent = self.notices.get(tenant.id)
        start = self.start if sent is None else as_utc_minute(sent)
        notice = self.tenants.notice_of(tenant)
        return _Member(tenant, profile, notice, start + notice, opt_out_ends(tenant))

    def _cohort(self, cohort: Cohort, members: list[_Member],
                previous: CohortPlan | None) -> CohortPlan:
        def result(slot: Slot | None, delays: list[str], included: list[PlannedGroup],
                   excluded: list[Exclusion], problem: str | None = None) -> CohortPlan:
            return CohortPlan(cohort=cohort.name, order=cohort.order, stack=cohort.stack_name,
                              strategy=cohort.strategy, slot=slot, delays=delays,
                              included=included, excluded=excluded, problem=problem)

        if previous is not None and previous.slot is None:
            return result(None, [], [], [],
                          f"waits for cohort {previous.cohort}, which has no slot")
        not_before, delays = self._after_previous(cohort, previous)
        candidates = [m for m in members if not m.opted_out_at(not_before)]
        if candidates:
            latest = max(candidates, key=lambda m: m.ready)
            if latest.ready > not_before:
                not_before = latest.ready
                delays.append(f"notice period: {latest.tenant.id} needs "
                              f"{latest.notice.days} days of notice, "
                              f"complete at {utc_text(latest.ready)}")
        length = cohort.slot_length
        core, left_out = self._consensus(candidates, not_before, length)
        if not core:
            return result(None, delays, [], [],
                          f"no upgrade window of its tenants is {format_span(length)} long, "
                          "as its rollout needs; widen the windows or shorten the strategy")
        found = earliest_slot(core, not_before, length, [self.freeze], not_before + HORIZON)
        if found is None:
            return result(None, delays, [], [],
                          f"no slot inside its window within {HORIZON.days} days of "
                          f"{utc_text(not_before)}")
        delays.extend(self._freeze_delays(not_before, found.start))
        if found.start > not_before:
            profiles = f"{len(core)} window profile{'s' if len(core) > 1 else ''}"
            delays.append(f"waits for the cohort window (the time the upgrade windows of its "
                          f"tenants share, {profiles}): first free at {utc_text(found.start)}")
        slot = Slot(start=found.start, end=found.end)
        groups: dict[tuple[str, timedelta], list[str]] = {}
        excluded: list[Exclusion] = []
        inside: dict[WindowProfile, bool] = {}
        apart = set(left_out)
        for member in members:
            exclusion = self._exclusion(member, found, inside, apart)
            if exclusion is None:
                groups.setdefault((member.tenant.timezone, member.notice), []).append(
                    member.tenant.id)
            else:
                excluded.append(self._follow(member, exclusion, found, length))
        included = [PlannedGroup(local=_local(found, zone_name), notice_by=found.start - notice,
                                 tenants=ids)
                    for (zone_name, notice), ids in groups.items()]
        return result(slot, delays, included, excluded)

    def _after_previous(self, cohort: Cohort, previous: CohortPlan | None,
                        ) -> tuple[datetime, list[str]]:
        """The earliest start the previous cohort's slot and the minimum gap leave, and why."""
        slot = previous.slot if previous is not None else None
        if previous is None or slot is None or slot.end + cohort.min_gap <= self.start:
            return self.start, []
        return slot.end + cohort.min_gap, [
            f"waits for {previous.cohort} to finish at {utc_text(slot.end)} plus a minimum "
            f"gap of {format_span(cohort.min_gap)}"]

    def _consensus(self, candidates: list[_Member], not_before: datetime,
                   length: timedelta) -> tuple[list[WindowProfile], list[WindowProfile]]:
        """The profiles that share enough time, largest first; and those left out."""
        counts: dict[WindowProfile, int] = {}
        for member in candidates:
            counts[member.profile] = counts.get(member.profile, 0) + 1
        if not counts:
            fallback = WindowProfile(self.tenants.defaults.timezone,
                                     tuple(self.tenants.defaults.windows))
            counts[fallback] = 0
        ordered = sorted(counts, key=lambda p: -counts[p])
        span_end = not_before + CONSENSUS_SPAN
        common: list[Interval] | None = None
        core: list[WindowProfile] = []
        left_out: list[WindowProfile] = []
        for profile in ordered:
            found = profile_intervals(profile, not_before, span_end)
            candidate = found if common is None else intersect(common, found)
            if any(i.length >= length for i in candidate):
                common = candidate
                core.append(profile)
            else:
                left_out.append(profile)
        return core, left_out

    def _freeze_delays(self, not_before: datetime, slot_start: datetime) -> list[str]:
        return [f"company freeze {day_range} in {self.freeze.zone_name}, until "
                f"{utc_text(interval.end)}"
                for interval, day_range in self.freeze.occurrences(not_before, slot_start)]

    def _exclusion(self, member: _Member, slot: Interval, inside: dict[WindowProfile, bool],
                   left_out: set[WindowProfile]) -> Exclusion | None:
        tenant = member.tenant
        if tenant.opt_out is not None and member.opted_out_at(slot.start):
            return Exclusion(tenant=tenant.id, kind=ExclusionKind.OPTED_OUT,
                             reason=opt_out_reason(tenant.opt_out))
        season = busy_during(tenant, slot.start, slot.end)
        if season is not None:
            return Exclusion(tenant=tenant.id, kind=ExclusionKind.BUSY_SEASON,
                             reason=busy_reason(season, tenant))
        if member.profile not in inside:
            inside[member.profile] = contains(member.profile, slot.start, slot.end)
        if not inside[member.profile]:
            why = ("share no time with the cohort window" if member.profile in left_out
                   else "do not cover the cohort's slot")
            return Exclusion(tenant=tenant.id, kind=ExclusionKind.NO_WINDOW,
                             reason=f"its windows {member.profile.label()} {why}")
        if member.ready > slot.start:
            return Exclusion(tenant=tenant.id, kind=ExclusionKind.NOTICE,
                             reason=f"its {member.notice.days}-day notice "
                                    f"period ends {utc_text(member.ready)}, after the slot")
        return None

    def _follow(self, member: _Member, exclusion: Exclusion, slot: Interval,
                length: timedelta) -> Exclusion:
        """Add the tenant's own later slot, and a flag if it comes too late or never."""
        tenant = member.tenant
        resume = max(slot.end, member.ready, member.opt_out_ends or slot.end)
        key = (member.profile, resume, length, tuple(tenant.busy_seasons))
        if key not in self._follow_ups:
            calendars = [self.freeze, busy_calendar(tenant)]
            self._follow_ups[key] = earliest_slot([member.profile], resume, length, calendars,
                                                  resume + HORIZON)
        follow = self._follow_ups[key]
        max_deferral = self.tenants.defaults.max_deferral
        if follow is None:
            return exclusion.model_copy(update={
                "flag": f"no slot in its own windows within {HORIZON.days} days: "
                        "agree a window with the customer"})
        flag = None
        if follow.start - slot.start > max_deferral:
            behind = (follow.start - slot.start).days
            flag = (f"stays {behind} days behind its cohort, more than the maximum deferral "
                    f"of {format_span(max_deferral)}: agree a date with the customer")
        return exclusion.model_copy(update={
            "follow_up": Slot(start=follow.start, end=follow.end),
            "follow_up_local": _local(follow, tenant.timezone), "flag": flag})


def _local(interval: Interval, zone_name: str) -> LocalSlot:
    return LocalSlot(timezone=zone_name, start=local_time(interval.start, zone_name),
                     end=local_time(interval.end, zone_name))


def plan_release(tenants: TenantsFile, release: str, start: datetime,
                 notices: Mapping[str, datetime] | None = None) -> ReleasePlan:
    """Plan ``release`` from ``start``.

    ``notices`` maps tenant ids to when their notice went out; a tenant without
    one is assumed to get it at ``start``.
    """
    return Planner(tenants, start, notices).plan(release)
