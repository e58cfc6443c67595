"""Runs one cohort's rollout: preflight, steps, bakes with gates, rollback, promotion.

Every change is written to the ledger *before* it is made in AWS and recorded as
an event *after*; :meth:`CohortRollout.resume` compares the ledger with what AWS
routes and finishes whatever a crash interrupted, so every step is idempotent
and nothing is shifted twice. A failed gate sends all traffic back to the old
colour in one router write, never walking back through the steps.

``start``, ``rollback`` and ``abort`` are plans (:mod:`rollout.rollouts.command_plans`)
made of this class's phases: the command line displays the very plan these methods
execute, so a dry run shows exactly what the real run does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NoReturn, Protocol

from rollout.aws_clients import AwsClients
from rollout.capacity.base import ColourCapacity, TargetStates
from rollout.capacity.readiness import WaitProgress, wait_until_serving
from rollout.configcopy.report import LeftAlone
from rollout.discovery import CohortResources
from rollout.errors import BadInput, Blocked, RolloutFailed
from rollout.gates.base import Gate, GateContext, GateResult, Verdict, obeyed
from rollout.hooks.base import BEFORE_TRAFFIC, HookFacts, HookStage, LifecycleHook
from rollout.model.stack import TenantRef
from rollout.rollouts import command_plans
from rollout.rollouts.ledger import (
    DEFAULT_LEASE_SECONDS,
    Event,
    Heartbeat,
    Lease,
    LedgerUnreadable,
    RolloutLedger,
    StoppedByOperator,
    StopRequest,
    default_actor,
)
from rollout.rollouts.progression import (
    Action,
    Advance,
    Hold,
    Pause,
    ProgressionSettings,
    Promote,
    RollBack,
    decide,
)
from rollout.rollouts.state import RolloutState, Status
from rollout.rollouts.strategy import StepPlan
from rollout.routers.base import TrafficRouter, Weights
from rollout.vocabulary.clock import Clock, SystemClock
from rollout.vocabulary.colours import Colour, other_colour
from rollout.vocabulary.ledger_keys import STATE_SK, cohort_pk, stop_sk
from rollout.vocabulary.test_route import TestRoute, new_token
from rollout.vocabulary.versions import checked_version

FORWARD = (Status.PREPARING, Status.SHIFTING, Status.PAUSED, Status.PROMOTED)
"""Statuses that move a rollout on: an operator's stop request fences their saves."""

StopKind = Literal["abort", "rollback"]

HOOK_RUNS_WHEN: dict[HookStage, Status] = {"after_allow_traffic": Status.SHIFTING,
                                           "after_promote": Status.PROMOTED}
"""The status a hook after traffic needs to run (the hooks before traffic always run)."""


class Preflight(Protocol):
    """A check or preparation that must succeed before any traffic moves."""

    name: str

    def plan(self, state: RolloutState) -> str:
        """What :meth:`run` will do for ``state``, in one line (``start``'s plan shows it)."""
        ...

    def run(self, state: RolloutState) -> str:
        """Do it; return one line for the history, raise Blocked/RolloutFailed to stop."""
        ...


BlockerKind = Literal["freeze", "halt", "alarm"]
"""What a blocker means for a rollout, and so what the executor does about it:

- ``freeze`` (a company freeze): ``start`` refuses and a running rollout pauses; only
  ``--override-freeze REASON`` breaks it, and only that one freeze;
- ``halt`` (``rollout halt``, or an earlier wave's rollback): ``start`` refuses and the
  next weight step does not happen (exit 3, the rollout stays where it is), until
  ``rollout unhalt``; nothing overrides it;
- ``alarm`` (an alarm blocker): ``start`` and ``rollout step`` refuse (exit 3), and a
  process driving the rollout (``start --wait``, ``resume``) holds the step until the
  alarm is OK, as it holds on an inconclusive gate.

None of them ever stands in the way of a rollback or an abort.
"""

BLOCKER_ORDER: dict[BlockerKind, int] = {"halt": 0, "alarm": 1, "freeze": 2}
"""Which blocker speaks when several do: a halt (nothing moves, nothing saved) before an
alarm (the step holds) before a freeze (the rollout pauses)."""


class Blocker(Protocol):
    """A rule that forbids moving traffic forward right now: a freeze, a halt, an alarm."""

    @property
    def kind(self) -> BlockerKind:
        """What the rule means for a rollout (see :data:`BlockerKind`)."""
        ...

    def blocked_at(self, moment: datetime, release: str) -> str | None:
        """Why traffic of ``release`` may not move forward at ``moment``; None when it may."""
        ...


@dataclass(frozen=True)
class Block:
    """A blocker that forbids moving on now, and why."""

    kind: BlockerKind
    reason: str


class HeldBack(Blocked):
    """An alarm blocker holds the next step: ``rollout step`` exits 3, a drive waits."""


@dataclass(frozen=True)
class CarryBack:
    """What a rollback hook did with the tenant edits made on the new colour."""

    summary: str
    left_alone: list[LeftAlone] = field(default_factory=list)
    done: bool = True


@dataclass
class TickReport:
    """What one tick left behind, for a live display: the state, the action, the gate results
    it was decided on and the seconds of bake left on the step."""

    state: RolloutState
    action: Action
    results: list[GateResult]
    bake_left: float


PinsFor = Callable[[datetime, timedelta], list[tuple[TenantRef, str]]]
"""``pins(moment, length)``: the tenants that stay on the old colour, and why, for a rollout
lasting ``length`` from ``moment``."""


def no_step_gates(_settings: list[dict[str, Any]]) -> list[Gate]:
    return []


class WorkflowControl(Protocol):
    """What the commands need of a rollout running on Step Functions (``start --engine
    stepfunctions``): its execution stopped (abort, rollback) or its wait for a human
    ended (``promote``)."""

    def stop(self, state: RolloutState, reason: str) -> None:
        """Stop ``state``'s execution if it still runs; it then moves no more traffic."""
        ...

    def approve(self, state: RolloutState, record: Callable[[int], None]) -> None:
        """Send back the task token the execution waits on, once ``record`` has recorded
        the approval of its step (from 0): the ledger says "approved" before the execution
        can record its next step. :class:`Blocked` when it waits for nobody."""
        ...


