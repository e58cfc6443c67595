"""Crashes and AWS faults mid-rollout: ``rollout resume`` converges and nothing is lost.

Converged means what a user checks: the listener routes by the weights the ledger
records, the new colour holds every tenant setting of the old one
(``ConfigCopier.diff`` says equal), the live colour still holds what tenants
wrote, and the event history is numbered without gaps, records every step once
and the outcome once. ``bench/fault_matrix.py`` runs every injection point; these
tests run a representative few (each step boundary of a two-step strategy, each
gap between a router write and its ledger writes, each kind of AWS fault).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollout.rollouts.executor import load_state
from rollout.rollouts.state import Status
from tests.conftest import listener_weights
from tests.faults.conftest import SharedApp
from tests.faults.convergence import check
from tests.faults.crashes import CRASH_EXIT
from tests.faults.injector import FaultInjector, compressed_backoff, parse_rules
from tests.faults.scenario import CHECK_EVERY, LEASE, Scenario

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scenario(shared_app: SharedApp) -> Scenario:
    return shared_app.scenario("crashy", ["alder", "beech", "cedar"])


def resume(scenario: Scenario) -> dict[str, object]:
    scenario.wait_for_lease()
    done = scenario.run_here(scenario.command_args("resume", "--check-every", CHECK_EVERY))
    assert done.code == 0, done.stdout + done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def step_events(scenario: Scenario) -> list[int]:
    state = load_state(scenario.ledger, scenario.cohort)
    assert state is not None
    begun = state.started_at.isoformat()
    return [int(e.data["step"]) for e in scenario.ledger.events(scenario.cohort)
            if e.kind == "step" and str(e.data["key"]).startswith(begun)]


def crash(scenario: Scenario, args: list[str], point: str) -> None:
    """Run ``args`` until ``point`` kills it; the crash must really have happened."""
    scenario.wait_for_lease()
    done = scenario.run_faulty(args, crash=point)
    assert done.code == CRASH_EXIT, f"{point} was never reached: {done.stdout}{done.stderr}"


def test_resume_converges_after_a_crash_at_every_step_boundary_and_write_gap(
        fresh: Scenario) -> None:
    """One rollout, killed five times, each time at a different kind of point.

    Every kill leaves something to repair (the assertions after each say what), and
    each next command repairs it before it goes on and is killed further along.
    """
    scenario = fresh
    resume_args = scenario.command_args("resume", "--check-every", CHECK_EVERY, "--lease",
                                        LEASE)
    cohort = scenario.resources

    crash(scenario, scenario.start_args(), "event[started]:after:1")
    state = load_state(scenario.ledger, scenario.cohort)
    assert state is not None and state.status == Status.PREPARING  # killed mid-preflight

    crash(scenario, resume_args, "route:before:1")
    state = load_state(scenario.ledger, scenario.cohort)
    assert state is not None and state.step_index == 0
    assert state.weights == {"blue": 50, "green": 50}
    assert listener_weights(cohort) == {"blue": 100, "green": 0}  # ledger ahead of the ALB
    assert check(scenario.fleet, scenario.cohort, scenario.seeded).unequal_settings == []

    # a cron's `step`, not `resume`, comes next: it must repair the listener before it
    # bakes and gates a step the listener never had; it dies at the step boundary
    crash(scenario, scenario.command_args("step"), "event[step]:after:1")
    assert listener_weights(cohort) == {"blue": 50, "green": 50}
    assert step_events(scenario) == [0]
    scenario.expire_lease()  # `step` holds its lock for 60 s; skip the wait

    crash(scenario, resume_args, "route:after:1")  # the ALB moved, its event unwritten
    assert listener_weights(cohort) == {"blue": 0, "green": 100}
    assert step_events(scenario) == [0]

    crash(scenario, resume_args, "event[promoted]:before:1")  # outcome saved, not recorded
    state = load_state(scenario.ledger, scenario.cohort)
    assert state is not None and state.status == Status.PROMOTED
    assert check(scenario.fleet, scenario.cohort, scenario.seeded).terminal_events == 0

    assert resume(scenario)["status"] == "promoted"
    outcome = check(scenario.fleet, scenario.cohort, scenario.seeded)
    assert outcome.problems("promoted") == []
    assert outcome.lost == 0
    assert outcome.settings_compared == len(scenario.seeded)


def test_a_crash_between_the_rollback_write_and_its_event_is_finished_by_resume(
        fresh: Scenario) -> None:
    scenario = fresh
    started = scenario.run_here(scenario.start_args(wait=False, strategy="canary:50:1h"))
    assert started.code == 0, started.stderr
    assert listener_weights(scenario.resources) == {"blue": 50, "green": 50}

    crash(scenario, scenario.command_args("rollback", "--reason", "drill"), "route:after:1")
    assert listener_weights(scenario.resources) == {"blue": 100, "green": 0}
    assert check(scenario.fleet, scenario.cohort, scenario.seeded).terminal_events == 0
    scenario.expire_lease()  # rollback holds its lock for 60 s; skip the wait

    assert resume(scenario)["status"] == "rolled_back"
    outcome = check(scenario.fleet, scenario.cohort, scenario.seeded)
    assert outcome.problems("rolled_back") == []
    assert outcome.lost == 0
    kinds = [e.kind for e in scenario.ledger.events(scenario.cohort)]
    assert kinds[-2:] == ["rolled_back", "config"]  # the carry-back ran after the outcome


def test_a_rollback_killed_before_its_one_write_is_finished_by_rollback_again(
        fresh: Scenario) -> None:
    """The stop request and the state are saved, the listener not yet written."""
    scenario = fresh
    started = scenario.run_here(scenario.start_args(wait=False, strategy="canary:50:1h"))
    assert started.code == 0, started.stderr
    crash(scenario, scenario.command_args("rollback", "--reason", "drill"), "route:before:1")
    assert listener_weights(scenario.resources) == {"blue": 50, "green": 50}

    again = scenario.run_here(scenario.command_args("rollback", "--reason", "drill"))
    assert again.code == 0, again.stdout + again.stderr
    outcome = check(scenario.fleet, scenario.cohort, scenario.seeded)
    assert outcome.problems("rolled_back") == []
    assert outcome.lost == 0


TRANSIENT = (
    "dynamodb.PutItem#1:read-timeout*1,"        # the lock: taken, answer lost, retried
    "dynamodb.PutItem#3:read-timeout*1,"        # the 'started' event: written twice
    "ssm.GetParameters#1:connection-reset*2,"   # reading the old colour's values
    "ssm.PutParameter#2:throttling*3,"          # copying a setting
    "elbv2.DescribeListeners#2:http-500*3,"
    "dynamodb.UpdateItem#1:throttling*2,"       # renewing the lease
    "elbv2.ModifyListener#1:read-timeout*1"     # the first weight write, applied unseen
)


def test_transient_aws_faults_are_absorbed_without_a_trace(fresh: Scenario) -> None:
    scenario = fresh
    injector = FaultInjector(parse_rules(TRANSIENT))
    with compressed_backoff(0.02), injector.installed():
        done = scenario.run_here(scenario.start_args())
    assert done.code == 0, done.stdout + done.stderr
    assert {fired.rule for fired in injector.fired} == {r.spec for r in injector.rules}
    outcome = check(scenario.fleet, scenario.cohort, scenario.seeded)
    assert outcome.problems("promoted") == []
    assert outcome.lost == 0


@pytest.mark.parametrize("fault", [
    pytest.param("elbv2.ModifyListener#2:http-500*100", id="weight-write-500"),
    pytest.param("dynamodb.PutItem#4:connection-reset*100", id="ledger-unreachable"),
])
def test_a_persistent_aws_fault_stops_the_command_and_resume_finishes(
        fresh: Scenario, fault: str, tmp_path: Path) -> None:
    scenario = fresh
    injector = FaultInjector(parse_rules(fault))
    with compressed_backoff(0.02), injector.installed():
        failed = scenario.run_here(scenario.start_args())
    assert failed.code == 1, failed.stdout
    error = json.loads(failed.stdout)["error"]
    assert "\n" not in error and ("InternalFailure" in error or "cannot reach AWS" in error)
    assert len(injector.fired) >= 8  # every attempt botocore made failed
    assert resume(scenario)["status"] == "promoted"
    outcome = check(scenario.fleet, scenario.cohort, scenario.seeded)
    assert outcome.problems("promoted") == []
    assert outcome.lost == 0
