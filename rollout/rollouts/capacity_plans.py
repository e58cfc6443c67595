"""The capacity steps of the rollout commands: size a colour, wait until it serves, reap.

``start`` brings the idle colour to the live colour's size and waits until its targets
are healthy before the first step; ``rollback`` after the old colour was scaled down
scales it back up and waits before its one write (never a shift onto an empty colour:
Flagger #869, #1600); ``reap`` scales the old colour down once its warm period is over,
never while it carries weight or pinned tenants. Each is a plan step, so ``--dry-run``
prints exactly these, read off the colours' real sizes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rollout.errors import Blocked
from rollout.plans import PlanStep
from rollout.rollouts.plan_run import CommandPlan, RolloutRun, RolloutStep, command_plan
from rollout.rollouts.state import RolloutState, Status
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.durations import human_duration

if TYPE_CHECKING:
    from rollout.rollouts.executor import CohortRollout


@contextmanager
def _aborting_before_traffic(run: RolloutRun, before_traffic: bool) -> Iterator[None]:
    """In ``start``, whatever stops a capacity step (a colour never healthy, a denied or
    throttled call) aborts the rollout, as a failed preflight does: nothing has moved,
    and the next ``start`` begins afresh instead of finding it half prepared."""
    try:
        yield
    except Exception as stopped:
        if before_traffic:
            run.rollout.abort_before_traffic(run.current(), stopped)
        raise


@dataclass(frozen=True)
class Resize(RolloutStep):
    """One colour asked for a size (ECS desired count, Lambda provisioned concurrency)."""

    colour: Colour
    version: str
    size: int
    unit: str
    why: str
    kind: ClassVar[str] = "resize"

    def describe(self) -> str:
        return f"scale {self.colour} ({self.version}) to {self.size} {self.unit}: {self.why}"

    def facts(self) -> Mapping[str, object]:
        return {"colour": self.colour, "size": self.size, "unit": self.unit}

    before_traffic: bool = False
    """Part of ``start``: a resize that fails (denied, throttled) aborts the rollout."""

    def apply(self) -> None:
        with _aborting_before_traffic(self.run, self.before_traffic):
            self.run.rollout.resize(self.run.current(), self.colour, self.size, self.why)


@dataclass(frozen=True)
class WaitServing(RolloutStep):
    """Wait, bounded, until a colour's targets are healthy; exit 3 with nothing moved if not."""

    colour: Colour
    within: float
    before_traffic: bool = False
    """Part of ``start``: a colour that never becomes healthy aborts the rollout."""
    kind: ClassVar[str] = "wait-healthy"

    def describe(self) -> str:
        stop = "abort the rollout" if self.before_traffic else "stop"
        return (f"wait until {self.colour}'s targets are healthy (at most "
                f"{human_duration(self.within)}); otherwise {stop} with nothing moved")

    def facts(self) -> Mapping[str, object]:
        return {"colour": self.colour, "within_seconds": self.within}

    def apply(self) -> None:
        with _aborting_before_traffic(self.run, self.before_traffic):
            self.run.rollout.wait_until_serving(self.colour)


@dataclass(frozen=True)
class ScaleDown(RolloutStep):
    """The old colour scaled down after its warm period; what it runs stays deployed."""

    colour: Colour
    version: str
    size: int | None
    unit: str
    kind: ClassVar[str] = "scale-down"

    def describe(self) -> str:
        if not self.size:
            return (f"record that {self.colour}'s warm period is over ({self.version} has "
                    "nothing of ours to scale down; it stays deployed)")
        return (f"scale {self.colour} ({self.version}) down from {self.size} {self.unit} to 0 "
                "(recorded in the ledger first); its artefact and deployment stay, so a "
                "rollback scales it back up before moving traffic")

    def facts(self) -> Mapping[str, object]:
        return {"colour": self.colour, "from": self.size, "unit": self.unit}

    def apply(self) -> None:
        self.run.state = self.run.rollout.scale_down_old(self.run.current(), self.size)


