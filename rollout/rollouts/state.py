"""What the ledger records about each cohort's rollout (``COHORT#<c>`` / ``STATE``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from rollout.configcopy.report import LeftAlone
from rollout.gates.base import GateResult
from rollout.rollouts.strategy import Step
from rollout.vocabulary.colours import Colour


class Status(StrEnum):
    PREPARING = "preparing"
    SHIFTING = "shifting"
    PAUSED = "paused"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"

    @property
    def active(self) -> bool:
        """A rollout in this status still owns the cohort's traffic."""
        return self in (Status.PREPARING, Status.SHIFTING, Status.PAUSED)


class RolloutState(BaseModel):
    """One cohort's rollout, as the ledger knows it. ``revision`` guards concurrent writes."""

    cohort: str
    release: str
    old_version: str
    old_colour: Colour
    new_colour: Colour
    strategy: str
    steps: list[Step]
    step_index: int = -1
    weights: dict[Colour, int]
    status: Status = Status.PREPARING
    reason: str | None = None
    failure: GateResult | None = None
    last_gate_results: list[GateResult] = Field(default_factory=list)
    inconclusive_checks: int = 0
    approved_step: int = -1
    step_started_at: datetime | None = None
    started_at: datetime
    updated_at: datetime
    promoted_at: datetime | None = None
    warm_until: datetime | None = None
    scaled_down_at: datetime | None = None
    """When the old colour was scaled down after its warm period (``rollout reap``)."""
    scaled_down_from: int | None = None
    """The size it had then (tasks, provisioned executions): what a rollback restores."""
    versions: dict[Colour, str]
    last_known_good: str
    pinned: dict[str, Colour] = Field(default_factory=dict)
    notice_override: str | None = None
    freeze_override: str | None = None
    """Why an operator broke a freeze; it covers that one freeze (``freeze_overridden``)."""
    freeze_overridden: str | None = None
    config_carried_back: bool = True
    config_left_alone: list[LeftAlone] = Field(default_factory=list)
    """Tenant edits the carry-back did not write (changed on both colours), and why."""
    revision: int = 0

    @property
    def live_colour(self) -> Colour:
        """The colour serving (most of) the traffic now."""
        return self.new_colour if self.status == Status.PROMOTED else self.old_colour
