"""``--dry-run`` of ``start``, ``rollback`` and ``pin`` against moto: exact, and harmless.

Each dry run must leave everything in moto as it was (every ledger item, the
listener's weights and rules, the tenants' parameters) and print exactly the step
lines the real run prints next; with ``--json`` it carries the same steps the real
run's JSON reports. The cohort is rolled out, pinned and rolled back twice: through
the text output, then through JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from rollout.cli import run
from rollout.cli.rollout_cmds import STEP_MARK
from rollout.discovery import CohortResources
from tests.cli_runner import address
from tests.conftest import Fleet, deploy_fleet, listener_weights
from tests.releases import EXAMPLE_NOTES
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration



@pytest.fixture(scope="module")
def dry_fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One cohort, one tenant opted out (so ``start`` pins it), noticed for 1.5.0."""
    fleet = deploy_fleet(tmp_path_factory.mktemp("dry-run"), {"canary": ["aurora", "birch"]},
                         versions={"blue": "1.4.2", "green": "1.5.0"})
    tenants = write_tenants(
        fleet.project_dir / "tenants.yaml", [cohort_entry("canary", "canary:50:1h")],
        [tenant_entry("aurora", "canary"),
         tenant_entry("birch", "canary", opted_out="month-end close")])
    with pytest.MonkeyPatch.context() as patch:
        address(patch, fleet, tenants)
        assert run(["notify", "--release", "1.5.0", "--notes", str(EXAMPLE_NOTES), "--tenants",
                    str(tenants), "--json"]) == 0
        yield fleet


def in_moto(fleet: Fleet, cohort: CohortResources) -> dict[str, Any]:
    """Everything a rollout command could change, read with plain boto3."""
    items = boto3.client("dynamodb").scan(TableName=fleet.shared.ledger_table)["Items"]
    elbv2 = boto3.client("elbv2", region_name=cohort.region)
    rules = [(rule["Priority"], rule["Conditions"], rule["Actions"])
             for rule in elbv2.describe_rules(ListenerArn=cohort.listener_arn)["Rules"]]
    ssm = boto3.client("ssm", region_name=cohort.region)
    parameters = {p["Name"]: (p["Value"], p["Version"]) for page in
                  ssm.get_paginator("get_parameters_by_path").paginate(
                      Path=cohort.param_prefix, Recursive=True, WithDecryption=True)
                  for p in page["Parameters"]}
    return {"ledger": sorted(json.dumps(item, sort_keys=True) for item in items),
            "weights": listener_weights(cohort), "rules": rules, "parameters": parameters}


def step_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(STEP_MARK)]


def compare_text(fleet: Fleet, cohort: str, args: list[str],
                 capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Dry run (nothing changes), then the real run; the step lines both printed."""
    resources = fleet.cohorts[cohort]
    before = in_moto(fleet, resources)
    capsys.readouterr()
    assert run([*args, "--cohort", cohort, "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert dry.splitlines()[0].startswith("dry run: nothing was changed")
    assert in_moto(fleet, resources) == before, "the dry run changed something in moto"
    assert run([*args, "--cohort", cohort]) == 0
    real = capsys.readouterr().out
    assert step_lines(dry) == step_lines(real) and step_lines(real)
    return step_lines(real)


def compare_json(fleet: Fleet, cohort: str, args: list[str],
                 capsys: pytest.CaptureFixture[str]) -> tuple[list[dict[str, Any]], Any]:
    resources = fleet.cohorts[cohort]
    before = in_moto(fleet, resources)
    capsys.readouterr()
    assert run([*args, "--cohort", cohort, "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)["plan"]
    assert dry["dry_run"] is True
    assert in_moto(fleet, resources) == before, "the dry run changed something in moto"
    assert run([*args, "--cohort", cohort, "--json"]) == 0
    real = json.loads(capsys.readouterr().out)
    assert real["plan"]["dry_run"] is False
    assert dry["steps"] == real["plan"]["steps"] and dry["steps"]
    return dry["steps"], real


START = ["start", "--release", "1.5.0"]
ROLLBACK = ["rollback", "--reason", "bad build"]


def test_start_rollback_and_pin_print_what_their_dry_runs_said(
        dry_fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    started = compare_text(dry_fleet, "canary", START, capsys)
    assert [line.split(":")[0] for line in started] == [
        "→ record the rollout of 1.5.0 to canary in the ledger", "→ preflight notice",
        "→ preflight config copy", "→ preflight security",
        "→ wait until green's targets are healthy (at most 10 min); otherwise abort the "
        "rollout with nothing moved",
        "→ keep 1 tenant(s) on blue (1.4.2) whatever the weights", "→ open a test route",
        "→ step 1/2 of canary"]
    resources = dry_fleet.cohorts["canary"]
    assert listener_weights(resources) == {"blue": 50, "green": 50}

    pinned = compare_text(dry_fleet, "canary",
                          ["pin", "--tenant", "aurora", "--colour", "green"], capsys)
    assert pinned == [f"{STEP_MARK}pin tenant aurora (aurora.{dry_fleet.app}.example) of canary "
                      "to green: its requests go there whatever the weights (pinned by "
                      "operator)"]

    rolled_back = compare_text(dry_fleet, "canary", ROLLBACK, capsys)
    assert [line.split(" ")[1] for line in rolled_back] == ["record", "all", "record", "carry"]
    assert listener_weights(resources) == {"blue": 100, "green": 0}


def test_with_json_the_dry_run_carries_the_steps_the_real_run_reports(
        dry_fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    steps, started = compare_json(dry_fleet, "canary", START, capsys)
    assert [step["kind"] for step in steps] == [
        "record-state", "preflight", "preflight", "preflight", "wait-healthy", "pin-tenants",
        "test-route", "set-weights"]
    assert steps[-1]["weights"] == {"green": 50, "blue": 50}
    assert started["status"] == "shifting"

    steps, pinned = compare_json(dry_fleet, "canary",
                                 ["pin", "--tenant", "aurora", "--colour", "blue"], capsys)
    assert [step["kind"] for step in steps] == ["pin-tenant"]
    assert pinned["pins"] == {"aurora": "blue", "birch": "blue"}

    steps, rolled_back = compare_json(dry_fleet, "canary", ROLLBACK, capsys)
    assert [step["kind"] for step in steps] == [
        "request-stop", "set-weights", "record-event", "carry-back"]
    assert rolled_back["status"] == "rolled_back" and rolled_back["reason"] == "bad build"
    assert listener_weights(dry_fleet.cohorts["canary"]) == {"blue": 100, "green": 0}
