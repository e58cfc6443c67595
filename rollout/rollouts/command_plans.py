"""The plans of the rollout commands: what ``start``, ``step``, ``promote``, ``rollback``,
``abort`` and ``pin`` will do, as steps of :mod:`rollout.plans`.

A command builds its plan once, reading only (the state, the weights, the clock, the
tenants file), then either displays it (``--dry-run``: nothing is written, not even the
cohort's lease) or executes it. Every step calls one of the executor's own phases, and
the executor's ``start``, ``rollback`` and ``abort`` execute these very plans, so a dry
run shows exactly what the real run then does. The steps of one command share a
:class:`RolloutRun`: the state as the last step saved it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rollout.errors import Blocked
from rollout.gates.base import GateResult
from rollout.model.stack import TenantRef
from rollout.plans import PlanStep
from rollout.rollouts.capacity_plans import ready_steps, restore_steps
from rollout.rollouts.ledger import LedgerUnreadable
from rollout.rollouts.plan_run import CommandPlan, RolloutRun, RolloutStep, command_plan
from rollout.rollouts.state import RolloutState, Status
from rollout.rollouts.strategy import Step, StepPlan
from rollout.vocabulary.colours import Colour

if TYPE_CHECKING:
    from rollout.hooks.base import HookStage, LifecycleHook
    from rollout.rollouts.executor import CohortRollout, Preflight, StartDraft, StopKind

STOPPED = (Status.ROLLED_BACK, Status.ABORTED)


def on_step_functions(state: RolloutState) -> Blocked:
    """Why ``step`` and ``resume`` leave a rollout a Step Functions execution drives alone."""
    return Blocked(f"the rollout of {state.release} to cohort {state.cohort} runs on Step "
                   f"Functions ({state.execution}): promote, abort or rollback it; status "
                   "reads it")


def driven_by_workflow(state: RolloutState | None) -> bool:
    """Whether ``state`` is a rollout in progress that a Step Functions execution drives."""
    return state is not None and state.engine == "stepfunctions" and state.status.active


def _shares(weights: Mapping[Colour, int]) -> str:
    return ", ".join(f"{colour} {weight}" for colour, weight in weights.items())


# ----------------------------------------------------------------------- start
@dataclass(frozen=True)
class RecordStart(RolloutStep):
    """The rollout's first state (preparing) and its ``started`` event."""

    draft: StartDraft
    kind: ClassVar[str] = "record-state"

    def describe(self) -> str:
        state = self.draft.state
        return (f"record the rollout of {state.release} to {state.cohort} in the ledger: "
                f"{state.old_colour} ({state.old_version}) → {state.new_colour} "
                f"({state.release}), strategy {state.strategy}, {len(state.steps)} step(s)")

    def facts(self) -> Mapping[str, object]:
        state = self.draft.state
        return {"cohort": state.cohort, "release": state.release,
                "old_colour": state.old_colour, "new_colour": state.new_colour,
                "strategy": state.strategy, "weights": [s.weight for s in state.steps]}

    def apply(self) -> None:
        self.run.state = self.run.rollout.record_start(self.draft)


@dataclass(frozen=True)
class RunPreflight(RolloutStep):
    """One preflight check (the notice, the config copy, the security gate)."""

    check: Preflight = field(compare=False)
    line: str
    kind: ClassVar[str] = "preflight"

    def describe(self) -> str:
        return f"preflight {self.check.name}: {self.line}"

    def facts(self) -> Mapping[str, object]:
        return {"check": self.check.name}

    def apply(self) -> None:
        self.run.rollout.run_preflight(self.run.current(), self.check)


