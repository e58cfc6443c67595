"""Which tenants stay on the old colour at a given moment, and why.

Two things keep a tenant back whatever the plan says: its own opt-out (until a
date on its own calendar) and its busy season. The planner applies them to a
cohort's slot; the engine applies them at ``start`` and pins those tenants to
the old colour so their traffic does not move.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache

from pydantic import BaseModel

from rollout.model.tenants import DayRange, OptOut, Tenant, TenantsFile
from rollout.schedule.calendar import FreezeCalendar
from rollout.schedule.plan import ExclusionKind
from rollout.schedule.windows import wall_to_utc, zone


class Pin(BaseModel):
    """A tenant to keep on the old colour, and the reason to record."""

    tenant: str
    host: str | None
    kind: ExclusionKind
    reason: str


def opt_out_ends(tenant: Tenant) -> datetime | None:
    """When the tenant's opt-out runs out: midnight starting ``until``, its local time."""
    if tenant.opt_out is None:
        return None
    return wall_to_utc(datetime.combine(tenant.opt_out.until, time()), zone(tenant.timezone))


def opted_out_at(tenant: Tenant, moment: datetime) -> bool:
    ends = opt_out_ends(tenant)
    return ends is not None and moment < ends


def opt_out_reason(opt_out: OptOut) -> str:
    return f"opted out until {opt_out.until.isoformat()}: {opt_out.reason}"


@lru_cache(maxsize=4096)
def _calendar(seasons: tuple[DayRange, ...], zone_name: str) -> FreezeCalendar:
    return FreezeCalendar(seasons, zone_name)


def busy_calendar(tenant: Tenant) -> FreezeCalendar:
    """The tenant's busy seasons on its own calendar (shared by tenants alike)."""
    return _calendar(tuple(tenant.busy_seasons), tenant.timezone)


def busy_during(tenant: Tenant, start: datetime, end: datetime) -> DayRange | None:
    """The busy season ``[start, end)`` touches, if any."""
    if not tenant.busy_seasons:
        return None
    hit = busy_calendar(tenant).touching(start, end)
    return hit[1] if hit else None


def busy_reason(season: DayRange, tenant: Tenant) -> str:
    return f"busy season {season} in {tenant.timezone}"


def pins_at(tenants: TenantsFile, cohort: str, moment: datetime,
            length: timedelta | None = None) -> list[Pin]:
    """The tenants of ``cohort`` to pin on the old colour for a rollout starting at ``moment``.

    ``length`` is how long the rollout runs (default: the cohort's slot length); a
    busy season that begins before the rollout ends counts.
    """
    end = moment + (length if length is not None else tenants.cohort(cohort).slot_length)
    pins: list[Pin] = []
    for tenant in tenants.members(cohort):
        if tenant.opt_out is not None and opted_out_at(tenant, moment):
            pins.append(Pin(tenant=tenant.id, host=tenant.host, kind=ExclusionKind.OPTED_OUT,
                            reason=opt_out_reason(tenant.opt_out)))
            continue
        season = busy_during(tenant, moment, end)
        if season is not None:
            pins.append(Pin(tenant=tenant.id, host=tenant.host,
                            kind=ExclusionKind.BUSY_SEASON, reason=busy_reason(season, tenant)))
    return pins
