"""What a rollout should do next, decided from its state, the clock and the gate results.

Pure and boto3-free: the executor carries out what :func:`decide` returns, so every
rule of progression (bake, hold on inconclusive, pause for a human, roll back on
failure, promote at 100%) is tested in microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rollout.gates.base import GateResult, Verdict, obeyed
from rollout.rollouts.state import RolloutState
from rollout.vocabulary.colours import Colour


@dataclass(frozen=True)
class ProgressionSettings:
    """How patient the executor is."""

    max_inconclusive: int = 10


@dataclass(frozen=True)
class Advance:
    """Move to step ``index``: route by ``weights``."""

    index: int
    weights: dict[Colour, int]


@dataclass(frozen=True)
class Hold:
    """Stay on this step: still baking, or gates not yet conclusive."""

    reason: str
    bake_left: float


@dataclass(frozen=True)
class Pause:
    """Stop and wait for a human (too many inconclusive checks, or an approval)."""

    reason: str


@dataclass(frozen=True)
class RollBack:
    """A gate failed: all traffic back to the old colour, in one write."""

    failure: GateResult


@dataclass(frozen=True)
class Promote:
    """The last step baked with all gates green: the new colour is live."""


Action = Advance | Hold | Pause | RollBack | Promote


def step_weights(state: RolloutState, index: int) -> dict[Colour, int]:
    """Weights of step ``index``: its percentage to the new colour, the rest to the old."""
    weight = state.steps[index].weight
    return {state.new_colour: weight, state.old_colour: 100 - weight}


def bake_left(state: RolloutState, now: datetime) -> float:
    """Seconds of bake left on the current step (0 before the first step)."""
    if state.step_index < 0 or state.step_started_at is None:
        return 0.0
    baked = (now - state.step_started_at).total_seconds()
    return max(0.0, state.steps[state.step_index].bake_seconds - baked)


def decide(state: RolloutState, now: datetime, results: list[GateResult],
           settings: ProgressionSettings, waiting_for_human: set[str] | None = None) -> Action:
    """The next action for an active rollout.

    ``waiting_for_human`` names gates whose inconclusive result means "waiting for an
    approval": they pause the rollout at once instead of counting towards the limit.
    """
    waiting = waiting_for_human or set()
    results = obeyed(results)
    failed = [r for r in results if r.verdict == Verdict.FAIL]
    if failed:
        return RollBack(failed[0])
    if state.step_index < 0:
        return Advance(0, step_weights(state, 0))
    left = bake_left(state, now)
    pending = [r for r in results if r.verdict == Verdict.INCONCLUSIVE]
    approvals = [r for r in pending if r.gate in waiting]
    if left > 0:
        return Hold(f"baking step {state.step_index + 1}/{len(state.steps)}", left)
    if approvals:
        return Pause(approvals[0].reason)
    if pending:
        if state.inconclusive_checks + 1 >= settings.max_inconclusive:
            return Pause(f"{state.inconclusive_checks + 1} inconclusive checks in a row "
                         f"({pending[0].gate}: {pending[0].reason}); a human must decide: "
                         f"`rollout promote --cohort {state.cohort}` to go on, "
                         f"`rollout rollback --cohort {state.cohort}` to go back")
        return Hold(f"gates inconclusive: {pending[0].gate}: {pending[0].reason}", 0.0)
    if state.step_index + 1 < len(state.steps):
        return Advance(state.step_index + 1, step_weights(state, state.step_index + 1))
    return Promote()
