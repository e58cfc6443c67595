"""``rollout fleet start``: which cohort of a release starts now, and what the others wait for.

Pure: the caller reads each cohort's rollout and the notices sent from the ledger and
passes the clock in. The fleet goes in ``order``. A cohort starts once every cohort
before it runs the release promoted and has baked the cohort's ``min_gap`` (the stage
gate, :mod:`rollout.rollouts.stage_gate`), and its slot has come in the plan of the
cohorts still to go (planned from now, with the notices already sent). Nothing after a
cohort that runs, waits or was stopped moves.

So one run starts at most one cohort, and a schedule running it (hourly, say) walks the
release through the fleet as planned. Starting every cohort's execution at once, each
waiting for its slot, would judge its preflight weeks early: the tenants' notices and
opt-outs, the configuration copied to the new colour (edits made meanwhile would be
lost), the security gate and the idle colour's health all belong to the moment its
traffic is about to move.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from rollout.model.tenants import Cohort, TenantsFile
from rollout.rollouts.stage_gate import StageGateSettings, decide_stage_gate
from rollout.rollouts.state import RolloutState, Status
from rollout.schedule.plan import Slot
from rollout.schedule.planner import plan_release


class FleetMove(StrEnum):
    DONE = "done"
    """The cohort runs the release, promoted."""
    RUNNING = "running"
    """Its rollout of the release is in progress (or paused for a human)."""
    STOPPED = "stopped"
    """Its rollout of the release rolled back or was aborted: the fleet waits for a human."""
    START = "start"
    """Its turn and its slot have come: this run starts it."""
    WAIT = "wait"
    """Not yet: the reason says for what."""


class CohortMove(BaseModel):
    """What ``fleet start`` does with one cohort, and why."""

    model_config = ConfigDict(frozen=True)

    cohort: str
    move: FleetMove
    reason: str
    slot: Slot | None = None

    def describe(self) -> str:
        """One line, as ``fleet start`` and the demo print it."""
        return f"{self.cohort}: {self.move.value}: {self.reason}"


def fleet_moves(tenants: TenantsFile, release: str,
                states: Mapping[str, RolloutState | None], notices: Mapping[str, datetime],
                now: datetime) -> list[CohortMove]:
    """Every cohort's move, in order; at most one is :attr:`FleetMove.START`.

    ``states`` maps cohorts to their rollout in the ledger (of any release), ``notices``
    tenants to when their notice for ``release`` went out.
    """
    ordered = tenants.ordered_cohorts()
    moves: list[CohortMove] = []
    promoted: tuple[str, RolloutState] | None = None
    held: str | None = None
    for index, cohort in enumerate(ordered):
        if held is not None:
            moves.append(_move(cohort.name, FleetMove.WAIT, held))
            continue
        state = states.get(cohort.name)
        if state is not None and state.release == release:
            if state.status == Status.PROMOTED:
                moves.append(_move(cohort.name, FleetMove.DONE, f"runs {release}, promoted"))
                promoted = (cohort.name, state)
                continue
            moves.append(_started(cohort.name, release, state))
            held = f"waits for {cohort.name} ({state.status.value})"
            continue
        held = f"waits for {cohort.name}"
        if promoted is not None:
            gate = decide_stage_gate(promoted[1], source=promoted[0], target=cohort.name,
                                     release=release, now=now,
                                     settings=StageGateSettings.for_target(cohort))
            if not gate.allowed:
                moves.append(_move(cohort.name, FleetMove.WAIT, gate.message))
                continue
        moves.append(_by_slot(tenants, ordered[index:], release, notices, now))
    return moves


def _move(cohort: str, move: FleetMove, reason: str, slot: Slot | None = None) -> CohortMove:
    return CohortMove(cohort=cohort, move=move, reason=reason, slot=slot)


def _started(cohort: str, release: str, state: RolloutState) -> CohortMove:
    if state.status.active:
        where = f" on {state.engine}" if state.engine else ""
        return _move(cohort, FleetMove.RUNNING,
                     f"its rollout of {release} is {state.status.value}{where}")
    why = f": {state.reason}" if state.reason else ""
    done = state.status.value.replace("_", " ")
    return _move(cohort, FleetMove.STOPPED,
                 f"{done} {release}{why}; later cohorts wait for a human")


def _by_slot(tenants: TenantsFile, remaining: list[Cohort], release: str,
             notices: Mapping[str, datetime], now: datetime) -> CohortMove:
    """The first of ``remaining`` starts if its slot, planned with the cohorts still to
    go, has come."""
    names = {cohort.name for cohort in remaining}
    still_to_go = tenants.model_copy(update={
        "cohorts": remaining, "tenants": [t for t in tenants.tenants if t.cohort in names]})
    plan = plan_release(still_to_go, release, now, notices)
    planned = plan.cohorts[0]
    if planned.slot is None:
        return _move(planned.cohort, FleetMove.WAIT,
                     planned.problem or "the plan has no slot for it")
    if planned.slot.start > plan.planned_from:
        return _move(planned.cohort, FleetMove.WAIT, f"its slot is {planned.slot.describe()}",
                     planned.slot)
    return _move(planned.cohort, FleetMove.START,
                 f"its slot {planned.slot.describe()} has come", planned.slot)