@dataclass(frozen=True)
class PinAtStart(RolloutStep):
    """The tenants that stay on the old colour, in one router write."""

    colour: Colour
    version: str
    pins: tuple[tuple[str, str], ...]
    planned: list[dict[str, Any]] = field(compare=False)
    kind: ClassVar[str] = "pin-tenants"

    def describe(self) -> str:
        return (f"keep {len(self.pins)} tenant(s) on {self.colour} ({self.version}) whatever "
                "the weights: " + "; ".join(f"{tenant}: {why}" for tenant, why in self.pins))

    def facts(self) -> Mapping[str, object]:
        return {"colour": self.colour, "tenants": dict(self.pins)}

    def apply(self) -> None:
        self.run.rollout.pin_at_start(self.run.current(), self.planned)


@dataclass(frozen=True)
class RunHook(RolloutStep):
    """One lifecycle hook: before traffic a failure aborts (exit 3, no weight moved); after
    the first step it rolls back in one write."""

    hook: LifecycleHook = field(compare=False)
    stage: HookStage
    line: str
    kind: ClassVar[str] = "hook"

    def describe(self) -> str:
        after = ("all traffic back on the old colour in one write" if self.stage ==
                 "after_allow_traffic" else "the rollout aborted, no tenant's weight moved")
        return f"{self.line}; if it fails, {after}"

    def facts(self) -> Mapping[str, object]:
        return {"stage": self.stage, "hook": self.hook.name}

    def apply(self) -> None:
        self.run.rollout.run_hook(self.run.current(), self.hook)


@dataclass(frozen=True)
class OpenTestRoute(RolloutStep):
    """A rule sending requests that carry a fresh secret token to the new colour."""

    new_colour: Colour
    old_colour: Colour
    kind: ClassVar[str] = "test-route"

    def describe(self) -> str:
        return (f"open a test route: requests carrying this rollout's secret test token reach "
                f"{self.new_colour} ahead of every pin, while every tenant stays on "
                f"{self.old_colour}; closed at promotion, rollback or abort")

    def facts(self) -> Mapping[str, object]:
        return {"colour": self.new_colour}

    def apply(self) -> None:
        self.run.state = self.run.rollout.open_test_route(self.run.current())


def _hook_steps(run: RolloutRun, *stages: HookStage) -> list[PlanStep]:
    lifecycle = run.rollout.hooks
    return [RunHook(run, hook, stage, hook.describe())
            for stage in stages for hook in lifecycle.lifecycle_at(stage)]


@dataclass(frozen=True)
class FirstStep(RolloutStep):
    """Preparation done: step 1's weights, once no gate fails."""

    cohort: str
    weights: dict[Colour, int]
    steps: int
    kind: ClassVar[str] = "set-weights"

    def describe(self) -> str:
        return (f"step 1/{self.steps} of {self.cohort}: route {_shares(self.weights)} "
                "(unless a gate fails first)")

    def facts(self) -> Mapping[str, object]:
        return {"step": 1, "weights": dict(self.weights)}

    def apply(self) -> None:
        self.run.state = self.run.rollout.shift_first(self.run.current())


@dataclass(frozen=True)
class Drive(RolloutStep):
    """Bake, check, advance, until promoted (or rolled back, or paused)."""

    new_colour: Colour
    old_colour: Colour
    weights: tuple[int, ...]
    kind: ClassVar[str] = "drive"

    def describe(self) -> str:
        ahead = ", ".join(f"{weight}%" for weight in self.weights)
        moves = f"move on to {ahead} of traffic on {self.new_colour}, " if ahead else ""
        return (f"bake each step while the gates pass, {moves}then promote; a failing gate "
                f"sends all traffic back to {self.old_colour} in one write")

    def facts(self) -> Mapping[str, object]:
        return {"weights": list(self.weights)}

    def apply(self) -> None:
        self.run.state = self.run.rollout.drive()


