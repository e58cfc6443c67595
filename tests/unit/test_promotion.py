"""The stage gate: a release leaves a cohort only promoted, baked and green."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollout.errors import Blocked
from rollout.gates.base import GateResult, Verdict
from rollout.model.tenants import Cohort
from rollout.rollouts.stage_gate import (
    StageGateSettings,
    check_stage_gate,
    decide_stage_gate,
)
from rollout.rollouts.state import RolloutState, Status
from rollout.rollouts.strategy import parse_strategy
from rollout.vocabulary.durations import human_duration

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
THIRTY_MINUTES = StageGateSettings(min_bake_seconds=30 * 60)


def canary_state(**changes: Any) -> RolloutState:
    """Canary's ledger state: 1.5.0 promoted on green an hour ago, gates green."""
    base: dict[str, Any] = {
        "cohort": "canary", "release": "1.5.0", "old_version": "1.4.2",
        "old_colour": "blue", "new_colour": "green", "strategy": "linear:20:5m",
        "steps": parse_strategy("linear:20:5m").steps, "step_index": 4,
        "weights": {"blue": 0, "green": 100}, "status": Status.PROMOTED,
        "started_at": NOW - timedelta(hours=2), "updated_at": NOW - timedelta(hours=1),
        "promoted_at": NOW - timedelta(hours=1), "versions": {"blue": "1.4.2", "green": "1.5.0"},
        "last_known_good": "1.4.2",
        "last_gate_results": [GateResult(gate="alarm", verdict=Verdict.PASS, reason="OK")],
    }
    return RolloutState.model_validate({**base, **changes})


def decide(state: RolloutState | None, release: str = "1.5.0") -> tuple[bool, str]:
    decision = decide_stage_gate(state, source="canary", target="wave1", release=release,
                                now=NOW, settings=THIRTY_MINUTES)
    return decision.allowed, decision.message


def test_promoted_baked_and_green_may_move_on() -> None:
    assert decide(canary_state()) == (
        True, "canary promoted 1.5.0 1 h ago (minimum bake 30 min) with all gates green; "
              "wave1 may start")


def test_still_shifting_names_the_status_and_step() -> None:
    state = canary_state(status=Status.SHIFTING, step_index=1, promoted_at=None,
                         weights={"blue": 60, "green": 40})
    assert decide(state) == (False, "canary is not promoted yet (status shifting at step 2/5)")


def test_preparing_says_no_traffic_moved() -> None:
    state = canary_state(status=Status.PREPARING, step_index=-1, promoted_at=None)
    assert decide(state)[1] == ("canary is not promoted yet "
                                "(status preparing, no traffic moved yet)")


def test_not_baked_long_enough_says_how_long_is_left() -> None:
    state = canary_state(promoted_at=NOW - timedelta(minutes=3, seconds=20))
    assert decide(state) == (False, "canary promoted 1.5.0 3 min ago; it must bake 30 min "
                                    "before wave1 (26 min to go)")


def test_baked_exactly_the_minimum_is_enough() -> None:
    assert decide(canary_state(promoted_at=NOW - timedelta(minutes=30)))[0] is True


def test_a_different_release_in_the_source_cohort_is_refused() -> None:
    assert decide(canary_state(), release="1.6.0") == (
        False, "canary runs release 1.5.0, not 1.6.0; roll 1.6.0 out to canary first")


def test_no_rollout_at_all_is_refused() -> None:
    assert decide(None) == (False, "canary has no rollout yet; roll 1.5.0 out to canary first")


def test_rolled_back_and_aborted_rollouts_are_refused_with_the_reason() -> None:
    rolled_back = canary_state(status=Status.ROLLED_BACK, reason="alarm api-5xx in ALARM")
    aborted = canary_state(status=Status.ABORTED)
    assert decide(rolled_back)[1] == "canary rolled 1.5.0 back: alarm api-5xx in ALARM"
    assert decide(aborted)[1] == "canary's rollout of 1.5.0 was aborted"


@pytest.mark.parametrize("verdict", [Verdict.FAIL, Verdict.INCONCLUSIVE])
def test_gates_that_are_not_green_are_refused(verdict: Verdict) -> None:
    state = canary_state(last_gate_results=[
        GateResult(gate="alarm", verdict=Verdict.PASS, reason="OK"),
        GateResult(gate="sla", verdict=verdict, reason="error budget 12% left")])
    assert decide(state) == (False, f"canary's gates are not green: sla was {verdict.value} "
                                    "(error budget 12% left)")


def test_check_raises_blocked_with_the_reason_and_defaults_to_the_clock() -> None:
    fresh = canary_state(promoted_at=datetime.now(UTC) - timedelta(minutes=5))
    with pytest.raises(Blocked, match=r"^cannot promote 1\.5\.0 from canary to wave1: canary "
                                      r"promoted 1\.5\.0 5 min ago; it must bake 30 min"):
        check_stage_gate(fresh, source="canary", target="wave1", release="1.5.0")
    allowed = check_stage_gate(canary_state(), source="canary", target="wave1",
                               release="1.5.0", now=NOW, settings=THIRTY_MINUTES)
    assert allowed.allowed


def test_a_zero_bake_promotes_immediately() -> None:
    state = canary_state(promoted_at=NOW)
    decision = decide_stage_gate(state, source="canary", target="wave1", release="1.5.0",
                                 now=NOW, settings=StageGateSettings(min_bake_seconds=0))
    assert decision.allowed


@pytest.mark.parametrize(("min_gap", "bake"), [(None, 30 * 60.0), ("2h", 7200.0),
                                                ("0s", 30 * 60.0)])
def test_the_next_cohort_s_min_gap_is_the_bake_it_asks_for(min_gap: str | None,
                                                           bake: float) -> None:
    gap = {"min_gap": min_gap} if min_gap else {}
    wave1 = Cohort.model_validate({"name": "wave1", "order": 2, **gap})
    assert StageGateSettings.for_target(wave1).min_bake_seconds == bake


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0 s"), (59.9, "59 s"), (60, "1 min"), (3599, "59 min"), (3600, "1 h"),
    (7500, "2 h 5 min"), (-5, "0 s")])
def test_durations_read_like_a_clock(seconds: float, shown: str) -> None:
    assert human_duration(seconds) == shown
