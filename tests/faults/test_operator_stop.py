"""An operator's stop always wins: abort and rollback need no lock, and are never undone.

A process driving a rollout (a CI job baking, a start stuck in a long preflight) keeps
the cohort's lock alive; an operator in another terminal still stops it at once, and
the driving process can never move traffic again. A third process whose clock is
ahead cannot take a live lock either: liveness is judged by the lock's record version
on the waiter's own monotonic clock, never by comparing two hosts' wall clocks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from rollout.rollouts.executor import load_state
from rollout.rollouts.state import Status
from tests.conftest import listener_weights
from tests.faults.conftest import SharedApp
from tests.faults.scenario import Scenario
from tests.forked_cli import ForkedProcess

pytestmark = pytest.mark.integration

OLD_ONLY = {"blue": 100, "green": 0}


@pytest.fixture(scope="module")
def scenario(shared_app: SharedApp) -> Scenario:
    return shared_app.scenario("stop", ["sable", "sorrel"], marker="stop")


def launch(scenario: Scenario, args: list[str]) -> ForkedProcess:
    return scenario.launch(args, scenario.environment())


def wait_until(what: str, condition: Callable[[], bool], limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError(f"never saw {what} within {limit} s")


def status_of(scenario: Scenario) -> Status | None:
    state = load_state(scenario.ledger, scenario.cohort)
    return state.status if state else None


def finish(process: ForkedProcess, limit: float = 30.0) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=limit)
    assert process.returncode is not None
    return process.returncode, out, err


def test_rollback_from_another_terminal_wins_while_a_job_bakes(fresh: Scenario) -> None:
    scenario = fresh
    baking = launch(scenario, scenario.start_args(strategy="linear:50:30s", lease="3s"))
    try:
        wait_until("the first step on the listener",
                   lambda: listener_weights(scenario.resources).get("green") == 50)
        stopped = scenario.run_here(scenario.command_args("rollback", "--reason", "bad build"))
        assert stopped.code == 0, stopped.stdout + stopped.stderr
        assert listener_weights(scenario.resources) == OLD_ONLY
        stopped_at = time.monotonic()
        code, out, _err = finish(baking)
        assert time.monotonic() - stopped_at < 5, "the baking job did not stop promptly"
    finally:
        baking.kill()
    assert code == 1, out
    assert "stopped by" in json.loads(out)["error"]
    assert listener_weights(scenario.resources) == OLD_ONLY
    state = load_state(scenario.ledger, scenario.cohort)
    assert state is not None and state.status == Status.ROLLED_BACK
    assert state.reason == "bad build"


def test_an_abort_during_a_long_preflight_is_never_undone(fresh: Scenario) -> None:
    """The repro of the audit: the holder's preflight outlives its lease."""
    scenario = fresh
    scenario.write_tenants(security_command="sleep 3")
    starting = launch(scenario, scenario.start_args(wait=False, lease="1s"))
    try:
        wait_until("the rollout in preflight", lambda: status_of(scenario) == Status.PREPARING)
        time.sleep(1.5)  # longer than the lease: it must have been renewed meanwhile
        aborted = scenario.run_here(scenario.command_args("abort", "--reason", "not today"))
        assert aborted.code == 0, aborted.stdout + aborted.stderr
        code, out, _err = finish(starting)
    finally:
        starting.kill()
    assert code == 1, out
    assert "stopped by" in json.loads(out)["error"]
    stepped = scenario.run_here(scenario.command_args("step"))
    assert stepped.code == 3, stepped.stdout
    assert listener_weights(scenario.resources) == OLD_ONLY
    state = load_state(scenario.ledger, scenario.cohort)
    assert state is not None and state.status == Status.ABORTED


def test_a_process_whose_clock_is_90s_ahead_cannot_take_a_live_lock(
        fresh: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = fresh
    baking = launch(scenario, scenario.start_args(strategy="canary:50:6s", lease="2s"))
    try:
        wait_until("the first step on the listener",
                   lambda: listener_weights(scenario.resources).get("green") == 50)
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + 90)
        refused = scenario.run_here(scenario.command_args("step"))
        monkeypatch.setattr(time, "time", real_time)
        code, out, err = finish(baking)
    finally:
        baking.kill()
    assert refused.code == 3, refused.stdout
    assert "alive" in json.loads(refused.stdout)["error"]
    assert code == 0, out + err
    state = load_state(scenario.ledger, scenario.cohort)
    assert state is not None and state.status == Status.PROMOTED
