"""The company freeze as a rollout blocker: no traffic moves forward inside one.

The planner already keeps slots out of freezes; this is the same calendar asked at
the moment traffic would move, so a rollout started by hand, or one still running
when a freeze begins, holds too (see :class:`rollout.rollouts.executor.Blocker`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from rollout.model.tenants import TenantsFile
from rollout.schedule.calendar import INSTANT, FreezeCalendar


class CompanyFreeze:
    """Blocks every forward move while a company freeze of ``tenants.yaml`` is on.

    Of every release alike; ``--override-freeze`` may break it (its ``kind``).
    """

    kind: Literal["freeze"] = "freeze"

    def __init__(self, tenants: TenantsFile, offset: timedelta = timedelta(0)) -> None:
        """``offset`` moves the calendar, as the demo does when it jumps to a slot."""
        self._calendar = FreezeCalendar(tenants.defaults.freezes, tenants.defaults.timezone)
        self._offset = offset

    def blocked_at(self, moment: datetime, release: str) -> str | None:
        moment += self._offset
        hit = self._calendar.touching(moment, moment + INSTANT)
        if hit is None:
            return None
        day_range = hit[1]
        ends = self._calendar.free_from(moment)
        return (f"company freeze {day_range.name} ({day_range.first} to {day_range.last}, "
                f"{self._calendar.zone_name}) is on until {ends:%Y-%m-%d %H:%M} UTC")
