"""``rollout start --engine stepfunctions``: the in-process preparation, then the plan handed
to a Step Functions execution that runs it with no process of ours alive.

Everything ``start`` checks before a write is checked here the same way (the draft: halts,
alarm blockers, freezes, pins; then the preflight: notice, config copy, security gate, the
idle colour's size and health), so the two engines refuse the same rollouts. The workflow
is compiled from the draft first: a gate it cannot judge is refused before anything is
written. The execution's ARN is known before it exists (the state machine's name and the
execution's are fixed), so the state saved before it starts, and every document the
workflow writes, names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rollout.aws_clients import AwsClients, region
from rollout.errors import BadInput, RolloutFailed
from rollout.hooks.base import BEFORE_TRAFFIC
from rollout.plans import PlanStep
from rollout.rollouts.assembly import CohortSetup
from rollout.rollouts.command_plans import RecordStart, preparation_steps
from rollout.rollouts.executor import CohortRollout, StartDraft
from rollout.rollouts.plan_run import CommandPlan, RolloutRun, RolloutStep, command_plan
from rollout.rollouts.state import RolloutState
from rollout.rollouts.strategy import StepPlan
from rollout.schedule.calendar import FreezeCalendar
from rollout.stepfunctions.definition import compile_definition
from rollout.stepfunctions.engine import Execution, WorkflowEngine
from rollout.stepfunctions.spec import WorkflowSpec
from rollout.stepfunctions.workflow import (
    ENGINE_HINT,
    WorkflowSettings,
    freeze_holds,
    stickiness_of,
    workflow_spec,
)
from rollout.vocabulary.ledger_keys import halt_keys_covering
from rollout.vocabulary.resource_names import workflow_execution
from rollout.vocabulary.workflow_actions import definition_actions

ACTOR = "states.amazonaws.com"
"""Who the workflow's events say acted: Step Functions, on the starter's behalf."""


@dataclass(frozen=True)
class StartRequest:
    """What ``start`` was asked for."""

    release: str
    strategy: str
    steps: StepPlan
    notice_override: str | None = None
    freeze_override: str | None = None


class WorkflowLaunch:
    """Compiles, deploys and starts one cohort's rollout workflow."""

    def __init__(self, rollout: CohortRollout, setup: CohortSetup,
                 clients: AwsClients) -> None:
        self.rollout = rollout
        self._setup = setup
        self.engine = WorkflowEngine(clients, setup.resources)

    def prepared(self, state: RolloutState) -> RolloutState:
        """``state`` as the workflow takes it over: its engine, its execution's ARN."""
        name = workflow_execution(state.release, state.cohort, state.started_at)
        warm = self.rollout.settings.warm_for.total_seconds()
        return state.model_copy(update={
            "engine": "stepfunctions", "warm_for_seconds": warm,
            "execution": self.engine.execution_arn(self.engine.machine_arn(), name)})

    def spec(self, state: RolloutState, last_event_seq: int) -> WorkflowSpec:
        """The workflow of ``state``; :class:`BadInput` naming what it cannot judge."""
        resources, settings = self._setup.resources, self.rollout.settings
        tenants = self._setup.tenants
        freezes = FreezeCalendar(tenants.defaults.freezes, tenants.defaults.timezone)
        return workflow_spec(state, resources, self._setup.gates(), WorkflowSettings(
            region=resources.region or region(), ledger_table=resources.ledger_table,
            last_event_seq=last_event_seq, actor=f"{ACTOR} (started by {self.rollout.actor})",
            warm_for_seconds=settings.warm_for.total_seconds(),
            check_interval_seconds=settings.check_interval,
            max_inconclusive=settings.progression.max_inconclusive,
            blockers=tuple(blocker.alarm for blocker in self._setup.tenants.blockers),
            halts=tuple(halt_keys_covering(state.cohort, state.release)),
            freezes=freeze_holds(freezes, state.started_at, state.freeze_overridden is not None),
            later_waves=tuple(self._setup.later_waves()),
            notices_topic_arn=resources.notices_topic_arn,
            stickiness=stickiness_of(self._setup.settings.router)))

    def definition(self, state: RolloutState, last_event_seq: int = 0) -> dict[str, Any]:
        return compile_definition(self.spec(state, last_event_seq))

    def running(self, release: str) -> Execution | None:
        """The execution already driving a rollout of ``release`` on the cohort, if any."""
        state = self.rollout.state()
        if (state is None or not state.status.active or state.engine != "stepfunctions"
                or state.release != release or state.execution is None):
            return None
        found = self.engine.describe(state.execution)
        return found if found is not None and found.running else None

    def launch(self, state: RolloutState) -> RolloutState:
        """Record the hand-over, then deploy the state machine and start its execution.

        The test route closes first: the hooks that use it ran before the hand-over, and
        the workflow's role then needs no rule writes."""
        self.rollout.close_test_route(state, "the hooks before traffic have run and Step "
                                             "Functions takes over")
        saved = self.rollout.record_workflow(state, f"handed to Step Functions: execution "
                                                    f"{state.execution} moves the traffic")
        try:
            events = self.rollout.ledger.events(saved.cohort)
            definition = self.definition(saved, events[-1].seq if events else 0)
            machine = self.engine.deploy(definition)
        except (BadInput, RolloutFailed) as refused:
            self.rollout.abort_before_traffic(saved, refused)  # the next start begins afresh
            raise
        started = self.engine.start(
            machine, workflow_execution(saved.release, saved.cohort, saved.started_at), {})
        if not started.running or started.arn != saved.execution:
            stale = RolloutFailed(
                f"the Step Functions execution {started.arn} is {started.status}: a rollout "
                "started at the same moment used its name, so none was started and nothing "
                "moved")
            self.rollout.abort_before_traffic(saved, stale)
            raise stale
        return saved


