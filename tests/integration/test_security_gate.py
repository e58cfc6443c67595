"""The security gate against a fleet deployed into the moto server, and the pack on its stacks.

Each test that makes the fleet insecure puts it back the way it was, so tests in
this module can share one fleet.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import PolicyResource

from rollout.aws_clients import AwsClients
from rollout.components.policies import POLICIES
from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.gates.base import GATES, GateContext, GateResult, Verdict
from rollout.gates.security import run_checks
from rollout.local.state import LocalStateStore
from rollout.vocabulary import security_rules as rules
from tests.conftest import Fleet
from tests.policy_pack_run import policy_resource, violations

pytestmark = pytest.mark.integration

ALL_RULES = [rules.BUCKET_NOT_PUBLIC, rules.BUCKET_VERSIONED, rules.CUSTOMER_MANAGED_KEY,
             rules.NO_PLAIN_HTTP_ON_PUBLIC_ALB, rules.NO_IAM_WILDCARD_ACTIONS]


def verdicts(results: list[GateResult]) -> dict[str, Verdict]:
    return {r.metric or r.gate: r.verdict for r in results}


def failures(results: list[GateResult]) -> dict[str, str]:
    return {r.metric or r.gate: r.reason for r in results if r.verdict == Verdict.FAIL}


def python_command(code: str) -> str:
    """A security command line running ``code`` in this Python (quoted for shlex)."""
    return f"{sys.executable} -c {json.dumps(code)}"


def test_a_freshly_deployed_cohort_passes_every_rule(fleet: Fleet, aws: AwsClients) -> None:
    results = run_checks(aws, fleet.cohorts["canary"], None)
    assert verdicts(results) == dict.fromkeys(ALL_RULES, Verdict.PASS)
    assert all(r.gate == "security" for r in results)


@pytest.fixture
def insecure_canary(fleet: Fleet, aws: AwsClients) -> Iterator[CohortResources]:
    """Canary with its artefact bucket open to the world and a wildcard in its config policy."""
    cohort = fleet.cohorts["canary"]
    s3, iam = aws.client("s3"), aws.client("iam")
    block = s3.get_public_access_block(Bucket=cohort.artefact_bucket)
    s3.delete_public_access_block(Bucket=cohort.artefact_bucket)
    s3.put_bucket_policy(Bucket=cohort.artefact_bucket, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{cohort.artefact_bucket}/*"}]}))
    arn = next(p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]
               if p["PolicyName"] == f"{fleet.app}-canary-tenant-config")
    original = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    added = iam.create_policy_version(PolicyArn=arn, SetAsDefault=True, PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Sid": "Everything", "Effect": "Allow",
                                                "Action": "ssm:*", "Resource": "*"}]}))
    try:
        yield cohort
    finally:
        iam.set_default_policy_version(PolicyArn=arn, VersionId=original)
        iam.delete_policy_version(PolicyArn=arn, VersionId=added["PolicyVersion"]["VersionId"])
        s3.delete_bucket_policy(Bucket=cohort.artefact_bucket)
        s3.put_public_access_block(Bucket=cohort.artefact_bucket,
                                   PublicAccessBlockConfiguration=block[
                                       "PublicAccessBlockConfiguration"])


def test_a_public_bucket_and_a_wildcard_policy_fail_naming_each_rule(
        insecure_canary: CohortResources, fleet: Fleet, aws: AwsClients) -> None:
    results = run_checks(aws, insecure_canary, None)
    bucket = insecure_canary.artefact_bucket
    assert failures(results) == {
        rules.BUCKET_NOT_PUBLIC:
            f"artefact-bucket-not-public: bucket {bucket}: has no public access block; "
            f"artefact-bucket-not-public: bucket {bucket}: bucket policy statement PublicRead "
            "allows s3:GetObject to everyone (Principal *)",
        rules.NO_IAM_WILDCARD_ACTIONS:
            f"no-iam-wildcard-actions: policy {fleet.app}-canary-tenant-config: statement "
            "Everything allows wildcard action ssm:*",
    }
    assert verdicts(results)[rules.BUCKET_VERSIONED] == Verdict.PASS


def test_the_registered_gate_reports_the_first_failing_rule(
        insecure_canary: CohortResources, aws: AwsClients) -> None:
    gate = GATES.get("security")({})
    now = datetime.now(UTC)
    result = gate.check(GateContext(clients=aws, cohort=insecure_canary, old_colour="blue",
                                    new_colour="green", rollout_started_at=now,
                                    step_started_at=now, now=now))
    assert result.verdict == Verdict.FAIL
    assert result.metric == rules.BUCKET_NOT_PUBLIC
    assert result.reason.endswith("(and 1 more)")


def test_a_disabled_key_and_a_secure_string_on_aws_s_key_fail(fleet: Fleet,
                                                               aws: AwsClients) -> None:
    cohort = fleet.cohorts["canary"]
    kms, ssm = aws.client("kms"), aws.client("ssm")
    assert cohort.kms_key_arn is not None
    key_id = cohort.kms_key_arn.rsplit("/", 1)[-1]  # moto's DisableKey wants the id
    stray = f"{cohort.colour_prefix('green')}/aurora/api-token"
    try:
        ssm.put_parameter(Name=stray, Value="never-printed-1", Type="SecureString")
        kms.disable_key(KeyId=key_id)
        results = run_checks(aws, cohort, None)
    finally:
        kms.enable_key(KeyId=key_id)
        ssm.delete_parameters(Names=[stray])
    assert failures(results) == {rules.CUSTOMER_MANAGED_KEY: (
        f"ssm-customer-managed-key: key {cohort.kms_key_arn}: is Disabled, not Enabled; "
        f"ssm-customer-managed-key: parameter {stray}: is encrypted with alias/aws/ssm, "
        f"not the cohort key {cohort.kms_key_arn}")}
    assert "never-printed-1" not in json.dumps([r.model_dump() for r in results])


def test_secure_strings_under_the_cohort_key_pass_and_values_are_never_read(
        fleet: Fleet, aws: AwsClients) -> None:
    cohort = fleet.cohorts["canary"]
    ssm = aws.client("ssm")
    names = [f"{cohort.colour_prefix('blue')}/birch/db-password",
             f"{cohort.colour_prefix('blue')}/birch/plan"]
    try:
        ssm.put_parameter(Name=names[0], Value="hunter2-secret", Type="SecureString",
                          KeyId=cohort.kms_key_arn)
        ssm.put_parameter(Name=names[1], Value="gold", Type="String")
        results = run_checks(aws, cohort, None)
    finally:
        ssm.delete_parameters(Names=names)
    assert verdicts(results)[rules.CUSTOMER_MANAGED_KEY] == Verdict.PASS
    assert "hunter2-secret" not in json.dumps([r.model_dump() for r in results])


def test_a_missing_config_policy_is_inconclusive_not_a_pass(fleet: Fleet,
                                                           aws: AwsClients) -> None:
    ghost = fleet.cohorts["canary"].model_copy(update={"cohort": "ghost"})
    [result] = [r for r in run_checks(aws, ghost, None)
                if r.metric == rules.NO_IAM_WILDCARD_ACTIONS]
    assert result.verdict == Verdict.INCONCLUSIVE
    assert f"IAM policy {fleet.app}-ghost-tenant-config not found" in result.reason


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The security command's logs go under this test's own state directory."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return tmp_path / "tenant-rollout" / "security"


class TestUserCommand:
    def test_a_non_zero_exit_blocks_with_its_log_and_tail_recorded(
            self, fleet: Fleet, aws: AwsClients, private_state: Path) -> None:
        command = python_command(
            "import os, sys; print('scanner: 2 critical findings in', "
            "os.environ['ROLLOUT_COHORT'], os.environ['ROLLOUT_NEW_VERSION'], flush=True); "
            "print('CVE-2026-0001 in libfoo', file=sys.stderr); sys.exit(4)")
        results = run_checks(aws, fleet.cohorts["canary"], command, new_colour="green")
        [result] = [r for r in results if r.metric == "security-command"]
        assert result.verdict == Verdict.FAIL
        assert result.observed == 4
        version = fleet.cohorts["canary"].versions["green"]
        [log] = private_state.glob(f"{fleet.app}-canary-*.log")
        assert log.read_text() == (f"scanner: 2 critical findings in canary {version}\n"
                                   "CVE-2026-0001 in libfoo\n")
        assert result.reason.endswith(
            f"exited 4; full output in {log}; last lines: scanner: 2 critical findings in "
            f"canary {version} | CVE-2026-0001 in libfoo")

    def test_exit_zero_passes(self, fleet: Fleet, aws: AwsClients) -> None:
        results = run_checks(aws, fleet.cohorts["canary"],
                                      python_command("print('clean')"))
        assert verdicts(results)["security-command"] == Verdict.PASS

    def test_long_output_keeps_only_its_end_and_the_log_keeps_all(
            self, fleet: Fleet, aws: AwsClients, private_state: Path) -> None:
        # 160 kB in lines of 80; one long line is tests/unit/test_redaction.py's
        command = python_command("print('FIRST'); print(('finding ' * 10 + chr(10)) * 2000, "
                                 "end=''); print('LAST VERDICT'); raise SystemExit(1)")
        [result] = [r for r in run_checks(aws, fleet.cohorts["canary"], command)
                    if r.metric == "security-command"]
        assert result.reason.endswith("LAST VERDICT")
        assert len(result.reason.partition("last lines: ")[2]) <= 300
        [log] = private_state.glob("*.log")
        assert log.read_text().split("\n") == [
            "FIRST", *["finding " * 10] * 2000, "LAST VERDICT", ""]

    def test_a_missing_program_or_a_hang_blocks_with_a_clear_reason(self, fleet: Fleet,
                                                                   aws: AwsClients) -> None:
        cohort = fleet.cohorts["canary"]
        [missing] = [r for r in run_checks(aws, cohort, "no-such-scanner --all")
                     if r.metric == "security-command"]
        assert missing.verdict == Verdict.FAIL
        assert "`no-such-scanner` not found" in missing.reason
        [hung] = [r for r in run_checks(
            aws, cohort, python_command("import time; print('scanning'); time.sleep(5)"),
            timeout=0.5) if r.metric == "security-command"]
        assert hung.verdict == Verdict.FAIL
        assert "did not finish within 0.5 s" in hung.reason

    def test_gate_settings_are_validated(self) -> None:
        with pytest.raises(BadInput, match="gate security: comand: Extra inputs"):
            GATES.get("security")({"comand": "scan"})


# --- the policy pack on what the local engine deployed ----------------------------------------

def deployed_resources(clients: AwsClients, app: str, stack: str) -> list[PolicyResource]:
    """The stack's resources as the policy engine would see them after an update."""
    state = LocalStateStore(clients, app).load(stack)
    assert state is not None
    found: list[PolicyResource] = []
    for key, record in state.resources.items():
        typ, name = key.split("::", 1)
        props: dict[str, Any] = {**record.inputs, **record.outputs, "id": record.id}
        found.append(policy_resource(typ, name, props, stack=stack, project="p"))
    return found


def pack_violations(resources: list[PolicyResource]) -> list[str]:
    return violations(POLICIES, resources)


def test_the_infra_program_passes_its_own_policy_pack(fleet: Fleet, aws: AwsClients) -> None:
    shared = deployed_resources(aws, fleet.app, "shared")
    canary = deployed_resources(aws, fleet.app, "canary")
    assert {r.resource_type for r in shared + canary} >= {
        "aws:s3/bucket:Bucket", "aws:kms/key:Key", "aws:iam/policy:Policy",
        "aws:lb/listener:Listener"}
    assert pack_violations(shared) == []
    assert pack_violations(canary) == []


def test_the_pack_refuses_the_program_s_bucket_without_its_public_access_block(
        fleet: Fleet, aws: AwsClients) -> None:
    shared = [r for r in deployed_resources(aws, fleet.app, "shared")
              if r.resource_type != "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"]
    assert pack_violations(shared) == [
        f"artefact-bucket-not-public: bucket {fleet.cohorts['canary'].artefact_bucket}: "
        "has no public access block"]
