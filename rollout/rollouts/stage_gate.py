"""The stage gate: may a release move on from one cohort to the next?

Pure: the caller reads the source cohort's :class:`RolloutState` from the ledger
and passes the clock in. A release may leave a cohort only once that cohort runs
it promoted, has baked for the minimum time since promotion, and its last gate
checks were all green. Every refusal says what is missing and for how long, so
a pipeline log alone tells the on-call engineer what to wait for.

This is ``rollout promote --from A --to B --release V``; approving a step that waits
(``rollout promote --cohort``) is :meth:`rollout.rollouts.executor.CohortRollout.approve`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from rollout.errors import Blocked
from rollout.gates.base import Verdict, obeyed
from rollout.model.tenants import Cohort
from rollout.rollouts.state import RolloutState, Status
from rollout.vocabulary.clock import utc_now
from rollout.vocabulary.durations import human_duration

DEFAULT_MIN_BAKE_SECONDS = 30 * 60.0


class StageGateSettings(BaseModel):
    """How long a cohort must run a promoted release before the next cohort may get it."""

    model_config = ConfigDict(frozen=True)

    min_bake_seconds: float = Field(default=DEFAULT_MIN_BAKE_SECONDS, ge=0)

    @classmethod
    def for_target(cls, target: Cohort) -> StageGateSettings:
        """The bake the next cohort asks for: its ``min_gap``, 30 minutes when it has none."""
        if target.min_gap:
            return cls(min_bake_seconds=target.min_gap.total_seconds())
        return cls()


class StageGateDecision(BaseModel):
    """Allowed or not, and the one line (``message``) that says why."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    message: str
    source: str
    target: str
    release: str


def _progress(state: RolloutState) -> str:
    if state.step_index < 0:
        return f"status {state.status.value}, no traffic moved yet"
    return f"status {state.status.value} at step {state.step_index + 1}/{len(state.steps)}"


def _refusal(state: RolloutState | None, source: str, release: str) -> str | None:
    if state is None:
        return f"{source} has no rollout yet; roll {release} out to {source} first"
    if state.release != release:
        return (f"{source} runs release {state.release}, not {release}; "
                f"roll {release} out to {source} first")
    if state.status == Status.ROLLED_BACK:
        why = f": {state.reason}" if state.reason else ""
        return f"{source} rolled {release} back{why}"
    if state.status == Status.ABORTED:
        return f"{source}'s rollout of {release} was aborted"
    if state.status != Status.PROMOTED or state.promoted_at is None:
        return f"{source} is not promoted yet ({_progress(state)})"
    failing = [r for r in obeyed(state.last_gate_results) if r.verdict != Verdict.PASS]
    if state.failure is not None:
        failing.insert(0, state.failure)
    if failing:
        first = failing[0]
        return (f"{source}'s gates are not green: {first.gate} was {first.verdict.value} "
                f"({first.reason})")
    return None


def decide_stage_gate(state: RolloutState | None, *, source: str, target: str, release: str,
                      now: datetime, settings: StageGateSettings | None = None,
                      ) -> StageGateDecision:
    """Whether ``release`` may go from cohort ``source`` (in ``state``) to cohort ``target``."""
    settings = settings or StageGateSettings()

    def decision(allowed: bool, reason: str) -> StageGateDecision:
        return StageGateDecision(allowed=allowed, message=reason, source=source, target=target,
                                 release=release)

    refusal = _refusal(state, source, release)
    if refusal is not None:
        return decision(False, refusal)
    assert state is not None and state.promoted_at is not None
    baked = (now - state.promoted_at).total_seconds()
    need = human_duration(settings.min_bake_seconds)
    if baked < settings.min_bake_seconds:
        return decision(False, f"{source} promoted {release} {human_duration(baked)} ago; "
                               f"it must bake {need} before {target} "
                               f"({human_duration(settings.min_bake_seconds - baked)} to go)")
    return decision(True, f"{source} promoted {release} {human_duration(baked)} ago "
                          f"(minimum bake {need}) with all gates green; {target} may start")


def check_stage_gate(state: RolloutState | None, *, source: str, target: str,
                     release: str, now: datetime | None = None,
                     settings: StageGateSettings | None = None) -> StageGateDecision:
    """:func:`decide_stage_gate` at ``now`` (default: the clock), raising :class:`Blocked`.

    This is what ``rollout promote --from A --to B --release V`` calls: exit 3 with
    the reason when the release may not move on yet.
    """
    decided = decide_stage_gate(state, source=source, target=target, release=release,
                                now=now or utc_now(), settings=settings)
    if not decided.allowed:
        raise Blocked(f"cannot promote {release} from {source} to {target}: {decided.message}")
    return decided