@dataclass(frozen=True)
class LaunchWorkflow(RolloutStep):
    """The state machine deployed with its own role, and its execution started."""

    launcher: WorkflowLaunch = field(compare=False)
    execution: str
    actions: tuple[str, ...]
    kind: ClassVar[str] = "start-workflow"

    def describe(self) -> str:
        return (f"deploy the state machine {self.launcher.engine.name} (its role allowed "
                f"{len(self.actions)} actions, those its definition uses) and start execution "
                f"{self.execution}: it moves the traffic from here, no process of ours needs "
                "to run")

    def facts(self) -> Mapping[str, object]:
        return {"execution": self.execution, "actions": list(self.actions)}

    def apply(self) -> None:
        rollout = self.run.rollout
        self.run.state = self.launcher.launch(rollout.state() or self.run.current())


@dataclass(frozen=True)
class WorkflowStart:
    """``start --engine stepfunctions`` planned: its steps, and the definition it deploys
    (compiled from the draft; the real one differs only in its event slots)."""

    command: CommandPlan
    definition: dict[str, Any]

    @property
    def actions(self) -> list[str]:
        return definition_actions(self.definition)


def workflow_start_plan(launcher: WorkflowLaunch, request: StartRequest) -> WorkflowStart:
    """Every check before a write made now, the definition compiled from the draft (so a
    gate it cannot judge refuses the start here); the writes as steps."""
    rollout = launcher.rollout
    for hook in rollout.hooks.lifecycle:
        if hook.stage not in BEFORE_TRAFFIC:
            raise BadInput(f"hook {hook.stage} {hook.name} cannot run inside a Step Functions "
                           f"workflow yet (the hooks before traffic can: they run before the "
                           f"hand-over); {ENGINE_HINT}")
    draft = rollout.draft_start(request.release, request.strategy, request.steps,
                                notice_override=request.notice_override,
                                freeze_override=request.freeze_override)
    state = launcher.prepared(draft.state)
    definition = launcher.definition(state)
    launcher.engine.require_boundary()  # refused before the start is recorded
    run = RolloutRun(rollout)
    planned: list[PlanStep] = [
        RecordStart(run, StartDraft(state, draft.pins)),
        *preparation_steps(run, state, draft.pins),
        LaunchWorkflow(run, launcher, str(state.execution),
                       tuple(definition_actions(definition)))]
    return WorkflowStart(command_plan("start", run, planned), definition)


__all__ = ["StartRequest", "WorkflowLaunch", "WorkflowStart", "workflow_start_plan"]