def preparation_steps(run: RolloutRun, state: RolloutState,
                      pins: list[dict[str, Any]]) -> list[PlanStep]:
    """Everything between ``started`` and the first weight write, in the order it runs:
    the preflight checks, the new colour sized and healthy, the pins, then the test route
    between the hooks before and after test traffic, and those before allowing traffic."""
    checks: list[PlanStep] = [RunPreflight(run, check, check.plan(state))
                              for check in run.rollout.hooks.preflight]
    checks.extend(ready_steps(run, state))
    if state.pinned:
        checks.append(PinAtStart(run, state.old_colour, state.old_version,
                                 tuple((str(p["id"]), str(p["reason"])) for p in pins), pins))
    checks.extend(_hook_steps(run, "before_test_traffic"))
    if run.rollout.router.can_pin:
        checks.append(OpenTestRoute(run, state.new_colour, state.old_colour))
    checks.extend(_hook_steps(run, "after_test_traffic", "before_allow_traffic"))
    return checks


def _preflight_and_first_step(run: RolloutRun, state: RolloutState,
                              pins: list[dict[str, Any]]) -> list[PlanStep]:
    """Everything between ``started`` and shifting, in the order it runs."""
    checks = preparation_steps(run, state, pins)
    first = state.steps[0].weight
    checks.append(FirstStep(run, state.cohort, {state.new_colour: first,
                                                state.old_colour: 100 - first},
                            len(state.steps)))
    return [*checks, *_hook_steps(run, "after_allow_traffic")]


def _drive(run: RolloutRun, state: RolloutState, after: int) -> Drive:
    ahead = tuple(step.weight for step in state.steps[after + 1:])
    return Drive(run, state.new_colour, state.old_colour, ahead)


def start_plan(rollout: CohortRollout, release: str, strategy: str, steps: StepPlan, *,
               notice_override: str | None = None, freeze_override: str | None = None,
               then_drive: bool = False) -> CommandPlan:
    """``rollout start``: every check before a write made now; the writes as steps.

    ``then_drive`` (``--wait``) adds the bakes and steps up to the promotion.
    """
    draft = rollout.draft_start(release, strategy, steps, notice_override=notice_override,
                                freeze_override=freeze_override)
    run = RolloutRun(rollout)
    planned: list[PlanStep] = [RecordStart(run, draft),
                               *_preflight_and_first_step(run, draft.state, draft.pins)]
    if then_drive:
        planned.append(_drive(run, draft.state, 0))
    return command_plan("start", run, planned)


def preparation_plan(rollout: CohortRollout, state: RolloutState,
                     pins: list[dict[str, Any]]) -> CommandPlan:
    """What ``resume`` repeats for a rollout a crash left preparing: all of it is idempotent."""
    run = RolloutRun(rollout, state)
    return command_plan("resume", run, _preflight_and_first_step(run, state, pins))


# ------------------------------------------------------------------ step, promote
@dataclass(frozen=True)
class RecordFreezeOverride(RolloutStep):
    """An operator's reason for moving traffic although a company freeze is on."""

    freeze: str
    reason: str
    kind: ClassVar[str] = "record-override"

    def describe(self) -> str:
        return (f"record that {self.run.rollout.actor} overrides the freeze ({self.freeze}): "
                f"{self.reason}")

    def facts(self) -> Mapping[str, object]:
        return {"freeze": self.freeze, "reason": self.reason}

    def apply(self) -> None:
        self.run.state = self.run.rollout.record_freeze_override(self.run.current(),
                                                                 self.reason)


def _next_move(state: RolloutState) -> str:
    index = state.step_index
    if index < 0:
        return f"apply step 1/{len(state.steps)} ({state.steps[0].weight}% to {state.new_colour})"
    if index + 1 < len(state.steps):
        step: Step = state.steps[index + 1]
        return (f"advance to step {index + 2}/{len(state.steps)} ({step.weight}% to "
                f"{state.new_colour}) once step {index + 1} has baked")
    return f"promote {state.release} once the last step has baked"


@dataclass(frozen=True)
class CheckGates(RolloutStep):
    """One tick: the gates checked once, and the verdict acted on."""

    cohort: str
    move: str
    old_colour: Colour
    kind: ClassVar[str] = "check-gates"

    def describe(self) -> str:
        return (f"check the gates of {self.cohort} once and act: {self.move}; a failing gate "
                f"sends all traffic back to {self.old_colour} in one write")

    def facts(self) -> Mapping[str, object]:
        return {"then": self.move}

    def apply(self) -> None:
        self.run.rollout.tick()
        self.run.state = self.run.rollout.state()