@dataclass
class RolloutHooks:
    """What the executor calls out to; all optional, so the executor stays testable alone."""

    preflight: list[Preflight] = field(default_factory=list)
    blockers: list[Blocker] = field(default_factory=list)
    on_rollback: list[Callable[[RolloutState], CarryBack]] = field(default_factory=list)
    on_event: list[Callable[[str, Event], None]] = field(default_factory=list)
    on_rolled_back: list[Callable[[RolloutState], None]] = field(default_factory=list)
    """Told once per rollout that rolled back, before its ``rolled_back`` event is recorded
    (the later waves' automatic halts): a crash in between leaves the event to ``resume``,
    which tells them again; once the event is there, never again."""
    on_progress: Callable[[TickReport], None] | None = None
    step_gates: Callable[[list[dict[str, Any]]], list[Gate]] = no_step_gates
    """The gates a step of a ``file:`` strategy adds, from its settings."""
    pins: PinsFor | None = None
    """Which tenants a rollout leaves on the old colour; none when not given."""
    capacity: ColourCapacity | None = None
    """How big each colour is and whether it can serve; without it no colour is sized or
    checked (the executor's own unit tests)."""
    on_waiting: WaitProgress | None = None
    """Told the target states while a colour is awaited (live progress)."""
    workflow: WorkflowControl | None = None
    """How a rollout running on Step Functions is stopped and approved; None: it cannot be."""
    lifecycle: list[LifecycleHook] = field(default_factory=list)
    """The cohort's lifecycle hooks (``hooks:`` in ``tenants.yaml``), in the order they run."""

    def lifecycle_at(self, stage: HookStage) -> list[LifecycleHook]:
        return [hook for hook in self.lifecycle if hook.stage == stage]


LEASE_RULE = ("--check-every must be shorter than --lease: a waiter takes over a lock it saw "
              "unchanged for one lease, and an operator's stop is honoured at the next check")


@dataclass
class RolloutSettings:
    """How the executor runs: its timing, and who it acts as in the history.

    A check interval as long as the lease would let a waiter take a live holder's lock
    between two of its checks, and leave an operator's stop unseen for a whole lease:
    refused as :class:`BadInput`.
    """

    check_interval: float = 15.0
    warm_for: timedelta = timedelta(hours=24)
    ready_within: float = 600.0
    """How long a colour being scaled up may take until its targets are healthy."""
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    progression: ProgressionSettings = field(default_factory=ProgressionSettings)
    actor: str = field(default_factory=default_actor)

    def __post_init__(self) -> None:
        if self.check_interval >= self.lease_seconds:
            raise BadInput(LEASE_RULE)


@dataclass(frozen=True)
class StartDraft:
    """A rollout about to start: its first state, not saved yet, and the pins it plans."""

    state: RolloutState
    pins: list[dict[str, Any]]
    """``{"id", "host", "reason"}`` of each tenant kept on the old colour."""


def load_state(ledger: RolloutLedger, cohort: str) -> RolloutState | None:
    return ledger.get(cohort_pk(cohort), STATE_SK, RolloutState)


def stop_weights(state: RolloutState) -> Weights:
    """All traffic on the old colour: what every stop asks for."""
    return {state.old_colour: 100, state.new_colour: 0}


