"""The test route and the hooks with ``start --engine stepfunctions``, against moto.

The hooks before traffic run in the starting process, with the test route open, exactly as
in process; the route closes at the hand-over, and the execution takes the rollout to 100%.
Hooks that would have to run inside the workflow (after traffic, after promotion) refuse the
start with exit 2, nothing written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import pytest

from rollout.aws_clients import AwsClients
from rollout.rollouts.ledger import Ledger
from rollout.rollouts.state import RolloutState, Status
from rollout.routers.alb import AlbRouter
from rollout.vocabulary.ledger_keys import STATE_SK, cohort_pk
from tests.cli_runner import Finished, rollout_output
from tests.conftest import Fleet, deploy_fleet, listener_weights
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

RELEASE = "1.5.0"
TOLD = "told.json"
RECORD = ("import json, os, sys; json.dump({k: os.environ.get(k) for k in ('ROLLOUT_STAGE', "
          "'ROLLOUT_TEST_HEADER', 'ROLLOUT_TEST_TOKEN')}, open(sys.argv[1], 'w'))")


@pytest.fixture(scope="module")
def fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return deploy_fleet(tmp_path_factory.mktemp("test-route-workflow"),
                        {"w": ["aurora"], "late": ["birch"]},
                        versions={"blue": "1.4.2", "green": RELEASE})


def start(fleet: Fleet, tenants: Path, cohort: str) -> Finished:
    return rollout_output("start", "--cohort", cohort, "--release", RELEASE, "--engine",
                          "stepfunctions", "--override-notice", "workflow test",
                          "--check-every", "1s", "--tenants", str(tenants), fleet=fleet)


def state(fleet: Fleet, cohort: str) -> RolloutState | None:
    return Ledger(AwsClients(), fleet.shared.ledger_table).get(cohort_pk(cohort), STATE_SK,
                                                               RolloutState)


def test_hooks_before_traffic_run_before_the_hand_over_and_the_route_closes_there(
        fleet: Fleet, tmp_path: Path) -> None:
    told = tmp_path / TOLD
    tenants = write_tenants(tmp_path / "tenants.yaml", [cohort_entry(
        "w", "linear:50:1s", hooks={"after_test_traffic": [
            {"name": "record", "command": f"{sys.executable} -c \"{RECORD}\" {told}"}]})],
        [tenant_entry("aurora", "w")])

    started = start(fleet, tenants, "w")

    assert started.code == 0, started.stderr
    seen = json.loads(told.read_text())
    assert seen["ROLLOUT_STAGE"] == "after_test_traffic"
    assert seen["ROLLOUT_TEST_HEADER"] == "X-Rollout-Test" and seen["ROLLOUT_TEST_TOKEN"]
    assert seen["ROLLOUT_TEST_TOKEN"] not in started.stdout + started.stderr
    events = Ledger(AwsClients(), fleet.shared.ledger_table).events("w")
    kinds = [event.kind for event in events]
    assert kinds[kinds.index("test_route"):kinds.index("workflow") + 1] == [
        "test_route", "hook", "test_route", "workflow"]
    assert "Step Functions takes over" in events[kinds.index("workflow") - 1].message
    assert AlbRouter(fleet.clients, fleet.cohorts["w"]).test_route() is None
    wait_for(lambda: (found := state(fleet, "w")) is not None
             and found.status == Status.PROMOTED, within=30)
    assert listener_weights(fleet.cohorts["w"]) == {"blue": 0, "green": 100}


@pytest.mark.parametrize("stage", ["after_allow_traffic", "after_promote"])
def test_a_hook_the_workflow_would_have_to_run_refuses_the_start(
        fleet: Fleet, tmp_path: Path, stage: str) -> None:
    tenants = write_tenants(tmp_path / "tenants.yaml", [cohort_entry(
        "late", "linear:50:1s", hooks={stage: [{"name": "qa", "command": "true"}]})],
        [tenant_entry("birch", "late")])
    ledger = boto3.client("dynamodb").scan(TableName=fleet.shared.ledger_table)["Items"]

    refused = start(fleet, tenants, "late")

    assert refused.code == 2, refused.stderr
    assert f"hook {stage} qa cannot run inside a Step Functions workflow" in refused.stderr
    assert boto3.client("dynamodb").scan(TableName=fleet.shared.ledger_table)["Items"] == ledger
    assert listener_weights(fleet.cohorts["late"]) == {"blue": 100, "green": 0}