def _freeze_override(run: RolloutRun, state: RolloutState,
                     reason: str | None) -> list[PlanStep]:
    freeze = run.rollout.freeze_now(state) if reason and state.status.active else None
    return [RecordFreezeOverride(run, freeze, reason)] if freeze is not None and reason else []


def _in_progress(rollout: CohortRollout, purpose: str = "") -> RolloutState:
    """The cohort's rollout, if one is in progress; :class:`Blocked` otherwise."""
    state = rollout.state()
    if state is None or not state.status.active:
        raise Blocked(f"cohort {rollout.cohort.cohort} has no rollout in progress{purpose}")
    return state


def step_plan(rollout: CohortRollout, freeze_override: str | None = None) -> CommandPlan:
    """``rollout step``: a freeze override first, if one is given and due; then one tick."""
    state = _in_progress(rollout)
    if state.engine == "stepfunctions":
        raise on_step_functions(state)
    run = RolloutRun(rollout, state)
    return command_plan("step", run, [*_freeze_override(run, state, freeze_override),
                               CheckGates(run, state.cohort, _next_move(state),
                                          state.old_colour)])


@dataclass(frozen=True)
class Approve(RolloutStep):
    """The current step approved, as ``rollout promote --cohort`` does."""

    cohort: str
    step: int
    steps: int
    freeze_override: str | None
    kind: ClassVar[str] = "approve"

    def describe(self) -> str:
        override = (f", overriding the freeze: {self.freeze_override}"
                    if self.freeze_override else "")
        return (f"approve step {self.step}/{self.steps} of {self.cohort} as "
                f"{self.run.rollout.actor}{override}")

    def facts(self) -> Mapping[str, object]:
        return {"step": self.step, "freeze_override": self.freeze_override}

    def apply(self) -> None:
        self.run.state = self.run.rollout.approve_state(self.run.current(),
                                                        self.freeze_override)


@dataclass(frozen=True)
class ApproveWorkflow(RolloutStep):
    """The task token a Step Functions execution waits on, sent back: it goes on alone."""

    execution: str
    kind: ClassVar[str] = "approve"

    def describe(self) -> str:
        return (f"approve the waiting step of {self.run.cohort} as {self.run.rollout.actor}: "
                f"its Step Functions execution ({self.execution}) goes on by itself")

    def facts(self) -> Mapping[str, object]:
        return {"execution": self.execution}

    def apply(self) -> None:
        rollout, state = self.run.rollout, self.run.current()
        workflow = rollout.hooks.workflow
        if workflow is None:
            raise Blocked(f"cohort {self.run.cohort} runs on Step Functions, which this "
                          "command cannot reach")
        workflow.approve(state, lambda step: rollout.record_approval(state, step))
        self.run.state = rollout.state() or state


def promote_plan(rollout: CohortRollout, freeze_override: str | None = None) -> CommandPlan:
    """``rollout promote --cohort``: approve the current step, then drive to the end (or,
    on Step Functions, let its execution go on)."""
    state = rollout.approvable()
    run = RolloutRun(rollout, state)
    if state.engine == "stepfunctions":
        return command_plan("promote", run, [ApproveWorkflow(run, str(state.execution))])
    override = freeze_override if rollout.freeze_now(state) is not None else None
    return command_plan("promote", run, [
        Approve(run, state.cohort, state.step_index + 1, len(state.steps), override),
        _drive(run, state, state.step_index)])