class CohortRollout:
    """One cohort's rollout executor.

    Methods that drive the rollout need the cohort's lease (see :meth:`lease`);
    :meth:`abort` and :meth:`rollback` work without it, as an operator's stop that wins.
    ``clients`` are only handed to the gates, in their context: the executor itself
    reaches AWS through ``router`` and ``ledger`` alone.
    """

    def __init__(self, *, clients: AwsClients, cohort: CohortResources, ledger: RolloutLedger,
                 router: TrafficRouter, gates: list[Gate], hooks: RolloutHooks | None = None,
                 settings: RolloutSettings | None = None, clock: Clock | None = None) -> None:
        self.clients = clients
        self.cohort = cohort
        self.ledger = ledger
        self.router = router
        self.gates = gates
        self.hooks = hooks or RolloutHooks()
        self.settings = settings or RolloutSettings()
        self.clock = clock or SystemClock()
        self.actor = self.settings.actor
        self._heartbeat: Heartbeat | None = None
        self._event_keys: set[str] | None = None
        self._converged = False

    # ---------------------------------------------------------------- locking
    @contextmanager
    def lease(self, patience: float = 0.0) -> Iterator[Lease]:
        """Hold the cohort's lease for a block, renewed in the background all along.

        Blocked (exit 3) names the current holder when it is still alive after
        ``patience`` seconds.
        """
        lease = self.ledger.acquire(self.cohort.cohort, self.actor, self.settings.lease_seconds,
                                    patience=patience)
        try:
            with Heartbeat(self.ledger, lease) as heartbeat:
                self._heartbeat = heartbeat
                yield lease
        finally:
            self._heartbeat = None
            self.ledger.release(lease)

    @property
    def holds_lease(self) -> bool:
        return self._heartbeat is not None

    def _hold_lease(self) -> None:
        """Renew the lease before any write to AWS: no weight write without the lock."""
        if self._heartbeat is None:
            raise RuntimeError("the executor wrote without holding the cohort's lease")
        self._heartbeat.renew()

    # ------------------------------------------------------------- ledger i/o
    def state(self) -> RolloutState | None:
        return load_state(self.ledger, self.cohort.cohort)

    def _save(self, state: RolloutState) -> RolloutState:
        """Save the next revision of ``state``, only if nobody else changed it meanwhile.

        A holder saves under its lock token; a save that moves the rollout forward is
        also fenced by the rollout's stop request, so once an operator stopped it no
        process can take it further. Without a lease only an operator's stop saves.
        """
        if self._heartbeat is None and state.status in FORWARD:
            raise RuntimeError("the executor moved a rollout on without holding the lease")
        saved = state.model_copy(update={"updated_at": self.clock.now(),
                                         "revision": state.revision + 1})
        self.ledger.save_state(
            self.cohort.cohort, saved, expected_revision=state.revision,
            lease=self._heartbeat.lease if self._heartbeat else None,
            fence=stop_sk(state.started_at) if state.status in FORWARD else None)
        return saved

    def _record(self, kind: str, message: str, key: str, **data: Any) -> None:
        """Append an event once: a resumed step does not write its event twice.

        A key we have not seen is looked up again first: an operator's stop may have
        written events since we last read them.
        """
        if self._recorded(key):
            return
        event = self.ledger.append_event(self.cohort.cohort, Event(
            at=self.clock.now(), actor=self.actor, kind=kind, message=message,
            data={"key": key, **data}))
        assert self._event_keys is not None
        self._event_keys.add(key)
        for hook in self.hooks.on_event:
            hook(self.cohort.cohort, event)

    def _recorded(self, key: str) -> bool:
        """Whether the history holds an event under ``key`` (looked up again when we have
        not seen it: another process may have recorded it since we last read)."""
        if self._event_keys is None or key not in self._event_keys:
            self._event_keys = {str(e.data.get("key")) for e in
                                self.ledger.events(self.cohort.cohort)}
        return key in self._event_keys

    def _route(self, state: RolloutState) -> None:
        """Write ``state``'s weights: under the lease, or as an operator's stop.

        A holder looks for a stop request right after its write: an operator may have
        stopped the rollout while the write was on its way, and their stop wins.
        """
        if self._heartbeat is None:
            self.router.set_weights(state.weights)
            return
        self._hold_lease()
        self.router.set_weights(state.weights)
        if state.status not in FORWARD:
            return  # traffic back to the old colour: what any stop asks for
        stop = self.ledger.stop_request(self.cohort.cohort, state.started_at)
        if stop is not None:
            back = stop_weights(state)
            if state.weights != back:
                self.router.set_weights(back)
            raise StoppedByOperator(self.cohort.cohort, stop)

    # ------------------------------------------------------------------ start
    def live_colour(self) -> Colour:
        """The colour serving now: from the last rollout, else the larger weight."""
        previous = self.state()
        if previous is not None and not previous.status.active:
            return previous.live_colour
        weights = self.router.read_weights()
        return "blue" if weights.get("blue", 0) >= weights.get("green", 0) else "green"

    def start(self, release: str, strategy: str, plan: StepPlan, *,
              notice_override: str | None = None,
              freeze_override: str | None = None) -> RolloutState:
        """Prepare a rollout of ``release`` and apply its first step (its plan, executed)."""
        command = command_plans.start_plan(self, release, strategy, plan,
                                           notice_override=notice_override,
                                           freeze_override=freeze_override)
        command.execute()
        return command.final

    def draft_start(self, release: str, strategy: str, plan: StepPlan, *,
                    notice_override: str | None = None,
                    freeze_override: str | None = None) -> StartDraft:
        """Every check ``start`` makes before its first write, and the state it would save.

        Reads only: the pins, the previous rollout, which colour is live and what each
        runs, and whether a company freeze forbids starting now.
        """
        checked_version(release, "--release")
        pins = self._pins_for(plan)
        previous = self.state()
        if previous is not None and previous.status.active:
            raise Blocked(f"cohort {self.cohort.cohort} already has a rollout of "
                          f"{previous.release} ({previous.status.value}); "
                          "resume, promote, rollback or abort it first")
        old = self.live_colour()
        new = other_colour(old)
        versions = dict(self.cohort.versions)
        if versions[old] == release:
            raise BadInput(f"cohort {self.cohort.cohort} already runs {release} on {old}")
        if versions[new] != release:
            raise Blocked(
                f"the idle colour {new} of cohort {self.cohort.cohort} runs {versions[new]}, "
                f"not {release}: deploy it first (`rollout stacks up --cohort "
                f"{self.cohort.cohort} --version {release}` or `pulumi up`)")
        now = self.clock.now()
        self._check_blockers(now, release, None, kinds=("halt", "alarm"))
        freeze = self._freeze_at(now, release, None)
        if freeze is not None and not freeze_override:
            self._check_blockers(now, release, None)
        if freeze is None:
            freeze_override = None  # nothing to override: nothing recorded
        state = RolloutState(
            cohort=self.cohort.cohort, release=release, old_version=versions[old],
            old_colour=old, new_colour=new, strategy=strategy, steps=plan.steps,
            weights=self.router.read_weights(), started_at=now, updated_at=now,
            versions=versions,
            last_known_good=previous.last_known_good if previous else versions[old],
            notice_override=notice_override, freeze_override=freeze_override,
            freeze_overridden=freeze if freeze_override else None,
            pinned={tenant.id: old for tenant, _ in pins},
            revision=previous.revision if previous else 0)
        return StartDraft(state, [{"id": tenant.id, "host": tenant.host, "reason": reason}
                                  for tenant, reason in pins])

    def _pins_for(self, plan: StepPlan) -> list[tuple[TenantRef, str]]:
        """The tenants a rollout of ``plan``, starting now, leaves on the old colour."""
        if self.hooks.pins is None:
            return []
        length = timedelta(seconds=sum(step.bake_seconds for step in plan.steps))
        return self.hooks.pins(self.clock.now(), length)

    def record_start(self, draft: StartDraft) -> RolloutState:
        """The first write of a rollout: its state (preparing), then its ``started`` event."""
        state = self._save(draft.state)
        self._record_started(state, draft.pins)
        return state

    def _record_started(self, state: RolloutState, plan_pins: list[dict[str, Any]]) -> None:
        self._record("started", f"rollout of {state.release} started: {state.old_colour} "
                     f"({state.old_version}) → {state.new_colour} ({state.release}), "
                     f"strategy {state.strategy}",
                     f"{state.started_at.isoformat()}:started", release=state.release,
                     old_version=state.old_version, old_colour=state.old_colour,
                     new_colour=state.new_colour, strategy=state.strategy,
                     notice_override=state.notice_override,
                     freeze_override=state.freeze_override, pins=plan_pins)

    def run_preflight(self, state: RolloutState, check: Preflight) -> None:
        """One preflight check, recorded; a failing one aborts the rollout before any traffic.

        Each check is idempotent (it re-runs, the copy writes only what is missing), so
        :meth:`resume` repeats them all after a crash during preparation rather than
        shifting traffic to a colour whose config was never copied.
        """
        try:
            summary = check.run(state)
            self._record("preflight", f"{check.name}: {summary}",
                         f"{state.started_at.isoformat()}:preflight:{check.name}")
        except (Blocked, RolloutFailed, BadInput) as exc:
            self.abort_before_traffic(state, exc)
            raise

    def abort_before_traffic(self, state: RolloutState, why: Exception) -> None:
        """A rollout stopped before any traffic moved (a preflight, a colour that never
        became healthy): aborted, so the next ``start`` begins afresh."""
        saved = self._save(state.model_copy(update={"status": Status.ABORTED,
                                                    "reason": str(why)}))
        self.close_test_route(saved, "aborted")
        self._record("aborted", f"preflight stopped the rollout: {why}",
                     f"{state.started_at.isoformat()}:preflight-failed")

    def pin_at_start(self, state: RolloutState, plan_pins: list[dict[str, Any]]) -> None:
        """Keep the planned tenants on the old colour, in one router write, and record why."""
        if not state.pinned:
            return
        old = state.old_colour
        hosts = {str(pin["id"]): pin.get("host") for pin in plan_pins}
        self._hold_lease()
        self.router.pin([TenantRef(id=tenant, host=hosts.get(tenant))
                         for tenant in state.pinned], old)
        reasons = {str(pin["id"]): str(pin["reason"]) for pin in plan_pins}
        self._record("pinned", f"{len(state.pinned)} tenant(s) stay on {old} "
                     f"({state.old_version}): "
                     + "; ".join(f"{t}: {r}" for t, r in list(reasons.items())[:5])
                     + (" ..." if len(state.pinned) > 5 else ""),
                     f"{state.started_at.isoformat()}:pins", tenants=reasons)

    # ------------------------------------------------------ test route, hooks
    def open_test_route(self, state: RolloutState) -> RolloutState:
        """Requests with a fresh secret token reach the new colour ahead of every pin and
        weight, while each tenant's weight there is still 0; the rule is saved first, so a
        stop or a crash that follows closes it."""
        self._hold_lease()
        route = self.router.open_test_route(state.new_colour, new_token())
        if route is None:
            return state
        saved = self._save(state.model_copy(update={"test_route_rule": route.rule}))
        self._record("test_route", f"test route open: {route.describe()}, ahead of every "
                     f"pin; every tenant's weight on {saved.new_colour} is still 0",
                     f"{saved.started_at.isoformat()}:test-route", header=route.header,
                     colour=route.colour, rule=route.rule)
        return saved

    def close_test_route(self, state: RolloutState, why: str) -> None:
        """The test route removed, once: at promotion, rollback or abort (or when a workflow
        takes over, see :mod:`rollout.stepfunctions.launch`)."""
        if state.test_route_rule is None:
            return
        key = f"{state.started_at.isoformat()}:test-route-closed"
        if self._recorded(key):
            return
        self.router.close_test_route()
        self._record("test_route", f"test route to {state.new_colour} closed: {why}", key,
                     rule=state.test_route_rule)

    def _test_route_of(self, state: RolloutState) -> TestRoute | None:
        return self.router.test_route() if state.test_route_rule else None

    def run_hook(self, state: RolloutState, hook: LifecycleHook) -> None:
        """One lifecycle hook, recorded. Failing before traffic, the rollout is aborted with
        every weight untouched (:class:`Blocked`, exit 3); failing once tenants are on the new
        colour, all traffic goes back in one write (a rollback); failing after the
        promotion, :class:`RolloutFailed` says so, the release staying live."""
        current = self.state() or state
        if current.status != HOOK_RUNS_WHEN.get(hook.stage, current.status):
            return  # step 1 or the promotion did not happen (a gate rolled it back, say)
        facts = HookFacts(
            app=self.cohort.app, cohort=self.cohort.cohort, release=current.release,
            old_version=current.old_version, old_colour=current.old_colour,
            new_colour=current.new_colour, stage=hook.stage, started_at=current.started_at,
            test_route=self._test_route_of(current))
        if self._heartbeat is not None:
            self._hold_lease()
        outcome = hook.run(facts)
        verdict = "passed" if outcome.passed else "failed"
        line = (f"hook {hook.stage} {hook.name} {verdict} in {outcome.seconds:.1f} s: "
                f"{outcome.summary}")
        self._record("hook", line, f"{current.started_at.isoformat()}:hook:{hook.stage}:"
                     f"{hook.name}", stage=hook.stage, hook=hook.name, passed=outcome.passed,
                     seconds=round(outcome.seconds, 3))
        if outcome.passed:
            return
        if hook.stage in BEFORE_TRAFFIC:
            blocked = Blocked(f"{line}; no tenant's traffic moved")
            self.abort_before_traffic(current, blocked)
            raise blocked
        if hook.stage == "after_promote":
            raise RolloutFailed(f"{current.release} is live on {current.new_colour}, but {line}")
        self.rollback(line)

    def record_workflow(self, state: RolloutState, why: str) -> RolloutState:
        """Preparation done and handed to a Step Functions execution (``state.execution``):
        saved as shifting, and recorded, before the execution starts."""
        saved = self._save(state.model_copy(update={"status": Status.SHIFTING}))
        self._record("workflow", why, f"{saved.started_at.isoformat()}:workflow",
                     execution=saved.execution)
        return saved

    def record_approval(self, state: RolloutState, step: int) -> None:
        """A human let a Step Functions execution's waiting step go on."""
        self._record("approved", f"step {step + 1} approved by {self.actor}",
                     f"{state.started_at.isoformat()}:approved:{step}")

    def shift_first(self, state: RolloutState) -> RolloutState:
        """Preparation done: the rollout is shifting, and the first tick applies step 1."""
        state = self._save(state.model_copy(update={"status": Status.SHIFTING}))
        self.tick()
        return self.state() or state

    # ------------------------------------------------------------------ ticks
    def _gate_context(self, state: RolloutState, now: datetime) -> GateContext:
        return GateContext(
            clients=self.clients, cohort=self.cohort, old_colour=state.old_colour,
            new_colour=state.new_colour, rollout_started_at=state.started_at,
            step_started_at=state.step_started_at or now, now=now,
            approved=state.approved_step == state.step_index,
            old_weight=state.weights.get(state.old_colour))

    def _gates_of(self, state: RolloutState) -> list[Gate]:
        if state.step_index < 0:
            return []
        return [*self.gates, *self.hooks.step_gates(state.steps[state.step_index].gates)]

    def tick(self) -> Action:
        """Check the gates once and act on the verdict; the unit of progress."""
        state = self.state()
        if state is None or not state.status.active or state.status == Status.PAUSED:
            raise Blocked(f"cohort {self.cohort.cohort} has no rollout in progress"
                          if state is None or not state.status.active else
                          f"cohort {self.cohort.cohort} is paused: {state.reason}")
        if not self._converged:
            self._converge(state)
        self._honour_stop(state)
        now = self.clock.now()
        gates = self._gates_of(state)
        results = [gate.check(self._gate_context(state, now)) for gate in gates]
        self._record_dry_runs(state, results)
        waiting = {gate.name for gate in gates if gate.waits_for_human}
        action = decide(state, now, results, self.settings.progression, waiting)
        if isinstance(action, Advance):
            self._refuse_blocked_step(state, action, results, now)
        self._act(state, action, results, now)
        if self.hooks.on_progress is not None:
            left = action.bake_left if isinstance(action, Hold) else 0.0
            self.hooks.on_progress(TickReport(self.state() or state, action, results, left))
        return action

    def _record_dry_runs(self, state: RolloutState, results: list[GateResult]) -> None:
        """What a dry-run gate would have stopped, recorded once per gate and step."""
        for result in results:
            if result.dry_run and result.verdict == Verdict.FAIL:
                self._record("dry_run", f"dry-run gate {result.gate} would have rolled back "
                             f"step {state.step_index + 1}: {result.reason}",
                             f"{state.started_at.isoformat()}:dry_run:{state.step_index}:"
                             f"{result.gate}", gate=result.model_dump(mode="json"))

    def _refuse_blocked_step(self, state: RolloutState, action: Advance,
                             results: list[GateResult], now: datetime) -> None:
        """Raise :class:`Blocked` when a blocker forbids the step ``action`` would take.

        A halt leaves the rollout as it is (after ``rollout unhalt`` the next ``step`` or
        ``resume`` takes the step); an alarm holds it, saying why (:class:`HeldBack`); a
        freeze pauses it.
        """
        block = self._blocked_at(now, state.release, state.freeze_overridden)
        if block is None:
            return
        cohort, step = self.cohort.cohort, f"step {action.index + 1}/{len(state.steps)}"
        if block.kind == "halt":
            raise Blocked(f"cohort {cohort} does not move to {step}: {block.reason}")
        if block.kind == "alarm":
            reason = f"held before {step}: {block.reason}"
            held = self._save(state.model_copy(update={"reason": reason,
                                                       "last_gate_results": results}))
            if self.hooks.on_progress is not None:
                self.hooks.on_progress(TickReport(held, Hold(reason, 0.0), results, 0.0))
            raise HeldBack(f"cohort {cohort} {reason}")
        reason = (f"{block.reason}; after it, `rollout promote --cohort {cohort}` carries on")
        self._record_outcome(self._save(state.model_copy(update={
            "status": Status.PAUSED, "reason": reason, "last_gate_results": results})))
        raise Blocked(f"cohort {cohort} holds: {reason}")

    def _act(self, state: RolloutState, action: Action, results: list[GateResult],
             now: datetime) -> None:
        if isinstance(action, Advance):
            self._advance(state, action, results, now)
        elif isinstance(action, Hold):
            pending = any(r.verdict == Verdict.INCONCLUSIVE for r in obeyed(results))
            counting = pending and action.bake_left == 0
            self._save(state.model_copy(update={
                "last_gate_results": results,
                "inconclusive_checks": state.inconclusive_checks + 1 if counting else 0}))
        elif isinstance(action, Pause):
            self._record_outcome(self._save(state.model_copy(update={
                "status": Status.PAUSED, "reason": action.reason, "last_gate_results": results})))
        elif isinstance(action, RollBack):
            failure = action.failure
            self.rollback(f"gate {failure.gate} failed: {failure.reason}", failure=failure)
        elif isinstance(action, Promote):
            self._promote(state, results, now)

    def _advance(self, state: RolloutState, action: Advance, results: list[GateResult],
                 now: datetime) -> None:
        if action.weights.get(state.new_colour, 0) > 0:
            self.refuse_unless_serving(state.new_colour, f"step {action.index + 1}")
        state = self._save(state.model_copy(update={
            "step_index": action.index, "weights": action.weights, "step_started_at": now,
            "inconclusive_checks": 0, "last_gate_results": results, "reason": None}))
        self._route(state)
        step = state.steps[action.index]
        self._record("step", f"step {action.index + 1}/{len(state.steps)}: "
                     f"{step.weight}% to {state.new_colour} ({state.release})",
                     f"{state.started_at.isoformat()}:step:{action.index}",
                     step=action.index, weights=dict(action.weights))

    # --------------------------------------------------------------- capacity
    def refuse_unless_serving(self, colour: Colour, what: str) -> None:
        """:class:`Blocked` (exit 3), nothing written, unless ``colour``'s targets are healthy."""
        if self.hooks.capacity is None:
            return
        states = self.hooks.capacity.health(colour)
        if not states.serves:
            raise Blocked(f"{what} of cohort {self.cohort.cohort} would send traffic to a "
                          f"colour that cannot serve it: {states.describe()}; nothing moved")

    def wait_until_serving(self, colour: Colour) -> TargetStates:
        """Wait (bounded by ``ready_within``, with progress) until ``colour`` can serve."""
        if self.hooks.capacity is None:
            raise RuntimeError("the rollout has no capacity to wait for")
        return wait_until_serving(self.hooks.capacity, colour,
                                  within=self.settings.ready_within, clock=self.clock,
                                  every=min(2.0, self.settings.check_interval),
                                  progress=self.hooks.on_waiting)

    def resize(self, state: RolloutState, colour: Colour, size: int, why: str) -> None:
        """Ask for ``size`` of ``colour``, recorded; under the lease when we hold it (an
        operator's rollback resizes the colour it is about to route to without it)."""
        if self.hooks.capacity is None:
            raise RuntimeError("the rollout has no capacity to resize")
        if self._heartbeat is not None:
            self._hold_lease()
        self.hooks.capacity.resize(colour, size)
        self._record("capacity", f"{colour} sized to {size} {self.hooks.capacity.unit}: {why}",
                     f"{self.clock.now().isoformat()}:capacity:{colour}:{size}",
                     colour=colour, size=size)

    def scale_down_old(self, state: RolloutState, size: int | None) -> RolloutState:
        """After the warm period: the ledger says so first, then the old colour goes to 0.

        What runs there and its artefact stay deployed: a rollback scales it back up to
        ``size`` (recorded) and waits for it before its one write.
        """
        now = self.clock.now()
        saved = self._save(state.model_copy(update={"scaled_down_at": now,
                                                    "scaled_down_from": size}))
        old = saved.old_colour
        if size:
            self.resize(saved, old, 0, f"its warm period is over; {saved.old_version} stays "
                                       "deployed")
        untouched = "" if size else " (nothing of ours to size)"
        self._record("scaled_down", f"{old} ({saved.old_version}) scaled down after its warm "
                     f"period{untouched}",
                     f"{saved.started_at.isoformat()}:scaled-down", colour=old, size=size)
        return saved

    def _promote(self, state: RolloutState, results: list[GateResult], now: datetime) -> None:
        promoted = self._save(state.model_copy(update={
            "status": Status.PROMOTED, "promoted_at": now, "last_gate_results": results,
            "warm_until": now + self.settings.warm_for, "last_known_good": state.release,
            "reason": None}))
        self._record_outcome(promoted)
        for hook in self.hooks.lifecycle_at("after_promote"):
            self.run_hook(promoted, hook)

    def _record_outcome(self, state: RolloutState) -> None:
        """The event saying how the rollout ended (or paused), built from the saved state.

        Keys and messages depend on the state alone, so :meth:`resume` records the same
        event, once, when a crash struck between the state save and the event.
        """
        begun = state.started_at.isoformat()
        weights = dict(state.weights)
        if not state.status.active:
            self.close_test_route(state, state.status.value.replace("_", " "))
        if state.status == Status.PROMOTED:
            warm = f"{state.warm_until:%Y-%m-%d %H:%M UTC}" if state.warm_until else "now"
            self._record("promoted", f"{state.release} is live on {state.new_colour}; "
                         f"{state.old_colour} ({state.old_version}) stays warm for rollback "
                         f"until {warm}", f"{begun}:promoted")
        elif state.status == Status.PAUSED:
            self._record("paused", state.reason or "paused",
                         f"{begun}:paused:{state.revision}")
        elif state.status == Status.ROLLED_BACK:
            failure = state.failure
            if not self._recorded(f"{begun}:rolled_back"):
                for hook in self.hooks.on_rolled_back:
                    hook(state)
            self._record("rolled_back", f"all traffic back on {state.old_colour} "
                         f"({state.old_version}): {state.reason}", f"{begun}:rolled_back",
                         weights=weights, failure=failure.model_dump() if failure else None)
        elif state.status == Status.ABORTED and not any(
                event.kind == "aborted" and str(event.data.get("key")).startswith(begun)
                for event in self.ledger.events(self.cohort.cohort)):
            self._record("aborted", f"aborted, all traffic on {state.old_colour}: "
                         f"{state.reason}", f"{begun}:aborted", weights=weights)

    # ---------------------------------------------------------- whole flows
    def drive(self) -> RolloutState:
        """Tick until the rollout is promoted, rolled back or paused.

        Stopped by an operator meanwhile, it carries the tenants' edits back itself
        (it holds the lease the operator's command waits for) and exits 1.
        """
        try:
            while True:
                state = self.state()
                if state is None or state.status != Status.SHIFTING:
                    break
                try:
                    action = self.tick()
                except HeldBack:
                    self.clock.sleep(self.settings.check_interval)  # until the alarm is OK
                    continue
                except Blocked:
                    # an operator's stop landed between our look and the tick's: the end of
                    # the drive below carries config back and says "stopped by" (exit 1)
                    if self.ledger.stop_request(self.cohort.cohort, state.started_at) is None:
                        raise
                    break
                if isinstance(action, Hold):
                    self.clock.sleep(min(self.settings.check_interval, action.bake_left)
                                     if action.bake_left > 0 else self.settings.check_interval)
        except StoppedByOperator:
            self._carry_back_after_stop()
            raise
        final = self.state()
        assert final is not None
        stop = self.ledger.stop_request(self.cohort.cohort, final.started_at)
        if stop is not None and self._heartbeat is not None:
            self._carry_back_after_stop()
            raise StoppedByOperator(self.cohort.cohort, stop)
        if final.status in (Status.ROLLED_BACK, Status.ABORTED):
            raise RolloutFailed(f"cohort {final.cohort} {final.status.value.replace('_', ' ')}"
                                f", all traffic on {final.old_colour} ({final.old_version}): "
                                f"{final.reason}")
        if final.status == Status.PAUSED:
            raise Blocked(f"cohort {final.cohort} paused: {final.reason}")
        return final

    def approve(self, freeze_override: str | None = None) -> RolloutState:
        """``rollout promote --cohort``: approve the current step's pause and go on."""
        return self.approve_state(self.approvable(), freeze_override)

    def approvable(self) -> RolloutState:
        """The rollout an approval would go on with; :class:`Blocked` when there is none."""
        state = self.state()
        if state is None or not state.status.active:
            raise Blocked(f"cohort {self.cohort.cohort} has no rollout waiting for approval")
        return state

    def approve_state(self, state: RolloutState, freeze_override: str | None) -> RolloutState:
        """Approve ``state``'s current step (recording a freeze override first, if any)."""
        state = self._with_freeze_override(state, freeze_override)
        self._check_blockers(self.clock.now(), state.release, state.freeze_overridden)
        state = self._save(state.model_copy(update={
            "approved_step": state.step_index, "status": Status.SHIFTING,
            "inconclusive_checks": 0, "reason": None}))
        self._record("approved", f"step {state.step_index + 1} approved by {self.actor}",
                     f"{state.started_at.isoformat()}:approved:{state.step_index}")
        return state

    # ------------------------------------------------------ freezes and stops
    def _blocked_at(self, moment: datetime, release: str, overridden: str | None,
                    kinds: tuple[BlockerKind, ...] = ("halt", "alarm", "freeze"),
                    ) -> Block | None:
        """What forbids moving ``release`` forward now (in :data:`BLOCKER_ORDER`): None
        when nothing of ``kinds`` does.

        ``overridden`` is the one freeze an operator broke, as it was described then;
        any other freeze (next year's, another one) blocks again. It never covers a
        halt or an alarm.
        """
        asked = sorted((b for b in self.hooks.blockers if b.kind in kinds),
                       key=lambda blocker: BLOCKER_ORDER[blocker.kind])
        for blocker in asked:
            reason = blocker.blocked_at(moment, release)
            if reason is not None and not (blocker.kind == "freeze" and reason == overridden):
                return Block(blocker.kind, reason)
        return None

    def _freeze_at(self, moment: datetime, release: str, overridden: str | None) -> str | None:
        block = self._blocked_at(moment, release, overridden, kinds=("freeze",))
        return block.reason if block else None

    def freeze_now(self, state: RolloutState) -> str | None:
        """The freeze that holds ``state``'s rollout now (not the one already overridden);
        halts and alarms are never freezes: no override is recorded against them."""
        return self._freeze_at(self.clock.now(), state.release, state.freeze_overridden)

    def _check_blockers(self, moment: datetime, release: str, overridden: str | None,
                        kinds: tuple[BlockerKind, ...] = ("halt", "alarm", "freeze")) -> None:
        """:class:`Blocked` (exit 3) naming what forbids moving ``release`` forward now;
        only a freeze's message offers ``--override-freeze``."""
        block = self._blocked_at(moment, release, overridden, kinds)
        if block is None:
            return
        cohort = self.cohort.cohort
        if block.kind == "freeze":
            raise Blocked(f"cohort {cohort}: {block.reason}; traffic does not move (only "
                          "--override-freeze REASON, recorded in the ledger, may break it)")
        if block.kind == "alarm":
            raise HeldBack(f"cohort {cohort}: {block.reason}; traffic does not move until "
                           "it is OK")
        raise Blocked(f"cohort {cohort}: {block.reason}")

    def _with_freeze_override(self, state: RolloutState, reason: str | None) -> RolloutState:
        """Record an operator's explicit override of the freeze that is on now, if any."""
        freeze = self.freeze_now(state)
        if not reason or freeze is None:
            return state
        state = self._save(state.model_copy(update={"freeze_override": reason,
                                                    "freeze_overridden": freeze}))
        self._record("override", f"{freeze}: overridden by {self.actor}: {reason}",
                     f"{state.started_at.isoformat()}:freeze-override:{state.revision}",
                     reason=reason, freeze=freeze)
        return state

    def override_freeze(self, reason: str | None) -> None:
        """``--override-freeze`` on step/resume: recorded before the rollout goes on."""
        state = self.state()
        if state is not None and state.status.active:
            self._with_freeze_override(state, reason)

    def record_freeze_override(self, state: RolloutState, reason: str) -> RolloutState:
        """:meth:`override_freeze` for a state already read (a plan's step)."""
        return self._with_freeze_override(state, reason) if state.status.active else state

    def _honour_stop(self, state: RolloutState) -> None:
        """Finish an operator's stop whose own command died before its one write.

        The stop request fences every forward save, so without this the rollout would
        stay half-shifted; the lease holder does what the operator asked, then exits 1.
        The reason saved is the operator's, word for word, whichever of the two processes
        makes the write (who asked is in the ``stop`` event).
        """
        stop = self.ledger.stop_request(self.cohort.cohort, state.started_at)
        if stop is None or state.status not in FORWARD or self._heartbeat is None:
            return
        status = Status.ABORTED if stop.kind == "abort" else Status.ROLLED_BACK
        saved = self._save_stop(state.model_copy(update={
            "status": status, "weights": stop_weights(state), "reason": stop.reason,
            "config_carried_back": False}))
        if saved is not None:
            self._route(saved)
            self._record_outcome(saved)
            self._after_rollback(saved)
        raise StoppedByOperator(self.cohort.cohort, stop)

    def _carry_back_after_stop(self) -> None:
        """Under our lease, the carry-back of a rollout an operator stopped, if it is due."""
        state = self.state()
        if (self._heartbeat is not None and state is not None and not state.config_carried_back
                and state.status in (Status.ROLLED_BACK, Status.ABORTED)):
            self._after_rollback(state)

    def request_stop(self, kind: StopKind, reason: str, state: RolloutState) -> RolloutState:
        """An operator's stop, without the lease: fence the rollout, then act on it.

        Once the request is in the ledger no process can save the rollout forward, and
        a holder that wrote weights meanwhile puts them back itself; so the state read
        after it is final for everyone but us, and our one write wins. A holder of the
        lease (a failed gate, say) needs no request: it writes itself.
        """
        if self._heartbeat is not None:
            return state
        request = StopRequest(kind=kind, reason=reason, actor=self.actor, at=self.clock.now(),
                              rollout_started_at=state.started_at)
        self.ledger.request_stop(self.cohort.cohort, request)
        self._record("stop", f"{kind} requested by {self.actor}: {reason}",
                     f"{state.started_at.isoformat()}:stop:{kind}:{request.at.isoformat()}",
                     reason=reason)
        return self.state() or state

    def route_back(self, kind: StopKind, state: RolloutState, reason: str, *,
                   failure: GateResult | None = None,
                   restored_version: str | None = None) -> RolloutState | None:
        """The one write of a stop: the final state saved, then all traffic to the old colour.

        None when another stop landed first: then there is nothing left to write.
        ``restored_version`` says the old colour was just redeployed with that version.
        """
        if restored_version is not None:
            state = state.model_copy(update={
                "old_version": restored_version,
                "versions": {**state.versions, state.old_colour: restored_version}})
        update: dict[str, Any] = {
            "status": Status.ABORTED if kind == "abort" else Status.ROLLED_BACK,
            "weights": stop_weights(state), "reason": reason, "config_carried_back": False,
            "scaled_down_at": None, "scaled_down_from": None}
        if kind == "rollback":
            update["failure"] = failure
        saved = self._save_stop(state.model_copy(update=update))
        if saved is not None:
            self._route(saved)
        return saved

    def record_stopped(self, state: RolloutState) -> None:
        """The event of a stop's one write, after it."""
        self.close_test_route(state, state.status.value.replace("_", " "))
        if state.status == Status.ABORTED:
            self._record("aborted", f"aborted, all traffic on {state.old_colour}: "
                         f"{state.reason}", f"{state.started_at.isoformat()}:aborted",
                         weights=dict(state.weights))
        else:
            self._record_outcome(state)

    def finish_stop(self, state: RolloutState | None) -> RolloutState:
        """After a stop's write (``state``; None when another stop made it): carry config back.

        A holder does it at once; an operator waits for the lease (:meth:`_finish_stopped`).
        """
        if state is not None and self._heartbeat is not None:
            return self._after_rollback(state)
        return self._finish_stopped()

    def rollback(self, reason: str, *, failure: GateResult | None = None,
                 restored_version: str | None = None,
                 without_ledger_to: Colour | None = None) -> RolloutState:
        """All traffic back to the old colour in one router write, then carry config back.

        Called without the lease it is an operator's stop, which wins over a process
        driving the rollout (see :meth:`request_stop`). ``restored_version`` says the
        old colour was just redeployed from the artefact store with that version, so
        its warm period no longer matters. When the ledger cannot be read at all, the
        one write goes to ``without_ledger_to`` (:meth:`rollback_blind`).
        """
        command = command_plans.rollback_plan(
            self, reason, failure=failure, restored_version=restored_version,
            without_ledger_to=without_ledger_to)
        command.execute()
        return command.final

    def abort(self, reason: str) -> RolloutState:
        """Stop the rollout: traffic back to the old colour, status aborted.

        Like :meth:`rollback`, an operator's abort needs no lease and always wins.
        """
        command = command_plans.abort_plan(self, reason)
        command.execute()
        return command.final

    def _finish_stopped(self) -> RolloutState:
        """A rollout rolled back or aborted: converge, then carry config back, under the lease.

        After an operator's stop the process that drove the rollout lets go within one
        check interval; we wait that long for the lease, so the carry-back never runs
        twice at once. If the cohort is still held then, ``rollout resume`` finishes it.
        """
        if self._heartbeat is not None:
            return self.resume()
        patience = self.settings.check_interval + self.settings.lease_seconds
        with ExitStack() as held:
            try:
                held.enter_context(self.lease(patience))
            except Blocked as busy:
                state = self.state() or self._no_rollout()
                self._record("config", f"configuration not carried back yet: {busy}; "
                             f"`rollout resume --cohort {state.cohort}` finishes it",
                             f"{state.started_at.isoformat()}:carry-back-deferred")
                return state
            return self.resume()

    def _save_stop(self, state: RolloutState) -> RolloutState | None:
        """An operator's terminal save; None when a concurrent stop landed first."""
        try:
            return self._save(state)
        except Blocked:
            current = self.state()
            if current is not None and current.status in (Status.ROLLED_BACK, Status.ABORTED):
                return None
            raise

    def blind_rollback_refused(self, gone: LedgerUnreadable) -> RolloutFailed:
        """Why a rollback without the ledger needs ``--to-colour``: what each colour runs."""
        weights = self.router.read_weights()
        runs = ", ".join(f"{c} runs {self.cohort.versions[c]} ({weights.get(c, 0)}% of "
                         "traffic)" for c in ("blue", "green"))
        return RolloutFailed(
            f"{gone}; without it the last known-good colour is unknown ({runs}): name it "
            f"with `rollout rollback --cohort {self.cohort.cohort} --to-colour blue|green`")

    def rollback_blind(self, gone: LedgerUnreadable, colour: Colour) -> NoReturn:
        """All traffic to ``colour`` in one router write, without the ledger.

        Losing the ledger must not strand traffic on a half-shifted listener. Which
        colour is the good one only the ledger knew: the stack's ``liveColour`` is what
        it was deployed with and goes stale at every promotion, so guessing could send
        every tenant to the new release. The operator names it, seeing what each runs.
        Nothing can be recorded; exit 1 says why.
        """
        self.router.set_weights({colour: 100, other_colour(colour): 0})
        raise RolloutFailed(
            f"{gone}: all traffic of cohort {self.cohort.cohort} moved to {colour} "
            f"({self.cohort.versions[colour]}) in one write, as asked; nothing was recorded; "
            "restore the ledger table before the next rollout") from None

    def _no_rollout(self) -> RolloutState:
        raise Blocked(f"cohort {self.cohort.cohort} has no rollout")

    def _after_rollback(self, state: RolloutState) -> RolloutState:
        """Carry config edits back, unless the new colour never served a request.

        Only tenants using the new colour can have changed its settings; before the
        first step there is nothing to carry back, and the latest copy snapshot may
        belong to an earlier rollout, so comparing against it would be wrong.
        """
        if state.config_carried_back:
            return state
        key = f"{state.started_at.isoformat()}:carry-back"
        left_alone: list[LeftAlone] = []
        if state.step_index < 0:
            self._record("config", f"nothing to carry back: {state.new_colour} never served "
                         "traffic in this rollout", key)
        for hook in self.hooks.on_rollback if state.step_index >= 0 else []:
            outcome = hook(state)
            if not outcome.done:
                self._record("config", outcome.summary,
                             f"{key}-failed:{state.revision}")
                raise RolloutFailed(
                    f"all traffic is back on {state.old_colour}, but {outcome.summary}; "
                    f"then `rollout resume --cohort {state.cohort}` carries it back")
            self._record("config", "; ".join([outcome.summary, *(
                f"left alone: {item.line()}" for item in outcome.left_alone)]), key,
                left_alone=[item.model_dump(mode="json") for item in outcome.left_alone])
            left_alone.extend(outcome.left_alone)
        return self._save(state.model_copy(update={"config_carried_back": True,
                                                   "config_left_alone": left_alone}))

    def pin(self, tenant: TenantRef, colour: Colour, reason: str) -> None:
        """Keep ``tenant`` on ``colour`` whatever the weights say, and record it."""
        self._hold_lease()
        self.router.pin([tenant], colour)
        state = self.state()
        if state is not None:
            self._save(state.model_copy(update={"pinned": {**state.pinned, tenant.id: colour}}))
        self._record("pinned", f"{tenant.id} pinned to {colour}: {reason}",
                     f"{self.clock.now().isoformat()}:pin:{tenant.id}",
                     tenants={tenant.id: reason})

    def resume(self) -> RolloutState:
        """Converge AWS to what the ledger says, then carry on where the rollout stopped."""
        state = self.state()
        if state is None:
            raise Blocked(f"cohort {self.cohort.cohort} has no rollout to resume")
        if command_plans.driven_by_workflow(state):
            raise command_plans.on_step_functions(state)
        self._converge(state)
        self._honour_stop(state)
        if state.status in (Status.ROLLED_BACK, Status.ABORTED):
            return self._after_rollback(state)
        if state.status == Status.PREPARING:
            plan_pins = self._planned_pins(state)
            self._record_started(state, plan_pins)
            preparation = command_plans.preparation_plan(self, state, plan_pins)
            preparation.execute()
            state = preparation.final
        if state.status == Status.SHIFTING:
            return self.drive()
        return state

    def _converge(self, state: RolloutState) -> None:
        """Make AWS and the history match the ledger after a crash; once per executor.

        A crash can leave the listener behind the ledger (state saved, weights not yet
        written) or a change without its event. ``resume`` and the first tick of any
        command repair both before going on, so no step is baked on weights that were
        never applied and no step or outcome is missing from the history.
        """
        self._converged = True
        if self.router.read_weights() != state.weights:
            self._route(state)
            self._record("reconciled", f"weights restored to {state.weights} from the ledger",
                         f"{state.updated_at.isoformat()}:reconciled:{state.revision}",
                         weights=dict(state.weights))
        if state.status.active and state.step_index >= 0:
            step = state.steps[state.step_index]
            self._record("step", f"step {state.step_index + 1}/{len(state.steps)}: "
                         f"{step.weight}% to {state.new_colour} ({state.release})",
                         f"{state.started_at.isoformat()}:step:{state.step_index}",
                         step=state.step_index, weights=dict(state.weights))
        self._record_outcome(state)

    def _planned_pins(self, state: RolloutState) -> list[dict[str, Any]]:
        """The pins ``start`` planned, as its ``started`` event recorded them."""
        started = f"{state.started_at.isoformat()}:started"
        for event in self.ledger.events(self.cohort.cohort):
            if event.data.get("key") == started and isinstance(event.data.get("pins"), list):
                return list(event.data["pins"])
        return [{"id": tenant, "host": None,
                 "reason": "pinned at start (reason unrecorded: the start was interrupted)"}
                for tenant in state.pinned]
