"""A dry-run gate that fails never blocks, and what it would have done is on record."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from rollout.aws_clients import AwsClients
from rollout.rollouts.ledger import Ledger
from tests.alarms import put_5xx_alarm
from tests.cli_runner import rollout_output
from tests.conftest import deploy_fleet, listener_weights
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

RELEASE = "1.5.0"


def test_a_failing_dry_run_gate_never_blocks_and_shows_in_status_ledger_and_report(
        moto_endpoint: str, tmp_path: Path) -> None:
    fleet = deploy_fleet(tmp_path, {"canary": ["aurora"]},
                         versions={"blue": "1.4.2", "green": RELEASE})
    cloudwatch = boto3.client("cloudwatch")
    watched = put_5xx_alarm(cloudwatch, f"{fleet.app}-new-gate", state="ALARM",
                            reason="Threshold Crossed: 12 errors")
    healthy = put_5xx_alarm(cloudwatch, f"{fleet.app}-5xx")
    tenants = write_tenants(tmp_path / "tenants.yaml", [cohort_entry(
        "canary", "linear:50:1s", gates=[
            {"kind": "alarm", "alarms": [watched], "name": "new 5xx", "dry_run": True},
            {"kind": "alarm", "alarms": [healthy], "name": "5xx"}])],
        [tenant_entry("aurora", "canary")])

    def run(*args: str) -> str:
        done = rollout_output(*args, "--cohort", "canary", "--tenants", str(tenants),
                              "--json", fleet=fleet)
        assert done.code == 0, done.stderr
        return done.stdout

    refused = rollout_output("start", "--cohort", "canary", "--release", RELEASE,
                             "--tenants", str(tenants), "--engine", "stepfunctions",
                             "--override-notice", "test", "--dry-run", fleet=fleet)
    assert refused.code == 2 and "'new 5xx'" in refused.stderr

    finished = json.loads(run("start", "--release", RELEASE, "--wait", "--check-every",
                              "0.2s", "--override-notice", "dry-run gate test"))
    assert finished["status"] == "promoted"
    assert listener_weights(fleet.cohorts["canary"]) == {"blue": 0, "green": 100}
    shown = {g["gate"]: (g["verdict"], g["dry_run"]) for g in finished["last_gate_results"]}
    assert shown == {"new 5xx": ("fail", True), "5xx": ("pass", False)}

    events = Ledger(AwsClients(), fleet.shared.ledger_table).events("canary")
    dry = [e for e in events if e.kind == "dry_run"]
    assert [e.message.split(":")[0] for e in dry] == [
        "dry-run gate new 5xx would have rolled back step 1",
        "dry-run gate new 5xx would have rolled back step 2"]
    assert "rolled_back" not in {e.kind for e in events}

    page = tmp_path / "report.html"
    report = rollout_output("report", "--html", str(page), fleet=fleet)
    assert report.code == 0, report.stderr
    assert "new 5xx (dry run: not obeyed)" in page.read_text()
