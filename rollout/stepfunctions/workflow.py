"""What a rollout's workflow must do, as the compiler's input: from the rollout ``start``
prepared, its cohort's resources and its gates.

Pure (no boto3): the in-process engine's rules become data here, the compiler
(:mod:`rollout.stepfunctions.definition`) turns them into states. A gate, router or
strategy the workflow cannot judge is refused before anything is written, naming it: a
rollout never runs with a gate silently left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.gates.alarm import AlarmGate as AlarmCheck
from rollout.gates.base import Gate
from rollout.gates.cloudwatch_stats import arn_suffix
from rollout.gates.manual import ManualGate
from rollout.gates.sla import SlaGate as SlaCheck
from rollout.rollouts.progression import step_weights
from rollout.rollouts.state import RolloutState
from rollout.routers.alb import AlbSettings
from rollout.routers.base import checked_settings
from rollout.schedule.calendar import FreezeCalendar
from rollout.stepfunctions.ledger_docs import REVISIONS_PER_STEP, WorkflowDocuments
from rollout.stepfunctions.spec import AlarmGate, FreezeHold, SlaGate, WeightStep, WorkflowSpec
from rollout.vocabulary.ledger_keys import approval_sk, cohort_pk, event_sk, stop_sk

SPARE_EVENT_SLOTS = 64
"""Event numbers reserved beyond the workflow's own, for what others record meanwhile
(approvals, halts, an operator's stop)."""
ENGINE_HINT = "start this cohort with the in-process engine (without --engine stepfunctions)"
FREEZE_HORIZON = timedelta(days=400)
"""How far ahead of the start the workflow knows the company freezes: a year and a bit, as
they repeat every year (a rollout running longer is not held by the ones after that)."""


@dataclass(frozen=True)
class WorkflowSettings:
    """What the workflow needs besides the rollout, its cohort and its gates."""

    region: str
    """Where the cohort's listener and the workflow are (its ``region``, else the
    environment's)."""
    ledger_table: str
    last_event_seq: int
    """The cohort's last event number when the workflow starts: its slots come after it."""
    actor: str
    """Who the workflow's events say acted."""
    warm_for_seconds: float
    check_interval_seconds: float
    max_inconclusive: int
    blockers: tuple[str, ...] = ()
    halts: tuple[tuple[str, str], ...] = ()
    freezes: tuple[FreezeHold, ...] = ()
    later_waves: tuple[str, ...] = ()
    """The cohorts after this one (higher ``order``): its rollback halts the release there."""
    notices_topic_arn: str | None = None
    stickiness: int | None = None
    """The ALB router's ``stickiness``, in seconds (see :func:`stickiness_of`)."""


def freeze_holds(calendar: FreezeCalendar, since: datetime, overridden: bool,
                 horizon: timedelta = FREEZE_HORIZON) -> tuple[FreezeHold, ...]:
    """The company freezes from ``since`` to ``horizon`` later, as holds.

    ``overridden`` (``--override-freeze`` at the start) leaves out the freeze ``since`` is
    inside, and only that one, as the in-process executor breaks only the freeze it was
    started in.
    """
    return tuple(
        FreezeHold(name=day_range.name, starts=interval.start, ends=interval.end)
        for interval, day_range in calendar.occurrences(since, since + horizon)
        if not (overridden and interval.start <= since < interval.end))


def _unsupported(gate: Gate) -> BadInput:
    return BadInput(f"gate {gate.name!r} ({type(gate).__name__}) cannot run inside a Step "
                    f"Functions workflow yet (alarm, sla and manual gates can); {ENGINE_HINT}")


def stickiness_of(router: Mapping[str, Any]) -> int | None:
    """The ALB router's ``stickiness`` in seconds (``1h`` in ``tenants.yaml`` is 3600), so
    the workflow's weight writes keep it as the router's do; :class:`BadInput` for any
    other router (the workflow moves traffic with ``ModifyListener`` only)."""
    settings = dict(router)
    kind = settings.pop("kind", "alb")
    if kind != "alb":
        raise BadInput(f"router {kind!r} cannot be driven by a Step Functions workflow yet "
                       f"(the alb router can); {ENGINE_HINT}")
    stickiness = checked_settings(AlbSettings, "alb", settings).stickiness
    return None if stickiness is None else int(stickiness)


def _gates(state: RolloutState, gates: Sequence[Gate],
           docs: WorkflowDocuments) -> tuple[list[AlarmGate], list[SlaGate], bool]:
    """The alarm gates, the SLA gates and whether a human approves each step."""
    alarms: list[AlarmGate] = []
    slas: list[SlaGate] = []
    approval = False
    for gate in gates:
        if isinstance(gate, AlarmCheck):
            names = list(gate.settings.alarms)
            alarms.append(AlarmGate(name=gate.name, alarms=names, failed=docs.rolled_back(
                gate.name, f"an alarm is in ALARM: {', '.join(names)}")))
        elif isinstance(gate, SlaCheck):
            target = gate.settings.target
            slas.append(SlaGate(name=gate.name, target=target,
                                min_samples=gate.settings.min_samples,
                                failed=docs.rolled_back(gate.name, f"availability on "
                                                        f"{state.new_colour} below the SLA "
                                                        f"target {target:g}%")))
        elif isinstance(gate, ManualGate):
            approval = True
        else:
            raise _unsupported(gate)
    if any(step.gates for step in state.steps):
        raise BadInput(f"steps with gates of their own cannot run inside a Step Functions "
                       f"workflow yet; {ENGINE_HINT}")
    return alarms, slas, approval


def _steps(state: RolloutState, docs: WorkflowDocuments, approval: bool) -> list[WeightStep]:
    human = (f"`rollout promote --cohort {state.cohort}` to go on, `rollout rollback "
             f"--cohort {state.cohort}` to go back")
    return [WeightStep(
        weights=dict(step_weights(state, index)), bake_seconds=step.bake_seconds,
        approval=approval, record=docs.step(index),
        paused=docs.paused(index, f"gates inconclusive too many checks in a row at step "
                                  f"{index + 1}; a human must decide: {human}"),
        awaiting_approval=(docs.awaiting_approval(index, f"step {index + 1} has baked and "
                                                         f"waits for approval: {human}")
                           if approval else None))
        for index, step in enumerate(state.steps)]


def workflow_spec(state: RolloutState, cohort: CohortResources, gates: Sequence[Gate],
                  settings: WorkflowSettings) -> WorkflowSpec:
    """The workflow of ``state``'s rollout; :class:`BadInput` for what it cannot judge."""
    if cohort.shared_region not in (None, cohort.region):
        raise BadInput(f"the ledger of cohort {cohort.cohort} is in {cohort.shared_region}, "
                       f"its listener in {cohort.region}: a workflow reaches one region; "
                       f"{ENGINE_HINT}")
    docs = WorkflowDocuments(state, settings.actor, settings.warm_for_seconds,
                             settings.later_waves)
    alarms, slas, approval = _gates(state, gates, docs)
    steps = _steps(state, docs, approval)
    first = settings.last_event_seq + 1
    slots = REVISIONS_PER_STEP * (len(steps) + 1) + SPARE_EVENT_SLOTS
    try:
        return WorkflowSpec(
            cohort=state.cohort, release=state.release, region=cohort.region or settings.region,
            listener_arn=cohort.listener_arn, target_groups=dict(cohort.target_group_arns),
            stickiness=settings.stickiness,
            old_colour=state.old_colour, new_colour=state.new_colour,
            load_balancer_dimension=arn_suffix(cohort.load_balancer_arn),
            target_group_dimensions={c: arn_suffix(a)
                                     for c, a in cohort.target_group_arns.items()},
            rollout_started_at=state.started_at.isoformat(), steps=steps, alarm_gates=alarms,
            sla_gates=slas, blockers=list(settings.blockers), halts=list(settings.halts),
            freezes=list(settings.freezes),
            check_interval_seconds=max(1, math.ceil(settings.check_interval_seconds)),
            max_inconclusive=settings.max_inconclusive, ledger_table=settings.ledger_table,
            ledger_pk=cohort_pk(state.cohort), stop_sk=stop_sk(state.started_at),
            event_slots=[(seq, event_sk(seq)) for seq in range(first, first + slots)],
            promoted=docs.promoted(), approval_item_sk=approval_sk(state.started_at),
            notices_topic_arn=settings.notices_topic_arn,
            rolled_back_on_error=docs.rolled_back("workflow", "a step of the rollout workflow "
                                                  "failed (its execution history says which)"))
    except ValidationError as bad:
        raise BadInput(f"the rollout of {state.release} to cohort {state.cohort} cannot run "
                       f"as a Step Functions workflow: {bad}") from None


__all__ = ["ENGINE_HINT", "FREEZE_HORIZON", "SPARE_EVENT_SLOTS", "WorkflowSettings", "freeze_holds",
           "stickiness_of", "workflow_spec"]
