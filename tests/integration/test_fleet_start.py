"""``rollout fleet start`` walks a release through the fleet on Step Functions, a cohort
at a time: each run starts the cohort whose turn and slot have come, and says what the
others wait for; between runs no process of ours is alive."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from rollout.aws_clients import AwsClients
from rollout.rollouts.ledger import Ledger
from rollout.rollouts.state import RolloutState, Status
from rollout.vocabulary.ledger_keys import STATE_SK, cohort_pk
from tests.cli_runner import Finished, rollout_output
from tests.conftest import Fleet, deploy_fleet, listener_weights
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

RELEASE = "1.5.0"
OLD = {"blue": 100, "green": 0}
NEW = {"blue": 0, "green": 100}
GAP = 3.0
"""wave1's min_gap, in seconds: how long canary must run the release promoted first."""


@pytest.fixture(scope="module")
def fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    base = tmp_path_factory.mktemp("fleet-start")
    deployed = deploy_fleet(base, {"canary": ["aurora"], "wave1": ["birch"]},
                            versions={"blue": "1.4.2", "green": RELEASE})
    write_tenants(deployed.project_dir / "tenants.yaml", [
        cohort_entry("canary", "linear:50:1s"),
        cohort_entry("wave1", "linear:50:1s", min_gap=f"{GAP:g}s")],
        [tenant_entry("aurora", "canary"), tenant_entry("birch", "wave1")])
    return deployed


def fleet_start(fleet: Fleet, *extra: str) -> Finished:
    tenants = str(fleet.project_dir / "tenants.yaml")
    return rollout_output("fleet", "start", "--release", RELEASE, "--tenants", tenants,
                          "--engine", "stepfunctions", "--check-every", "1s",
                          "--override-notice", "fleet start test", *extra,
                          fleet=fleet)


def moves(finished: Finished) -> dict[str, tuple[str, str]]:
    assert finished.code == 0, finished.stderr
    document: dict[str, Any] = json.loads(finished.stdout)
    return {m["cohort"]: (m["move"], m["reason"]) for m in document["cohorts"]}


def state(fleet: Fleet, cohort: str) -> RolloutState | None:
    ledger = Ledger(AwsClients(), fleet.shared.ledger_table)
    return ledger.get(cohort_pk(cohort), STATE_SK, RolloutState)


def promoted(fleet: Fleet, cohort: str) -> bool:
    found = state(fleet, cohort)
    return found is not None and found.status == Status.PROMOTED


def test_each_run_starts_the_cohort_whose_turn_has_come_until_the_fleet_is_done(
        fleet: Fleet) -> None:
    dry = fleet_start(fleet, "--dry-run")
    assert dry.code == 0, dry.stderr
    assert "canary: start: its slot" in dry.stdout and "wave1: wait: waits for canary" in dry.stdout
    assert "dry run: nothing was changed" in dry.stdout
    assert state(fleet, "canary") is None

    first = fleet_start(fleet, "--json")
    found = moves(first)
    assert found["canary"][0] == "start" and found["wave1"] == ("wait", "waits for canary")
    started = json.loads(first.stdout)["started"]
    assert started["cohort"] == "canary" and started["execution"].startswith("arn:aws:states:")
    wait_for(lambda: promoted(fleet, "canary"), within=30, every=0.25)
    assert listener_weights(fleet.cohorts["canary"]) == NEW

    early = moves(fleet_start(fleet, "--json"))
    assert early["canary"] == ("done", f"runs {RELEASE}, promoted")
    assert early["wave1"][0] == "wait" and "before wave1" in early["wave1"][1]
    assert listener_weights(fleet.cohorts["wave1"]) == OLD

    canary = state(fleet, "canary")
    assert canary is not None and canary.promoted_at is not None
    time.sleep(max(0.0, canary.promoted_at.timestamp() + GAP - time.time()))
    second = fleet_start(fleet)
    assert second.code == 0, second.stderr
    assert "wave1: start: its slot" in second.stdout
    assert "nothing of ours needs to run" in second.stdout
    wait_for(lambda: promoted(fleet, "wave1"), within=30, every=0.25)
    assert listener_weights(fleet.cohorts["wave1"]) == NEW

    done = fleet_start(fleet, "--json")
    assert {c: m for c, (m, _) in moves(done).items()} == {"canary": "done", "wave1": "done"}
    assert json.loads(done.stdout)["started"] is None


def test_a_cohort_that_rolled_back_stops_the_fleet_with_exit_3(fleet: Fleet) -> None:
    wait_for(lambda: promoted(fleet, "wave1"), within=60, every=0.25)
    assert rollout_output("rollback", "--cohort", "wave1", "--reason", "customer report",
                          fleet=fleet).code == 0
    stopped = fleet_start(fleet)
    assert stopped.code == 3
    assert "wave1: stopped: rolled back" in stopped.stdout
    assert "cohort wave1 rolled back 1.5.0: customer report" in stopped.stderr
