"""The rules of progression: bake, hold, pause, roll back, promote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rollout.gates.base import GateResult, Verdict
from rollout.rollouts.progression import (
    Advance,
    Hold,
    Pause,
    ProgressionSettings,
    Promote,
    RollBack,
    decide,
)
from rollout.rollouts.state import RolloutState
from rollout.rollouts.strategy import parse_strategy

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

DEFAULT = ProgressionSettings()
THREE_TRIES = ProgressionSettings(max_inconclusive=3)


def state(step_index: int = -1, inconclusive: int = 0) -> RolloutState:
    return RolloutState(
        cohort="canary", release="1.5.0", old_version="1.4.2", old_colour="blue",
        new_colour="green", strategy="linear:25:1m", steps=parse_strategy("linear:25:1m").steps,
        step_index=step_index, weights={"blue": 100, "green": 0}, started_at=T0,
        updated_at=T0, step_started_at=T0, versions={"blue": "1.4.2", "green": "1.5.0"},
        last_known_good="1.4.2", inconclusive_checks=inconclusive)


def result(verdict: Verdict, gate: str = "errors") -> GateResult:
    return GateResult(gate=gate, verdict=verdict, reason="because", metric="error-rate",
                      observed=0.05, threshold=0.01)


def test_first_action_is_the_first_step() -> None:
    assert decide(state(), T0, [], DEFAULT) == Advance(0, {"green": 25, "blue": 75})


def test_holds_while_baking_even_when_gates_pass() -> None:
    action = decide(state(0), T0 + timedelta(seconds=20), [result(Verdict.PASS)], DEFAULT)
    assert isinstance(action, Hold)
    assert action.bake_left == 40


def test_a_failure_during_the_bake_rolls_back_at_once() -> None:
    action = decide(state(1), T0 + timedelta(seconds=5), [result(Verdict.FAIL)], DEFAULT)
    assert isinstance(action, RollBack)
    assert action.failure.gate == "errors"


def test_advances_when_baked_and_green() -> None:
    action = decide(state(1), T0 + timedelta(minutes=1), [result(Verdict.PASS)], DEFAULT)
    assert action == Advance(2, {"green": 75, "blue": 25})


def test_no_data_is_never_a_pass() -> None:
    action = decide(state(1), T0 + timedelta(minutes=2), [result(Verdict.INCONCLUSIVE)],
                    THREE_TRIES)
    assert isinstance(action, Hold)


def test_too_many_inconclusive_checks_pause_for_a_human() -> None:
    action = decide(state(1, inconclusive=2), T0 + timedelta(minutes=2),
                    [result(Verdict.INCONCLUSIVE)], THREE_TRIES)
    assert isinstance(action, Pause)
    assert "rollout promote --cohort canary" in action.reason


def test_waiting_for_approval_pauses_at_once() -> None:
    action = decide(state(1), T0 + timedelta(minutes=2),
                    [result(Verdict.INCONCLUSIVE, gate="manual")], DEFAULT, {"manual"})
    assert isinstance(action, Pause)


def test_last_step_baked_promotes() -> None:
    assert decide(state(3), T0 + timedelta(minutes=1), [], DEFAULT) == Promote()


def test_a_dry_run_gate_s_failure_or_missing_data_never_stops_a_step() -> None:
    failing = result(Verdict.FAIL).model_copy(update={"dry_run": True})
    starved = result(Verdict.INCONCLUSIVE, "p99").model_copy(update={"dry_run": True})
    baked = T0 + timedelta(minutes=1)
    assert decide(state(1), baked, [failing, starved, result(Verdict.PASS, "alarm")],
                  DEFAULT) == Advance(2, {"green": 75, "blue": 25})
    assert isinstance(decide(state(1), baked, [failing, result(Verdict.FAIL, "alarm")],
                             DEFAULT), RollBack)
