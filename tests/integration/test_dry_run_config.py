"""``config copy`` and ``config carry-back``: a dry run prints the steps the real run applies.

Both come from one plan: the dry run displays it and changes nothing in moto (no
parameter, no parameter version, no ledger item), the real run applies the same steps
and prints the same lines, without the ``would``. Each test uses tenants of its own
on the module's fleet, so they never see each other's settings.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

import rollout.cli as rollout_cli
from tests.conftest import Fleet, deploy_fleet

pytestmark = pytest.mark.integration

STEP_KINDS = ["write-settings", "verify-settings", "record-snapshot"]


@pytest.fixture(scope="module")
def fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """One cohort with a tenant for each test."""
    return deploy_fleet(tmp_path_factory.mktemp("dry-run-config"),
                        {"canary": ["aurora", "birch", "cedar"]})


def rollout(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the command line in this process: its exit code and everything it printed."""
    code = rollout_cli.run(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def aws_state(fleet: Fleet) -> tuple[list[tuple[str, int]], list[str]]:
    """Every parameter of the app with its version, and every ledger item: what a write moves."""
    ssm = fleet.clients.client("ssm")
    pages = ssm.get_paginator("describe_parameters").paginate(ParameterFilters=[
        {"Key": "Path", "Option": "Recursive", "Values": [f"/{fleet.app}"]}])
    parameters = sorted((p["Name"], int(p["Version"])) for page in pages
                        for p in page["Parameters"])
    dynamodb = fleet.clients.client("dynamodb")
    scan = dynamodb.get_paginator("scan").paginate(TableName=fleet.shared.ledger_table)
    ledger = sorted(json.dumps(item, sort_keys=True) for page in scan for item in page["Items"])
    return parameters, ledger


def would_lines(output: str) -> list[str]:
    return [line.removeprefix("would ") for line in output.splitlines()
            if line.startswith("would ")]


def put(fleet: Fleet, name: str, value: str, kind: str = "String") -> None:
    extra: dict[str, Any] = {"KeyId": fleet.cohorts["canary"].kms_key_arn} \
        if kind == "SecureString" else {}
    fleet.clients.client("ssm").put_parameter(Name=name, Value=value, Type=kind,
                                              Overwrite=True, **extra)


def seed(fleet: Fleet, tenant: str, secret: str) -> tuple[str, str]:
    """Two plain settings and a secret on blue, one of them already different on green."""
    canary = fleet.cohorts["canary"]
    blue, green = canary.colour_prefix("blue"), canary.colour_prefix("green")
    put(fleet, f"{blue}/{tenant}/theme", "dark")
    put(fleet, f"{blue}/{tenant}/seats", "40")
    put(fleet, f"{blue}/{tenant}/db/password", secret, "SecureString")
    put(fleet, f"{green}/{tenant}/seats", "25")
    return blue, green


def copy_args(tenant: str, *more: str) -> list[str]:
    return ["config", "copy", "--cohort", "canary", "--from", "blue", "--to", "green",
            "--tenant", tenant, "--force", *more]


def test_a_copy_dry_run_changes_nothing_and_prints_the_steps_the_copy_then_runs(
        cli_env: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    _, green = seed(cli_env, "aurora", secret)
    before = aws_state(cli_env)

    code, dry = rollout(capsys, *copy_args("aurora", "--dry-run"))

    assert code == 0, dry
    assert aws_state(cli_env) == before
    steps = would_lines(dry)
    assert steps == [
        f"write 3 settings to SSM Parameter Store under {green} (2 create, 1 overwrite): "
        "aurora/db/password, aurora/seats, aurora/theme",
        "verify 3 settings on green by reading them back",
        "record the snapshot of config copy blue → green in the ledger (names, versions, "
        "hashes of plain values)"]
    assert "dry run: would write 3; nothing was written" in dry

    code, real = rollout(capsys, *copy_args("aurora"))

    assert code == 0, real
    assert real.splitlines()[:len(steps)] == steps
    assert "would " not in real and "wrote 3" in real
    parameters, ledger = aws_state(cli_env)
    assert (f"{green}/aurora/seats", 2) in parameters
    assert len(ledger) > len(before[1])
    assert secret not in dry + real


def test_the_json_plan_of_a_dry_run_is_the_plan_the_copy_applies(
        cli_env: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    seed(cli_env, "birch", secret)
    before = aws_state(cli_env)

    code, dry = rollout(capsys, *copy_args("birch", "--dry-run", "--json"))
    assert code == 0 and aws_state(cli_env) == before
    code, real = rollout(capsys, *copy_args("birch", "--json"))
    assert code == 0

    planned, applied = json.loads(dry)["plan"], json.loads(real)["plan"]
    assert (planned["dry_run"], applied["dry_run"]) == (True, False)
    assert planned["steps"] == applied["steps"]
    assert [step["kind"] for step in applied["steps"]] == STEP_KINDS
    writes = {w["key"]: (w["action"], w["secret"]) for w in applied["steps"][0]["writes"]}
    assert writes == {"birch/db/password": ("create", True), "birch/seats": ("overwrite", False),
                      "birch/theme": ("create", False)}
    assert secret not in dry + real


def test_a_carry_back_dry_run_changes_nothing_and_prints_the_steps_the_carry_back_runs(
        cli_env: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    """After a copy, a tenant edits the new colour; a rollback would carry that edit back."""
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    blue, green = seed(cli_env, "cedar", secret)
    assert rollout(capsys, *copy_args("cedar"))[0] == 0
    edited = f"edited-{uuid.uuid4().hex}"
    put(cli_env, f"{green}/cedar/db/password", edited, "SecureString")
    put(cli_env, f"{green}/cedar/seats", "60")
    back = ["config", "carry-back", "--cohort", "canary", "--from", "green", "--to", "blue",
            "--tenant", "cedar"]
    before = aws_state(cli_env)

    code, dry = rollout(capsys, *back, "--dry-run")

    assert code == 0, dry
    assert aws_state(cli_env) == before
    steps = would_lines(dry)
    assert steps[0] == (f"write 2 settings to SSM Parameter Store under {blue} (2 overwrite): "
                        "cedar/db/password, cedar/seats")
    assert steps[2].startswith("record the snapshot of config carry-back green → blue")

    code, real = rollout(capsys, *back)

    assert code == 0, real
    assert real.splitlines()[:len(steps)] == steps
    ssm = cli_env.clients.client("ssm")
    assert ssm.get_parameter(Name=f"{blue}/cedar/seats")["Parameter"]["Value"] == "60"
    assert edited not in dry + real and secret not in dry + real