# --------------------------------------------------------------- rollback, abort
@dataclass(frozen=True)
class RequestStop(RolloutStep):
    """An operator's stop request: it fences every forward save of the rollout."""

    stop: StopKind
    reason: str
    release: str
    kind: ClassVar[str] = "request-stop"

    def describe(self) -> str:
        return (f"record a {self.stop} request by {self.run.rollout.actor} ({self.reason}): "
                f"from then on no process moves the rollout of {self.release} to "
                f"{self.run.cohort} forward")

    def facts(self) -> Mapping[str, object]:
        return {"stop": self.stop, "reason": self.reason, "actor": self.run.rollout.actor}

    def apply(self) -> None:
        self.run.state = self.run.rollout.request_stop(self.stop, self.reason,
                                                       self.run.current())


@dataclass(frozen=True)
class RouteBack(RolloutStep):
    """A stop's one write: the final state saved, then all traffic on the old colour."""

    stop: StopKind
    reason: str
    weights: dict[Colour, int]
    old_version: str
    failure: GateResult | None = field(default=None, compare=False)
    restored_version: str | None = None
    kind: ClassVar[str] = "set-weights"

    def describe(self) -> str:
        colour = next(c for c, w in self.weights.items() if w)
        status = "aborted" if self.stop == "abort" else "rolled back"
        return (f"all traffic of {self.run.cohort} to {colour} "
                f"({self.old_version}) in one write ({_shares(self.weights)}), saved as "
                f"{status} in the ledger first")

    def facts(self) -> Mapping[str, object]:
        return {"weights": dict(self.weights), "reason": self.reason}

    def apply(self) -> None:
        state = self.run.current()
        done_already = (not state.status.active if self.stop == "abort" else
                        state.status in STOPPED and self.restored_version is None)
        saved = None if done_already else self.run.rollout.route_back(
            self.stop, state, self.reason, failure=self.failure,
            restored_version=self.restored_version)
        if saved is None:
            self.run.stopped_elsewhere = True
        else:
            self.run.state = saved


@dataclass(frozen=True)
class RecordStopped(RolloutStep):
    """The stop's event in the cohort's history."""

    stop: StopKind
    kind: ClassVar[str] = "record-event"

    def describe(self) -> str:
        return f"record the {self.stop} in {self.run.cohort}'s history"

    def apply(self) -> None:
        if not self.run.stopped_elsewhere:
            self.run.rollout.record_stopped(self.run.current())


@dataclass(frozen=True)
class CarryBackConfig(RolloutStep):
    """Tenant configuration edited on the new colour carried back to the old one."""

    line: str
    kind: ClassVar[str] = "carry-back"

    def describe(self) -> str:
        return self.line

    def apply(self) -> None:
        run = self.run
        run.state = run.rollout.finish_stop(None if run.stopped_elsewhere else run.current())


def _carry_back(run: RolloutRun, state: RolloutState) -> CarryBackConfig:
    if state.status in STOPPED:
        line = (f"finish the stopped rollout of {state.release}: carry the tenant "
                f"configuration edited on {state.new_colour} back to {state.old_colour}, "
                "if that is still due")
    elif state.step_index < 0:
        line = f"nothing to carry back: {state.new_colour} never served traffic in this rollout"
    else:
        line = (f"carry the tenant configuration edited on {state.new_colour} back to "
                f"{state.old_colour}, under the cohort's lease")
    return CarryBackConfig(run, line)


@dataclass(frozen=True)
class StopWorkflow(RolloutStep):
    """The Step Functions execution driving the rollout stopped: it moves no more traffic."""

    execution: str
    reason: str
    kind: ClassVar[str] = "stop-workflow"

    def describe(self) -> str:
        return (f"stop the Step Functions execution driving {self.run.cohort} "
                f"({self.execution}): it moves no more traffic")

    def facts(self) -> Mapping[str, object]:
        return {"execution": self.execution}

    def apply(self) -> None:
        rollout, state = self.run.rollout, self.run.current()
        if rollout.hooks.workflow is None:
            raise Blocked(f"cohort {self.run.cohort} runs on Step Functions, which this "
                          "command cannot reach")
        rollout.hooks.workflow.stop(state, self.reason)
        self.run.state = rollout.state() or state


