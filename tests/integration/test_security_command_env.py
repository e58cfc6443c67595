"""The security command sees an allow-listed environment, and its output is kept privately.

A cohort's scanner is a program the operator names, but it is still a child
process: it must not inherit ``PULUMI_ACCESS_TOKEN``, AWS keys or whatever else
a CI job exports. Its full output goes to a file only the user can read; the
ledger, the CLI and the HTML report keep the exit code, that file's path and a
short tail with anything secret-looking redacted.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from rollout.aws_clients import AwsClients
from rollout.errors import BadInput
from rollout.gates.base import GATES
from rollout.gates.security import COMMAND, command_environment, redact, run_checks
from tests.cli_runner import address, rollout, rollout_output
from tests.conftest import Fleet, deploy_fleet
from tests.releases import EXAMPLE_NOTES
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

PULUMI_TOKEN = f"pul-FAKE{uuid.uuid4().hex}"
AWS_SECRET = f"FAKEawsSecret{uuid.uuid4().hex}"
CI_TOKEN = f"ghp_FAKE{uuid.uuid4().hex}"
PRINTED_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
PRINTED_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PRINTED_BEARER = "eyJhbGciOiJIUzI1NiJ9.payload.signature"
SECRETS = (PULUMI_TOKEN, AWS_SECRET, CI_TOKEN, PRINTED_KEY_ID, PRINTED_SECRET, PRINTED_BEARER)

SCANNER = textwrap.dedent(f"""\
    import os, sys
    for name, value in sorted(os.environ.items()):
        print(f"{{name}}={{value}}")
    print("PULUMI_ACCESS_TOKEN=" + os.environ.get("PULUMI_ACCESS_TOKEN", "<absent>"))
    print("AWS_SECRET_ACCESS_KEY=" + os.environ.get("AWS_SECRET_ACCESS_KEY", "<absent>"))
    print("GITHUB_TOKEN=" + os.environ.get("GITHUB_TOKEN", "<absent>"))
    print("finding: access key {PRINTED_KEY_ID} in build.log")
    print("finding: aws_secret_access_key = {PRINTED_SECRET}")
    print("finding: Authorization: Bearer {PRINTED_BEARER}")
    print("scanner verdict: 2 critical findings")
    sys.exit(5)
    """)


@dataclass
class Blocked:
    """A cohort whose scanner printed its environment and failed, then the report."""

    fleet: Fleet
    state_home: Path
    start_code: int
    start_err: str
    report: Path
    report_code: int


@pytest.fixture(scope="module")
def blocked(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory,
            ) -> Iterator[Blocked]:
    base = tmp_path_factory.mktemp("scanner-env")
    fleet = deploy_fleet(base, {"canary": ["aurora", "birch"]},
                         versions={"blue": "1.4.2", "green": "1.5.0"})
    scanner = base / "scanner.py"
    scanner.write_text(SCANNER)
    tenants = write_tenants(
        base / "tenants.yaml",
        [cohort_entry("canary", "canary:50:1s", security_command=f"{sys.executable} {scanner}")],
        [tenant_entry("aurora", "canary"), tenant_entry("birch", "canary")])
    state_home = base / "state"
    report = base / "report.html"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PULUMI_ACCESS_TOKEN", PULUMI_TOKEN)
        patch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        patch.setenv("GITHUB_TOKEN", CI_TOKEN)
        patch.setenv("XDG_STATE_HOME", str(state_home))
        address(patch, fleet)
        assert rollout("notify", "--release", "1.5.0", "--tenants", str(tenants),
                       "--notes", str(EXAMPLE_NOTES), "--json") == 0
        started = rollout_output("start", "--cohort", "canary", "--release", "1.5.0",
                                 "--tenants", str(tenants))
        report_code = rollout("report", "--html", str(report))
        yield Blocked(fleet, state_home, started.code, started.stderr, report, report_code)


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def logs(blocked: Blocked) -> list[Path]:
    folder = blocked.state_home / "tenant-rollout" / "security"
    return sorted(folder.glob("*.log")) if folder.is_dir() else []


def test_the_start_is_blocked_with_exit_code_log_path_and_a_redacted_tail(
        blocked: Blocked) -> None:
    assert blocked.start_code == 3
    message = " ".join(blocked.start_err.split())
    assert "exited 5" in message
    assert "scanner verdict: 2 critical findings" in message
    assert leaked(blocked.start_err) == []
    [log] = logs(blocked)
    assert log.name in message
    assert len(blocked.start_err) < 1200


def test_no_credential_reaches_the_scanner(blocked: Blocked) -> None:
    [log] = logs(blocked)
    output = log.read_text()
    assert "ROLLOUT_COHORT=canary" in output, "the scanner should still get the cohort's facts"
    assert "PULUMI_ACCESS_TOKEN=<absent>" in output
    assert "AWS_SECRET_ACCESS_KEY=<absent>" in output
    assert "GITHUB_TOKEN=<absent>" in output
    assert PULUMI_TOKEN not in output and AWS_SECRET not in output and CI_TOKEN not in output
    assert PRINTED_KEY_ID in output, "the private log keeps the scanner's output verbatim"


def test_the_full_output_is_readable_only_by_the_user(blocked: Blocked) -> None:
    [log] = logs(blocked)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_neither_the_ledger_nor_the_report_holds_a_secret(blocked: Blocked) -> None:
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(
        TableName=blocked.fleet.shared.ledger_table, ConsistentRead=True)
    items = [json.dumps(item) for page in pages for item in page["Items"]]
    assert any("exited 5" in item for item in items), "the block should be in the ledger"
    assert [leaked(item) for item in items if leaked(item)] == []
    assert blocked.report_code == 0
    page = blocked.report.read_text()
    assert "canary" in page
    assert leaked(page) == []


def test_the_report_file_is_readable_only_by_the_user(blocked: Blocked) -> None:
    assert stat.S_IMODE(blocked.report.stat().st_mode) == 0o600


# --- the environment and the redaction on their own -------------------------------------------

def test_the_environment_is_the_allow_list_plus_the_cohort_facts(
        blocked: Blocked, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "scanner-readonly")
    canary = blocked.fleet.cohorts["canary"]
    env = command_environment(canary, "green")
    assert "PULUMI_ACCESS_TOKEN" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_PROFILE" not in env
    assert env["PATH"] == os.environ["PATH"]
    assert env["AWS_ENDPOINT_URL"] == os.environ["AWS_ENDPOINT_URL"]
    assert env["ROLLOUT_COHORT"] == "canary" and env["ROLLOUT_NEW_COLOUR"] == "green"
    opted = command_environment(canary, "green", extra=["AWS_PROFILE"])
    assert opted["AWS_PROFILE"] == "scanner-readonly"


def test_a_name_opted_in_through_the_gate_settings_reaches_the_command(
        blocked: Blocked, aws: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = blocked.fleet.cohorts["canary"]
    monkeypatch.setenv("SCANNER_LICENCE", "lic-FAKE-1234567890")
    code = "import os, sys; sys.exit(0 if os.environ.get('SCANNER_LICENCE') else 7)"
    command = f"{sys.executable} -c {json.dumps(code)}"
    [without] = [r for r in run_checks(aws, canary, command)
                 if r.metric == COMMAND]
    [opted] = [r for r in run_checks(aws, canary, command,
                                     extra_env=["SCANNER_LICENCE"]) if r.metric == COMMAND]
    assert (without.observed, opted.verdict) == (7.0, "pass")
    gate = GATES.get("security")({"command": command, "env": ["SCANNER_LICENCE"]})
    assert gate.settings.env == ("SCANNER_LICENCE",)
    with pytest.raises(BadInput, match=r"gate security: env\.0: "):
        GATES.get("security")({"command": command, "env": ["NOT A NAME"]})


def test_redaction_removes_parent_secrets_and_key_shapes() -> None:
    environ = {"PATH": "/usr/local/bin:/usr/bin", "PULUMI_ACCESS_TOKEN": PULUMI_TOKEN,
               "CI": "true"}
    text = (f"token {PULUMI_TOKEN} key {PRINTED_KEY_ID} ASIAY34FZKBOKMUTVV7A\n"
            f"aws_secret_access_key={PRINTED_SECRET}\nAuthorization: Bearer {PRINTED_BEARER}\n"
            "path /usr/local/bin:/usr/bin is true")
    cleaned = redact(text, environ)
    assert leaked(cleaned) == [] and "ASIAY34FZKBOKMUTVV7A" not in cleaned
    assert cleaned.count("[redacted]") == 5
    assert "aws_secret_access_key=[redacted]" in cleaned and "Bearer [redacted]" in cleaned
    assert cleaned.endswith("path /usr/local/bin:/usr/bin is true"), \
        "allow-listed and short values are not secrets"
