"""What the ledger records about each cohort's rollout (``COHORT#<c>`` / ``STATE``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

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
    engine: Literal["process", "stepfunctions"] = "process"
    """Who moves this rollout's traffic: our own process (``step``, ``start --wait``) or a
    Step Functions execution (``start --engine stepfunctions``)."""
    execution: str | None = None
    """The Step Functions execution's ARN when ``engine`` is ``stepfunctions``."""
    test_route_rule: str | None = None
    """The listener rule of the rollout's test route while it is open (its ARN; the token
    stays in the rule alone)."""
    warm_for_seconds: float | None = None
    """How long the old colour stays warm after the promotion, when the promotion could not
    compute ``warm_until`` itself (a workflow has no date arithmetic)."""
    revision: int = 0

    @property
    def warm_ends(self) -> datetime | None:
        """When the old colour's warm period ends: ``warm_until``, or the promotion plus
        ``warm_for_seconds``; None when neither is known (then it is still warm)."""
        if self.warm_until is not None:
            return self.warm_until
        if self.promoted_at is not None and self.warm_for_seconds is not None:
            return self.promoted_at + timedelta(seconds=self.warm_for_seconds)
        return None

    @property
    def live_colour(self) -> Colour:
        """The colour serving (most of) the traffic now."""
        return self.new_colour if self.status == Status.PROMOTED else self.old_colour
