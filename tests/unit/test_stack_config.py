"""A malformed ``Pulumi.<cohort>.yaml`` stops ``rollout local up`` with one line and no AWS writes.

The model checks are pure; the command checks run against the moto server and
compare an inventory of what exists in it before and after.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rollout.aws_clients import AwsClients
from rollout.cli import run
from rollout.local.state import STATE_BUCKET
from rollout.model.stack import parse_stack
from rollout.vocabulary.problems import first_problem

ROLLOUT = Path(sys.executable).with_name("rollout")

GOOD_COHORT = """\
config:
  aws:region: eu-west-1
  tenant-rollout:stack:
    role: cohort
    app: {app}
    cohort: canary
    sharedStack: organization/tenant-rollout/shared
    liveColour: blue
    versions:
      blue: 1.4.2
      green: 1.4.2
    network:
      cidr: 10.20.0.0/16
    tenants:
      - id: aurora
"""

GOOD_SHARED = """\
config:
  aws:region: eu-west-1
  tenant-rollout:stack:
    role: shared
    app: {app}
"""

FIELD = "config.tenant-rollout:stack"

# name → (how the good file is changed, line, field, words the message must contain)
MALFORMED: dict[str, tuple[tuple[str, str], int, str, str]] = {
    "wrong type": (("liveColour: blue", "liveColour: 7"), 8,
                   f"{FIELD}.liveColour", "'blue' or 'green'"),
    "missing versions.green": (("      green: 1.4.2\n", ""), 9,
                               f"{FIELD}.versions", "needs a version for green"),
    "bad version string": (("green: 1.4.2", "green: latest"), 11,
                           f"{FIELD}.versions.green", "not a version like 1.5.0"),
    "unknown field": (("    liveColour: blue\n", "    liveColour: blue\n    colour: red\n"), 9,
                      f"{FIELD}.colour", "Extra inputs are not permitted"),
    "public without certificateArn": (
        ("    network:\n", "    listener:\n      public: true\n    network:\n"), 12,
        f"{FIELD}.listener", "needs certificateArn"),
    "tenants not a list": (("    tenants:\n      - id: aurora\n", "    tenants: aurora\n"), 14,
                           f"{FIELD}.tenants", "valid list"),
    "missing role": (("    role: cohort\n", ""), 3, f"{FIELD}.role", "Field required"),
    "cohort of another stack": (("cohort: canary", "cohort: wave9"), 6,
                                f"{FIELD}.cohort", "this is the stack of 'canary'"),
}


def malformed(app: str, name: str) -> str:
    (old, new), *_ = MALFORMED[name]
    text = GOOD_COHORT.format(app=app)
    assert old in text
    return text.replace(old, new, 1)


def problem_of(raw: dict[str, Any]) -> tuple[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as caught:
        parse_stack(raw)
    return first_problem(caught.value)


def test_parse_stack_names_plain_paths_below_the_stack_key() -> None:
    base = {"role": "cohort", "app": "acme", "cohort": "canary", "sharedStack": "x/y/shared",
            "versions": {"blue": "1.4.2", "green": "1.4.2"}}
    assert problem_of({**base, "versions": {"blue": "1.4.2", "green": "v2"}})[0] == (
        "versions", "green")
    assert problem_of({**base, "network": {"vpcId": "vpc-0a", "subnetIds": ["subnet-0a"]}})[0] \
        == ("network", "subnetIds")
    assert problem_of({**base, "role": "cluster"}) == (("role",), "Input should be 'shared' or "
                                                       "'cohort'")
    assert problem_of({"role": "shared", "app": "acme", "noncurrentVersionDays": 0})[0] == (
        "noncurrentVersionDays",)


def test_names_that_would_not_fit_aws_limits_are_refused_up_front() -> None:
    base = {"role": "cohort", "sharedStack": "x/y/shared",
            "versions": {"blue": "1.4.2", "green": "1.4.2"}}
    location, message = problem_of({**base, "app": "acme-platform-eu", "cohort": "wave1-central"})
    assert location == ()
    assert "acme-platform-eu-wave1-central-green" in message and "32" in message
    assert problem_of({**base, "app": "acme", "cohort": "shared"})[0] == ("cohort",)


def test_a_good_config_parses() -> None:
    parsed = parse_stack({"role": "cohort", "app": "acme", "cohort": "canary",
                          "sharedStack": "x/y/shared", "liveColour": "green",
                          "versions": {"blue": "1.4.2", "green": "1.5.0-rc.1"}})
    assert parsed.stack.role == "cohort"


def inventory(clients: AwsClients, app: str) -> dict[str, int]:
    """How many resources of each kind the program could create exist, and this app's state."""
    elbv2 = clients.client("elbv2")
    try:
        states = clients.client("s3").list_objects_v2(
            Bucket=STATE_BUCKET, Prefix=f"stacks/{app}/").get("KeyCount", 0)
    except clients.client("s3").exceptions.NoSuchBucket:
        states = 0
    return {
        "load balancers": len(elbv2.describe_load_balancers()["LoadBalancers"]),
        "target groups": len(elbv2.describe_target_groups()["TargetGroups"]),
        "buckets": len(clients.client("s3").list_buckets()["Buckets"]),
        "tables": len(clients.client("dynamodb").list_tables()["TableNames"]),
        "topics": len(clients.client("sns").list_topics()["Topics"]),
        "vpcs": len(clients.client("ec2").describe_vpcs()["Vpcs"]),
        "keys": len(clients.client("kms").list_keys()["Keys"]),
        "state objects": states,
    }


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str]:
    app = f"c{uuid.uuid4().hex[:8]}"
    (tmp_path / "Pulumi.shared.yaml").write_text(GOOD_SHARED.format(app=app))
    (tmp_path / "Pulumi.canary.yaml").write_text(GOOD_COHORT.format(app=app))
    return tmp_path, app


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_stack_config_exits_2_with_one_line_and_creates_nothing(
        aws: AwsClients, project: tuple[Path, str], name: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    directory, app = project
    bad = directory / "bad.yaml"
    bad.write_text(malformed(app, name))
    _, line, field, words = MALFORMED[name]
    before = inventory(aws, app)

    code = run(["--project-dir", str(directory), "local", "up", "--cohort", "canary",
                "--stack-config", str(bad)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    (message,) = err.strip().splitlines()
    assert message.startswith(f"error: {bad}:{line}: {field}: ")
    assert words in message
    assert inventory(aws, app) == before


@pytest.mark.integration
def test_unknown_cohort_exits_2_naming_the_known_stacks(
        aws: AwsClients, project: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    directory, app = project
    before = inventory(aws, app)
    code = run(["--project-dir", str(directory), "local", "up", "--cohort", "nope"])
    _, err = capsys.readouterr()
    assert code == 2
    (message,) = err.strip().splitlines()
    assert "unknown stack 'nope'" in message
    assert "Pulumi.nope.yaml not found" in message
    assert "known stacks: canary, shared" in message
    assert inventory(aws, app) == before


@pytest.mark.integration
def test_the_installed_command_says_the_same_in_one_line(
        aws: AwsClients, project: tuple[Path, str]) -> None:
    directory, app = project
    bad = directory / "bad.yaml"
    bad.write_text(malformed(app, "bad version string"))
    before = inventory(aws, app)
    done = subprocess.run(
        [str(ROLLOUT), "--project-dir", str(directory), "local", "up", "--cohort", "canary",
         "--stack-config", str(bad), "--json"],
        capture_output=True, text=True, env=dict(os.environ), timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    (message,) = done.stderr.strip().splitlines()
    assert message.startswith(f"error: {bad}:11: {FIELD}.versions.green: ")
    assert '"exit_code": 2' in done.stdout
    assert inventory(aws, app) == before


@pytest.mark.integration
def test_local_up_refuses_to_deploy_into_real_aws(
        aws: AwsClients, project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    directory, app = project
    before = inventory(aws, app)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    code = run(["--project-dir", str(directory), "local", "up", "--cohort", "canary"])
    _, err = capsys.readouterr()
    assert code == 2
    (message,) = err.strip().splitlines()
    assert "only deploys into moto" in message and "amazonaws.com" in message
    monkeypatch.undo()
    assert inventory(aws, app) == before


def test_the_example_stacks_of_the_repository_are_valid() -> None:
    from rollout.local.deployer import LocalDeployer

    repository = Path(__file__).resolve().parents[2]
    engine = LocalDeployer(repository, AwsClients())
    assert {"shared", "canary", "wave1", "wave2"} <= set(engine.known_stacks())
    for stack in engine.known_stacks():
        config = engine.stack_file(stack).config.stack
        assert config.role == ("shared" if stack == "shared" else "cohort")
