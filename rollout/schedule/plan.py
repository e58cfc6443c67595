"""The rollout plan: when each cohort goes, who goes with it, and why anyone does not.

Plain data, printed by ``rollout plan`` (as a table or ``--json``) and used to
tell each tenant its timeframe. Every exclusion and every delay carries a reason
a customer-facing engineer can read out loud.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from rollout.vocabulary.clock import as_utc


def utc_text(moment: datetime) -> str:
    """A moment as people read it in reasons: ``2026-03-07 01:00 UTC``."""
    return f"{as_utc(moment):%Y-%m-%d %H:%M} UTC"


class Slot(BaseModel):
    """A stretch of real time, in UTC."""

    start: datetime
    end: datetime

    def describe(self) -> str:
        start, end = as_utc(self.start), as_utc(self.end)
        until = f"{end:%H:%M}" if start.date() == end.date() else f"{end:%Y-%m-%d %H:%M}"
        return f"{start:%Y-%m-%d %H:%M}-{until} UTC"


class LocalSlot(BaseModel):
    """A slot as the tenant's wall clock shows it (times carry their UTC offset)."""

    timezone: str
    start: datetime
    end: datetime

    def describe(self) -> str:
        same_day = self.start.date() == self.end.date()
        end = self.end.strftime("%H:%M") if same_day else self.end.strftime("%a %Y-%m-%d %H:%M")
        return f"{self.start:%a %Y-%m-%d %H:%M}-{end} {self.timezone}"


class PlannedGroup(BaseModel):
    """Tenants upgraded in their cohort's slot that share a time zone and a notice period.

    Grouped because a cohort of thousands has only a handful of distinct local
    times; the plan stays readable and small.
    """

    local: LocalSlot
    notice_by: datetime
    """The last moment their notice can go out for this slot to stand."""
    tenants: list[str]


class ExclusionKind(StrEnum):
    OPTED_OUT = "opted-out"
    BUSY_SEASON = "busy-season"
    NO_WINDOW = "no-window-overlap"
    NOTICE = "notice-period"


class Exclusion(BaseModel):
    """A tenant left on the old colour at its cohort's slot, and when it follows."""

    tenant: str
    kind: ExclusionKind
    reason: str
    follow_up: Slot | None = None
    follow_up_local: LocalSlot | None = None
    flag: str | None = None
    """Set when a human must decide: deferred too long, or no slot found at all."""


class CohortPlan(BaseModel):
    """One cohort's slot, who is in it, who is not, and what pushed it later."""

    cohort: str
    order: int
    stack: str
    strategy: str
    slot: Slot | None
    delays: list[str]
    included: list[PlannedGroup]
    excluded: list[Exclusion]
    problem: str | None = None

    def included_tenants(self) -> list[str]:
        return [tenant for group in self.included for tenant in group.tenants]


class Timeframe(BaseModel):
    """When one tenant is upgraded, for its notice."""

    tenant: str
    cohort: str
    slot: Slot | None
    local: LocalSlot | None
    note: str | None = None


class ReleasePlan(BaseModel):
    """The schedule of one release over every cohort."""

    release: str
    planned_from: datetime
    cohorts: list[CohortPlan]

    def flags(self) -> list[str]:
        """Everything a human must decide before this plan can run as written."""
        found: list[str] = []
        for cohort in self.cohorts:
            if cohort.problem:
                found.append(f"{cohort.cohort}: {cohort.problem}")
            found.extend(f"{cohort.cohort}/{e.tenant}: {e.flag}"
                         for e in cohort.excluded if e.flag)
        return found

    def timeframes(self) -> dict[str, Timeframe]:
        """Each tenant's upgrade: its cohort's slot, or its follow-up slot and why."""
        found: dict[str, Timeframe] = {}
        for cohort in self.cohorts:
            for group in cohort.included:
                for tenant in group.tenants:
                    found[tenant] = Timeframe(tenant=tenant, cohort=cohort.cohort,
                                              slot=cohort.slot, local=group.local)
            for excluded in cohort.excluded:
                found[excluded.tenant] = Timeframe(
                    tenant=excluded.tenant, cohort=cohort.cohort, slot=excluded.follow_up,
                    local=excluded.follow_up_local, note=excluded.reason)
        return found
