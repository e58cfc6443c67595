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
Work is done once per kind of tenant (alike in time zone, windows, busy seasons,
opt-out and notice), not per tenant: planning grows with the number of tenants only
through two cheap passes, one sorting them into kinds and one listing their ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rollout.model.tenants import Cohort, Tenant, TenantsFile, Window, collector_paused
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


@dataclass(slots=True, eq=False)
class _Alike:
    """Tenants of one cohort the plan cannot tell apart, planned once for all of them.

    Alike means the same time zone, windows, busy seasons, opt-out and notice (due
    at the same moment): every step of the plan reads only those, so the first of
    them (in file order) stands for all, and only their ids differ in the plan.
    """

    tenant: Tenant
    """The first of them in file order: delays name it, as they name the first tenant."""
    profile: WindowProfile
    notice: timedelta
    ready: datetime
    """When its notice period is complete."""
    opt_out_ends: datetime | None
    count: int = 0
    included: list[str] | None = None
    """Where the ids go once the slot is set: the group they are upgraded with, or
    ``None`` if they stay behind as ``excluded`` says."""
    excluded: Exclusion | None = None

    def opted_out_at(self, moment: datetime) -> bool:
        return self.opt_out_ends is not None and moment < self.opt_out_ends

    def exclusion_of(self, tenant_id: str) -> Exclusion:
        assert self.excluded is not None
        if tenant_id == self.excluded.tenant:
            return self.excluded
        return self.excluded.model_copy(update={"tenant": tenant_id})


@dataclass(slots=True)
class _Members:
    """A cohort's tenants in file order, each with the alike tenants it plans with."""

    ids: list[str] = field(default_factory=list)
    alike: list[_Alike] = field(default_factory=list)
    distinct: list[_Alike] = field(default_factory=list)
    """Each kind of tenant once, in the order its first tenant appears."""


class Planner:
    """Plans one release for one tenants file; caches what tenants alike share."""

    def __init__(self, tenants: TenantsFile, start: datetime,
                 notices: Mapping[str, datetime] | None = None) -> None:
        self.tenants = tenants
        self.start = as_utc_minute(start)
        self.notices = notices or {}
        self.freeze = FreezeCalendar(tenants.defaults.freezes, tenants.defaults.timezone)
        self._follow_ups: dict[tuple[object, ...], Interval | None] = {}
        self._profiles: dict[tuple[str, tuple[Window, ...]], WindowProfile] = {}

    def plan(self, release: str) -> ReleasePlan:
        members = self._members()
        cohorts: list[CohortPlan] = []
        previous: CohortPlan | None = None
        for cohort in self.tenants.ordered_cohorts():
            planned = self._cohort(cohort, members[cohort.name], previous)
            cohorts.append(planned)
            previous = planned
        return ReleasePlan(release=release, planned_from=self.start, cohorts=cohorts)

    def _members(self) -> dict[str, _Members]:
        """Every cohort's tenants, sorted into alike ones in one pass over the file.

        Tenants are told apart first by the identity of what they hold, which is cheap
        (tenants that write the same windows share one tuple of them, and those without
        windows or seasons of their own the empty tuple), and by value only once per
        distinct identity. The tenants file keeps every such object alive meanwhile,
        so no identity is reused.
        """
        members = {c.name: _Members() for c in self.tenants.cohorts}
        by_identity: dict[tuple[object, ...], _Alike] = {}
        by_value: dict[tuple[object, ...], _Alike] = {}
        notices = self.notices
        for tenant in self.tenants.tenants:
            sent = notices.get(tenant.id) if notices else None
            same = (tenant.cohort, tenant.timezone, id(tenant.windows), id(tenant.busy_seasons),
                    id(tenant.opt_out), tenant.notice_days, sent)
            cohort = members[tenant.cohort]
            alike = by_identity.get(same)
            if alike is None:
                alike = by_identity[same] = self._alike(tenant, sent, by_value, cohort)
            alike.count += 1
            cohort.ids.append(tenant.id)
            cohort.alike.append(alike)
        return members

    def _alike(self, tenant: Tenant, sent: datetime | None,
               by_value: dict[tuple[object, ...], _Alike], cohort: _Members) -> _Alike:
        key = (tenant.cohort, tenant.timezone, tenant.windows, tenant.busy_seasons,
               tenant.opt_out, tenant.notice_days, sent)
        found = by_value.get(key)
        if found is not None:
            return found
        own = (tenant.timezone, tenant.windows)
        profile = self._profiles.get(own)
        if profile is None:
            profile = self._profiles[own] = WindowProfile(tenant.timezone,
                                                          self.tenants.windows_of(tenant))
        start = self.start if sent is None else as_utc_minute(sent)
        notice = self.tenants.notice_of(tenant)
        found = by_value[key] = _Alike(tenant, profile, notice, start + notice,
                                       opt_out_ends(tenant))
        cohort.distinct.append(found)
        return found

    def _cohort(self, cohort: Cohort, members: _Members,
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
        candidates = [a for a in members.distinct if not a.opted_out_at(not_before)]
        if candidates:
            latest = max(candidates, key=lambda a: a.ready)
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
        inside: dict[WindowProfile, bool] = {}
        apart = set(left_out)
        for alike in members.distinct:
            exclusion = self._exclusion(alike, found, inside, apart)
            if exclusion is None:
                alike.included = groups.setdefault((alike.tenant.timezone, alike.notice), [])
            else:
                alike.excluded = self._follow(alike, exclusion, found, length)
        excluded: list[Exclusion] = []
        for tenant_id, alike in zip(members.ids, members.alike, strict=True):
            if alike.included is not None:
                alike.included.append(tenant_id)
            else:
                excluded.append(alike.exclusion_of(tenant_id))
        # Ids of validated tenants: checking a million strings again took a third of a second.
        included = [PlannedGroup.model_construct(local=_local(found, zone_name),
                                                 notice_by=found.start - notice, tenants=ids)
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

    def _consensus(self, candidates: list[_Alike], not_before: datetime,
                   length: timedelta) -> tuple[list[WindowProfile], list[WindowProfile]]:
        """The profiles that share enough time, largest first; and those left out."""
        counts: dict[WindowProfile, int] = {}
        for alike in candidates:
            counts[alike.profile] = counts.get(alike.profile, 0) + alike.count
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

    def _exclusion(self, member: _Alike, slot: Interval, inside: dict[WindowProfile, bool],
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

    def _follow(self, member: _Alike, exclusion: Exclusion, slot: Interval,
                length: timedelta) -> Exclusion:
        """Add the tenant's own later slot, and a flag if it comes too late or never."""
        tenant = member.tenant
        resume = max(slot.end, member.ready, member.opt_out_ends or slot.end)
        key = (member.profile, resume, length, tenant.busy_seasons)
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
    one is assumed to get it at ``start``. Planned with the cycle collector paused,
    as the tenants were validated: planning makes no cyclic garbage either.
    """
    with collector_paused():
        return Planner(tenants, start, notices).plan(release)