def _stop_steps(run: RolloutRun, state: RolloutState, stop: StopKind, reason: str, *,
                failure: GateResult | None = None,
                restored_version: str | None = None) -> list[PlanStep]:
    request: list[PlanStep] = ([] if run.rollout.holds_lease else
                               [RequestStop(run, stop, reason, state.release)])
    if driven_by_workflow(state):
        request.insert(0, StopWorkflow(run, str(state.execution), reason))
    back = {state.old_colour: 100, state.new_colour: 0}
    return [*request,
            RouteBack(run, stop, reason, back, restored_version or state.old_version,
                      failure, restored_version),
            RecordStopped(run, stop), _carry_back(run, state)]


@dataclass(frozen=True)
class BlindRouteBack(RolloutStep):
    """All traffic to the colour the operator named, without the ledger."""

    colour: Colour
    gone: LedgerUnreadable = field(compare=False)
    kind: ClassVar[str] = "set-weights"

    def describe(self) -> str:
        cohort = self.run.rollout.cohort
        return (f"all traffic of {cohort.cohort} to {self.colour} "
                f"({cohort.versions[self.colour]}) in one write, without the ledger (it "
                "cannot be read, so nothing can be recorded)")

    def facts(self) -> Mapping[str, object]:
        return {"colour": self.colour}

    def apply(self) -> None:
        self.run.rollout.rollback_blind(self.gone, self.colour)


def rollback_plan(rollout: CohortRollout, reason: str, *, failure: GateResult | None = None,
                  restored_version: str | None = None,
                  without_ledger_to: Colour | None = None) -> CommandPlan:
    """``rollout rollback``: stop request, one weight write, its record, the carry-back."""
    run = RolloutRun(rollout)
    try:
        state = rollout.state()
    except LedgerUnreadable as gone:
        if without_ledger_to is None:
            raise rollout.blind_rollback_refused(gone) from None
        return command_plan("rollback", run, [BlindRouteBack(run, without_ledger_to, gone)])
    if state is None:
        raise Blocked(f"cohort {rollout.cohort.cohort} has no rollout to roll back")
    run.state = state
    if state.status in STOPPED and restored_version is None:
        return command_plan("rollback", run, [_carry_back(run, state)])
    restore = [] if restored_version is not None else restore_steps(run, state)
    return command_plan("rollback", run, [*restore, *_stop_steps(
        run, state, "rollback", reason, failure=failure, restored_version=restored_version)])


def abort_plan(rollout: CohortRollout, reason: str) -> CommandPlan:
    """``rollout abort``: like a rollback, for a rollout still in progress."""
    state = _in_progress(rollout, " to abort")
    run = RolloutRun(rollout, state)
    return command_plan("abort", run, _stop_steps(run, state, "abort", reason))


# ------------------------------------------------------------------------ pin
@dataclass(frozen=True)
class PinTenant(RolloutStep):
    """One tenant kept on one colour by the cohort's router, recorded in the ledger."""

    tenant: TenantRef
    colour: Colour
    reason: str
    kind: ClassVar[str] = "pin-tenant"

    def describe(self) -> str:
        host = f" ({self.tenant.host})" if self.tenant.host else ""
        return (f"pin tenant {self.tenant.id}{host} of {self.run.cohort} to "
                f"{self.colour}: its requests go there whatever the weights ({self.reason})")

    def facts(self) -> Mapping[str, object]:
        return {"tenant": self.tenant.id, "host": self.tenant.host, "colour": self.colour}

    def apply(self) -> None:
        self.run.rollout.pin(self.tenant, self.colour, self.reason)


def pin_plan(rollout: CohortRollout, tenant: TenantRef, colour: Colour,
             reason: str) -> CommandPlan:
    """``rollout pin``: the one rule change."""
    run = RolloutRun(rollout)
    return command_plan("pin", run, [PinTenant(run, tenant, colour, reason)])