def ready_steps(run: RolloutRun, state: RolloutState) -> list[PlanStep]:
    """Before the first step: the new colour at least the live colour's size, then healthy."""
    rollout = run.rollout
    capacity = rollout.hooks.capacity
    if capacity is None:
        return []
    wanted = capacity.size(state.old_colour)
    have = capacity.size(state.new_colour)
    steps: list[PlanStep] = []
    if wanted is not None and (have or 0) < wanted:
        steps.append(Resize(run, state.new_colour, state.release, wanted, capacity.unit,
                            f"the size of the live colour {state.old_colour}, before it "
                            "takes any traffic", before_traffic=True))
    return [*steps, WaitServing(run, state.new_colour, rollout.settings.ready_within,
                                before_traffic=True)]


def restore_steps(run: RolloutRun, state: RolloutState) -> list[PlanStep]:
    """Before a rollback's one write once the warm period is over: the old colour back at
    the size it had, then healthy. Inside the warm period: nothing (one write)."""
    rollout = run.rollout
    capacity = rollout.hooks.capacity
    ends = state.warm_ends
    warm = ends is None or rollout.clock.now() <= ends
    if capacity is None or state.status != Status.PROMOTED or warm:
        return []
    steps: list[PlanStep] = []
    if state.scaled_down_from:
        steps.append(Resize(run, state.old_colour, state.old_version, state.scaled_down_from,
                            capacity.unit, "the size it had before its warm period ended, "
                            "from its own deployed artefact"))
    return [*steps, WaitServing(run, state.old_colour, rollout.settings.ready_within)]


def _reap_refusal(rollout: CohortRollout, state: RolloutState | None) -> str | None:
    """Why the old colour may not be scaled down now; None when it may."""
    cohort = rollout.cohort.cohort
    if state is None or state.status != Status.PROMOTED:
        return f"cohort {cohort} has no promoted rollout whose old colour could be scaled down"
    old = state.old_colour
    ends = state.warm_ends
    if ends is not None and rollout.clock.now() < ends:
        until = f"{ends:%Y-%m-%d %H:%M} UTC"
        return (f"{old} ({state.old_version}) stays warm until {until}: until then a "
                "rollback is one listener write")
    weight = rollout.router.read_weights().get(old, 0)
    if weight:
        return f"{old} ({state.old_version}) still carries weight {weight}; it is not scaled down"
    pinned = sorted(tenant for tenant, colour in rollout.router.pins().items() if colour == old)
    if pinned:
        return (f"{old} ({state.old_version}) serves pinned tenants ({', '.join(pinned)}); "
                "it is not scaled down while they are on it")
    return None


def _reap(rollout: CohortRollout) -> CommandPlan | str:
    """The reap's plan, or why there is none; the state, the weights, the pins and the
    colour's size are each read once.

    A colour already scaled down gives a plan of no steps; one the ledger says was scaled
    down but that still has a size (a reap that crashed in between) is scaled down again.
    """
    state = rollout.state()
    capacity = rollout.hooks.capacity
    left = None
    if state is not None and state.status == Status.PROMOTED and state.scaled_down_at:
        left = capacity.size(state.old_colour) if capacity is not None else None
        if not left:
            return command_plan("reap", RolloutRun(rollout, state), [])
    refusal = _reap_refusal(rollout, state)
    if refusal is not None or state is None:
        return refusal or "no rollout"
    if left:
        size: int | None = state.scaled_down_from or left
    else:
        size = capacity.size(state.old_colour) if capacity is not None else None
    run = RolloutRun(rollout, state)
    return command_plan("reap", run, [ScaleDown(run, state.old_colour, state.old_version, size,
                                                capacity.unit if capacity else "")])


def reap_plan(rollout: CohortRollout) -> CommandPlan:
    """``rollout reap``: the old colour scaled down, or :class:`Blocked` saying why not."""
    made = _reap(rollout)
    if isinstance(made, str):
        raise Blocked(made)
    return made


def due_reap(rollout: CohortRollout) -> CommandPlan | None:
    """The reap ``status`` and ``step`` carry out on their way, when one is due and allowed."""
    made = _reap(rollout)
    return made if not isinstance(made, str) and made.plan.steps else None
