"""Losing the ledger must not strand traffic: rollback still makes its one write.

Deleting the ledger table at the 50% step used to leave the listener at 50/50 with
both ``status`` and ``rollback`` failing. Now ``rollback`` names what each colour runs
and, with ``--to-colour``, writes all traffic there in one write and says the ledger is
gone (exit 1); ``status`` shows the real weights and that the ledger cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from rollout.cli import run
from tests.cli_runner import address
from tests.conftest import deploy_fleet, listener_weights
from tests.releases import EXAMPLE_NOTES
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration


def test_rollback_without_a_ledger_moves_traffic_back(
        moto_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = deploy_fleet(tmp_path, {"canary": ["aurora"]},
                         versions={"blue": "1.4.2", "green": "1.5.0"})
    address(monkeypatch, fleet)
    tenants = write_tenants(tmp_path / "tenants.yaml", [cohort_entry("canary", "canary:50:1h")],
                            [tenant_entry("aurora", "canary")])
    assert run(["notify", "--release", "1.5.0", "--tenants", str(tenants), "--notes",
                str(EXAMPLE_NOTES), "--json"]) == 0
    assert run(["start", "--cohort", "canary", "--release", "1.5.0", "--tenants",
                str(tenants), "--json"]) == 0
    cohort = fleet.cohorts["canary"]
    assert listener_weights(cohort) == {"blue": 50, "green": 50}
    dynamodb = boto3.client("dynamodb")
    dynamodb.update_table(TableName=cohort.ledger_table, DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName=cohort.ledger_table)
    capsys.readouterr()

    code = run(["rollback", "--cohort", "canary", "--tenants", str(tenants), "--json"])
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == 1, error
    assert "blue runs 1.4.2 (50% of traffic), green runs 1.5.0 (50% of traffic)" in error
    assert listener_weights(cohort) == {"blue": 50, "green": 50}

    code = run(["rollback", "--cohort", "canary", "--to-colour", "blue", "--tenants",
                str(tenants), "--json"])
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == 1, error
    assert listener_weights(cohort) == {"blue": 100, "green": 0}
    assert "ledger table" in error and "moved to blue (1.4.2)" in error

    assert run(["status", "--cohort", "canary", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["weights"] == {"blue": 100, "green": 0}
    assert "ledger" in row["state_line"]
