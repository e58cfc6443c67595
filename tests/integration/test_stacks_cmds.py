"""``rollout stacks up|preview`` and ``rollout iam-policy`` against a fleet in the moto server.

The Pulumi CLI cannot be installed here, so the Automation API path (and Pulumi's
stack outputs as a discovery source) runs against a stand-in ``pulumi`` executable
that answers the few commands the Automation API sends and logs them; the local
deployer's path (``--local``) deploys for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rollout.aws_clients import AwsClients
from rollout.discovery import Discovery
from rollout.local.state import LocalStateStore
from rollout.rollouts.state import RolloutState, Status
from rollout.rollouts.strategy import parse_strategy
from rollout.stacks.outputs_record import recorded_outputs
from rollout.stacks.pulumi_outputs import PulumiStackOutputs
from rollout.vocabulary.ledger_keys import cohort_pk
from tests.cli_runner import rollout
from tests.conftest import Fleet, listener_weights
from tests.fleet_reads import fleet_ledger, target_group_version

pytestmark = pytest.mark.integration

INSTALL_HINT = "https://www.pulumi.com/docs/install/"

FAKE_PULUMI = textwrap.dedent('''\
    #!{python}
    """A stand-in for the Pulumi CLI: logs every call, answers what the Automation API asks."""
    import json, os, sys
    args = sys.argv[1:]
    with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
        log.write(json.dumps(args) + "\\n")
    words = [a for a in args if not a.startswith("-")]
    if args == ["version"]:
        print("v3.150.0")
    elif words[:2] == ["stack", "output"]:
        outputs = json.load(open(os.environ["FAKE_PULUMI_OUTPUTS"]))
        if "--show-secrets" in args:
            outputs["dbPassword"] = "pl41n-s3cret"
        else:
            outputs["dbPassword"] = "[secret]"
        print(json.dumps(outputs))
    elif words[:1] == ["config"] and "--show-secrets" in args:
        import yaml
        stack = args[args.index("--stack") + 1]
        path = os.path.join(os.environ["FAKE_PULUMI_PROJECT"], "Pulumi." + stack + ".yaml")
        config = yaml.safe_load(open(path))["config"]
        print(json.dumps({{key: {{"value": value if isinstance(value, str) else json.dumps(value),
                                 "secret": False}} for key, value in config.items()}}))
    elif words[:2] == ["stack", "history"]:
        print(json.dumps([{{"kind": "update", "startTime": "2026-01-01T00:00:00.000Z",
                           "message": "", "environment": {{}}, "config": {{}},
                           "result": "succeeded", "endTime": "2026-01-01T00:00:09.000Z",
                           "version": 2, "resourceChanges": {{"update": 1}}}}]))
    elif words[:1] == ["up"]:
        mode = os.environ.get("FAKE_PULUMI_UP", "ok")
        print("Updating (" + args[args.index("--stack") + 1] + ")")
        if mode == "fail":
            print("error: creating target group: AccessDenied: not authorized", file=sys.stderr)
            sys.exit(1)
        if mode == "policy":
            print("Policy Violations:")
            print("    [mandatory]  tenant-rollout-security v0.1.0  artefact-bucket-not-public "
                  "(aws:s3/bucket:Bucket: shared-artefacts)")
            print("error: update failed", file=sys.stderr)
            sys.exit(255)
        print("Resources: 1 updated, 30 unchanged")
    ''')


@pytest.fixture
def no_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH of one empty directory: certainly no ``pulumi`` on it."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


# --- without the Pulumi CLI -----------------------------------------------------------------

def test_up_without_the_pulumi_cli_exits_2_with_one_line_naming_the_fix(fleet: Fleet,
                                                                       tmp_path: Path) -> None:
    env = {**fleet.env(), "PATH": str(tmp_path)}
    events_before = len(fleet_ledger(fleet).events("canary"))
    done = subprocess.run(
        [sys.executable, "-c", "from rollout.cli import main; main()", "stacks", "up",
         "--cohort", "canary", "--version", "1.5.0"],
        env=env, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line == ("error: the Pulumi CLI is not installed (no `pulumi` on PATH): install it "
                    f"from {INSTALL_HINT}, or rehearse against moto with --local")
    assert len(fleet_ledger(fleet).events("canary")) == events_before


def test_preview_without_the_cli_in_json_says_so_on_stdout(
        cli_env: Fleet, no_pulumi: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("stacks", "preview", "--cohort", "canary", "--version", "1.5.0", "--json") == 2
    error = json.loads(capsys.readouterr().out)
    assert error["exit_code"] == 2
    assert INSTALL_HINT in error["error"]


# --- --local: the local deployer ------------------------------------------------------------

def test_up_local_deploys_into_the_idle_colour_and_records_the_outputs(
        cli_env: Fleet, aws: AwsClients, capsys: pytest.CaptureFixture[str]) -> None:
    canary = cli_env.cohorts["canary"]
    assert target_group_version(aws, canary.target_group_arns["green"]) == "1.4.2"

    assert rollout("stacks", "up", "--cohort", "canary", "--version", "1.5.0", "--local",
                   "--json") == 0

    shown = json.loads(capsys.readouterr().out)
    assert (shown["colour"], shown["liveColour"], shown["engine"]) == ("green", "blue", "local")
    assert (shown["command"], shown["dry_run"]) == ("stacks up", False)
    assert [step["kind"] for step in shown["steps"]] == ["deploy-version", "record-outputs"]
    assert target_group_version(aws, canary.target_group_arns["green"]) == "1.5.0"
    assert target_group_version(aws, canary.target_group_arns["blue"]) == "1.4.2"
    assert listener_weights(cli_env.cohorts["canary"]) == {"blue": 100, "green": 0}
    assert cli_env.refresh("canary").versions == {"blue": "1.4.2", "green": "1.5.0"}
    record = recorded_outputs(fleet_ledger(cli_env), "canary")
    assert record is not None
    assert (record.colour, record.version, record.engine) == ("green", "1.5.0", "local")
    assert record.outputs["versions"]["green"] == "1.5.0"
    assert record.outputs["listenerArn"] == canary.listener_arn
    last = fleet_ledger(cli_env).events("canary")[-1]
    assert (last.kind, last.message) == ("stack-deployed",
                                         "deployed 1.5.0 into green of canary (local)")


def what_moto_holds(fleet: Fleet, aws: AwsClients, cohort: str) -> dict[str, Any]:
    """Everything ``stacks up`` could change: tags, the local record, the ledger."""
    resources = fleet.cohorts[cohort]
    state = LocalStateStore(fleet.clients, fleet.app).load(cohort)
    assert state is not None
    return {"tags": {c: target_group_version(aws, arn)
                     for c, arn in resources.target_group_arns.items()},
            "record": state.model_dump(), "events": len(fleet_ledger(fleet).events(cohort)),
            "outputs": recorded_outputs(fleet_ledger(fleet), cohort),
            "weights": listener_weights(fleet.cohorts[cohort])}


def test_up_dry_run_writes_nothing_and_shows_the_steps_the_real_run_then_takes(
        cli_env: Fleet, aws: AwsClients, capsys: pytest.CaptureFixture[str]) -> None:
    before = what_moto_holds(cli_env, aws, "canary")
    assert rollout("stacks", "up", "--cohort", "canary", "--version", "1.5.1", "--local",
                   "--dry-run") == 0
    dry = capsys.readouterr().out.splitlines()
    assert what_moto_holds(cli_env, aws, "canary") == before
    assert dry[0] == "dry run of `stacks up`: nothing was changed"
    assert dry[1:] == ["would deploy 1.5.1 into green of canary (local)",
                       "would record the outputs of canary in the ledger"]

    assert rollout("stacks", "up", "--cohort", "canary", "--version", "1.5.1", "--local") == 0
    real = capsys.readouterr().out.splitlines()
    assert real[:2] == [line.removeprefix("would ") for line in dry[1:]]
    assert target_group_version(aws, cli_env.cohorts["canary"].target_group_arns["green"]) \
        == "1.5.1"
    record = recorded_outputs(fleet_ledger(cli_env), "canary")
    assert record is not None and record.version == "1.5.1"


def test_up_dry_run_in_json_is_the_plan(cli_env: Fleet, aws: AwsClients,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    before = what_moto_holds(cli_env, aws, "wave1")
    assert rollout("stacks", "up", "--cohort", "wave1", "--version", "1.6.0", "--local",
                   "--dry-run", "--json") == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["command"], plan["dry_run"]) == ("stacks up", True)
    assert plan["steps"] == [
        {"kind": "deploy-version", "summary": "deploy 1.6.0 into green of wave1 (local)",
         "cohort": "wave1", "colour": "green", "version": "1.6.0", "deployer": "local"},
        {"kind": "record-outputs", "summary": "record the outputs of wave1 in the ledger",
         "cohort": "wave1", "record": "STACK#wave1"}]
    assert what_moto_holds(cli_env, aws, "wave1") == before


def test_up_dry_run_is_refused_like_the_real_run(
        cli_env: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("stacks", "up", "--cohort", "wave1", "--version", "1.6.0", "--colour", "blue",
                   "--local", "--dry-run") == 3
    assert "blue is the live colour of cohort wave1" in capsys.readouterr().err


def test_preview_local_changes_nothing(cli_env: Fleet, aws: AwsClients,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    wave1 = cli_env.cohorts["wave1"]
    assert rollout("stacks", "preview", "--cohort", "wave1", "--version", "1.6.0", "--local",
                   "--json") == 0
    preview = json.loads(capsys.readouterr().out)
    assert preview["colour"] == "green"
    assert (preview["current_version"], preview["version"]) == ("1.4.2", "1.6.0")
    assert preview["changes"]["update"] == 1
    assert target_group_version(aws, wave1.target_group_arns["green"]) == "1.4.2"


def test_preview_in_human_form_says_the_live_colour_is_untouched(
        cli_env: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("stacks", "preview", "--cohort", "wave1", "--version", "1.6.0", "--local") == 0
    out = capsys.readouterr().out
    assert "green would go from 1.4.2 to 1.6.0; the live colour blue is not touched" in out


@pytest.fixture
def wave1_state(cli_env: Fleet) -> Iterator[Any]:
    """Write a rollout state for wave1 into the ledger; removed afterwards."""
    book = fleet_ledger(cli_env)

    def write(status: Status, new_colour: str = "green") -> None:
        now = datetime.now(UTC)
        old = "blue" if new_colour == "green" else "green"
        book.put(cohort_pk("wave1"), "STATE", RolloutState(
            cohort="wave1", release="1.5.0", old_version="1.4.2", old_colour=old,
            new_colour=new_colour, strategy="linear:50:1m",
            steps=list(parse_strategy("linear:50:1m").steps), step_index=0,
            weights={old: 50, new_colour: 50}, status=status, started_at=now,
            updated_at=now, promoted_at=now if status == Status.PROMOTED else None,
            versions={"blue": "1.4.2", "green": "1.5.0"}, last_known_good="1.4.2"))

    yield write
    book.delete(cohort_pk("wave1"), "STATE")


def test_a_promoted_green_makes_blue_the_idle_colour(
        wave1_state: Any, capsys: pytest.CaptureFixture[str]) -> None:
    wave1_state(Status.PROMOTED, "green")
    assert rollout("stacks", "preview", "--cohort", "wave1", "--version", "1.6.0", "--local",
                   "--json") == 0
    assert json.loads(capsys.readouterr().out)["colour"] == "blue"


def test_an_active_rollout_blocks_a_deploy_with_exit_3(
        wave1_state: Any, capsys: pytest.CaptureFixture[str]) -> None:
    wave1_state(Status.SHIFTING)
    assert rollout("stacks", "up", "--cohort", "wave1", "--version", "1.6.0", "--local") == 3
    assert ("cohort wave1 has an active rollout of 1.5.0 (shifting); both colours carry "
            "traffic") in capsys.readouterr().err


def test_deploying_into_the_live_colour_is_blocked(cli_env: Fleet, aws: AwsClients,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("stacks", "up", "--cohort", "wave1", "--version", "1.6.0", "--colour", "blue",
                   "--local") == 3
    assert ("blue is the live colour of cohort wave1; deploy into the idle colour green"
            in capsys.readouterr().err)
    assert target_group_version(aws, cli_env.cohorts["wave1"].target_group_arns["blue"]) \
        == "1.4.2"


@pytest.mark.parametrize(("argv", "message"), [
    (["--cohort", "wave1", "--version", "latest"],
     "--version 'latest' is not a version like 1.5.0"),
    (["--cohort", "wave1", "--version", "1.6.0", "--colour", "red"],
     "--colour must be blue or green, got 'red'"),
    (["--cohort", "shared", "--version", "1.6.0"], "is the shared stack, not a cohort"),
    (["--cohort", "wave9", "--version", "1.6.0"], "unknown stack 'wave9'"),
])
def test_bad_input_exits_2_and_writes_nothing(cli_env: Fleet, argv: list[str], message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    before = len(fleet_ledger(cli_env).events("wave1"))
    assert rollout("stacks", "up", *argv, "--local") == 2
    assert message in capsys.readouterr().err
    assert len(fleet_ledger(cli_env).events("wave1")) == before


# --- the Automation API path, against a stand-in pulumi -------------------------------------

@pytest.fixture
def fake_pulumi(cli_env: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``pulumi`` on PATH that reports wave1's real outputs plus a secret one, and the
    stack's config as its ``Pulumi.<stack>.yaml`` holds it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(FAKE_PULUMI.format(python=sys.executable))
    script.chmod(0o755)
    state = LocalStateStore(cli_env.clients, cli_env.app).load("wave1")
    assert state is not None
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(state.outputs))
    log = tmp_path / "pulumi-calls.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    monkeypatch.setenv("FAKE_PULUMI_OUTPUTS", str(outputs))
    monkeypatch.setenv("FAKE_PULUMI_PROJECT", str(cli_env.project_dir))
    monkeypatch.setenv("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK", "true")
    pack = cli_env.project_dir / "infra" / "policy"
    pack.mkdir(parents=True, exist_ok=True)
    (pack / "PulumiPolicy.yaml").write_text("name: tenant-rollout-security\n")
    return log


def pulumi_calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def pulumi_commands(log: Path) -> list[list[str]]:
    """Each call's words without its flags: ``["stack", "output", "wave1"]``."""
    return [[word for word in call if not word.startswith("-")] for call in pulumi_calls(log)]


def test_up_sets_the_idle_version_by_config_path_runs_up_and_records_outputs(
        cli_env: Fleet, fake_pulumi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("stacks", "up", "--cohort", "wave1", "--version", "1.6.0", "--json") == 0

    calls = pulumi_calls(fake_pulumi)
    [config_set] = [c for c in calls if c[:2] == ["config", "set"]]
    assert config_set[2:4] == ["--path", "tenant-rollout:stack.versions.green"]
    assert config_set[-1] == "1.6.0" and "--stack" in config_set and "wave1" in config_set
    [up] = [c for c in calls if "up" in c]
    assert up[up.index("--policy-pack") + 1] == str(cli_env.project_dir / "infra" / "policy")
    assert calls.index(config_set) < calls.index(up)

    captured = capsys.readouterr()
    shown = json.loads(captured.out)
    assert (shown["colour"], shown["engine"], shown["version"]) == ("green", "pulumi", "1.6.0")
    assert shown["outputs"]["dbPassword"] == "[secret]"
    assert "Resources: 1 updated, 30 unchanged" in captured.err
    record = recorded_outputs(fleet_ledger(cli_env), "wave1")
    assert record is not None and record.engine == "pulumi"
    assert record.outputs["listenerArn"] == cli_env.cohorts["wave1"].listener_arn
    assert "pl41n-s3cret" not in captured.out + captured.err + record.model_dump_json()


def test_up_dry_run_sends_pulumi_nothing(cli_env: Fleet, fake_pulumi: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    before = recorded_outputs(fleet_ledger(cli_env), "wave1")
    assert rollout("stacks", "up", "--cohort", "wave1", "--version", "1.6.0", "--dry-run") == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "would deploy 1.6.0 into green of wave1 (pulumi)",
        "would record the outputs of wave1 in the ledger"]
    commands = pulumi_commands(fake_pulumi)
    assert not [c for c in commands if c[:1] == ["up"] or c[:2] == ["config", "set"]], commands
    assert recorded_outputs(fleet_ledger(cli_env), "wave1") == before


def test_pulumi_stack_outputs_find_the_cohort_as_pulumi_recorded_it(
        cli_env: Fleet, fake_pulumi: Path, aws: AwsClients) -> None:
    source = PulumiStackOutputs(cli_env.project_dir)
    outputs = source.stack_outputs("wave1")
    assert outputs is not None and outputs["dbPassword"] == "[secret]"
    assert source.stack_outputs("wave9") is None, "no Pulumi.wave9.yaml: no such stack"
    found = Discovery(aws, cli_env.app, sources=[source]).cohort("wave1")
    expected = cli_env.cohorts["wave1"]
    assert (found.listener_arn, found.target_group_arns, found.tenants) == (
        expected.listener_arn, expected.target_group_arns, expected.tenants)
    assert ["stack", "output", "wave1"] in pulumi_commands(fake_pulumi)


def test_preview_sets_the_version_then_puts_the_old_one_back(
        cli_env: Fleet, fake_pulumi: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "bin" / "pulumi"
    script.write_text(script.read_text() + textwrap.dedent('''\
        if words[:2] == ["config", "get"]:
            print(json.dumps({"value": "1.4.2", "secret": False}))
        if words[:1] == ["preview"]:
            with open(args[args.index("--event-log") + 1], "a") as events:
                events.write(json.dumps({"sequence": 1, "timestamp": 1, "summaryEvent": {
                    "maybeCorrupt": False, "durationSeconds": 1, "policyPacks": {},
                    "resourceChanges": {"update": 1, "same": 30}}}) + "\\n")
                events.write(json.dumps({"sequence": 2, "timestamp": 2, "cancelEvent": {}})
                             + "\\n")
        '''))
    before = recorded_outputs(fleet_ledger(cli_env), "wave1")
    assert rollout("stacks", "preview", "--cohort", "wave1", "--version", "1.6.0", "--json") == 0
    preview = json.loads(capsys.readouterr().out)
    assert preview["changes"] == {"update": 1, "same": 30}
    assert preview["current_version"] == "1.4.2"
    values = [c[-1] for c in pulumi_calls(fake_pulumi) if c[:2] == ["config", "set"]]
    assert values == ["1.6.0", "1.4.2"]
    assert recorded_outputs(fleet_ledger(cli_env), "wave1") == before


@pytest.mark.parametrize(("mode", "code", "message"), [
    ("fail", 1, "pulumi up of stack wave1 failed: error: creating target group: AccessDenied: "
                "not authorized"),
    ("policy", 3, "pulumi up of stack wave1 was refused by the security policy pack: "
                  "tenant-rollout-security v0.1.0 artefact-bucket-not-public "
                  "(aws:s3/bucket:Bucket: shared-artefacts)"),
])
def test_a_failed_or_refused_up_says_why_and_records_nothing(
        cli_env: Fleet, fake_pulumi: Path, monkeypatch: pytest.MonkeyPatch, mode: str,
        code: int, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_PULUMI_UP", mode)
    before = recorded_outputs(fleet_ledger(cli_env), "wave1")
    assert rollout("stacks", "up", "--cohort", "wave1", "--version", "1.6.0") == code
    assert message in capsys.readouterr().err
    assert recorded_outputs(fleet_ledger(cli_env), "wave1") == before


# --- iam-policy -------------------------------------------------------------------------------

def test_iam_policy_names_every_action_and_the_cohort_s_own_resources(
        cli_env: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("iam-policy", "--cohort", "canary", "--json") == 0
    policy = json.loads(capsys.readouterr().out)
    canary = cli_env.cohorts["canary"]
    statements = {s["Sid"]: s for s in policy["Statement"]}
    actions = [a for s in policy["Statement"] for a in s["Action"]]
    assert policy["Version"] == "2012-10-17"
    assert all("*" not in a and "?" not in a for a in actions)
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    assert statements["ShiftTrafficOnTheCohortListener"]["Resource"] == [canary.listener_arn]
    assert statements["TenantConfiguration"]["Resource"] == [
        f"arn:aws:ssm:eu-west-1:123456789012:parameter/{cli_env.app}/canary/blue/*",
        f"arn:aws:ssm:eu-west-1:123456789012:parameter/{cli_env.app}/canary/green/*"]
    assert statements["TenantConfigurationKey"]["Resource"] == [canary.kms_key_arn]
    assert statements["RolloutLedger"]["Resource"] == [
        f"arn:aws:dynamodb:eu-west-1:123456789012:table/{canary.ledger_table}"]
    assert "sns:Publish" not in actions, "notices are the release role's"
    assert statements["ReleaseArtefacts"]["Resource"] == [
        f"arn:aws:s3:::{canary.artefact_bucket}/releases/*"]
    wide = [s["Sid"] for s in policy["Statement"] if "*" in s["Resource"]]
    assert wide == ["ReadWithoutResourceLevelPermissions", "ApproveAWaitingWorkflow"]
    approve = statements["ApproveAWaitingWorkflow"]  # a task token has no ARN to name
    assert approve["Action"] == ["states:SendTaskSuccess"]
    assert approve["Condition"] == {"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}}
    assert all(a.split(":")[1].startswith(("Describe", "List", "Get", "BatchGet"))
               for a in statements["ReadWithoutResourceLevelPermissions"]["Action"])


def test_iam_policy_for_another_cohort_names_only_its_resources(
        cli_env: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("iam-policy", "--cohort", "wave1") == 0
    captured = capsys.readouterr()
    policy = json.loads(captured.out)
    text = json.dumps(policy)
    assert cli_env.cohorts["wave1"].listener_arn in text
    assert cli_env.cohorts["canary"].listener_arn not in text
    assert f"parameter/{cli_env.app}/canary/" not in text
    assert "aws iam put-role-policy" in captured.err


def test_iam_policy_actions_are_real_api_operations(cli_env: Fleet,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt action would grant nothing; botocore's service models know every operation.

    S3's IAM actions are not its API operation names (s3:ListBucket is ListObjectsV2), so
    S3 is left out.
    """
    import botocore.session

    models = botocore.session.get_session()
    services = {"elasticloadbalancing": "elbv2", "ssm": "ssm", "dynamodb": "dynamodb",
                "sns": "sns", "iam": "iam", "kms": "kms", "cloudwatch": "cloudwatch",
                "tag": "resourcegroupstaggingapi", "secretsmanager": "secretsmanager",
                "states": "stepfunctions"}
    iam_only = {"dynamodb:ConditionCheckItem", "iam:PassRole"}  # permissions, not API calls
    assert rollout("iam-policy", "--cohort", "canary", "--json") == 0
    policy = json.loads(capsys.readouterr().out)
    checked = 0
    for action in (a for s in policy["Statement"] for a in s["Action"]):
        prefix, operation = action.split(":")
        if prefix == "s3" or action in iam_only:
            continue
        assert operation in models.get_service_model(services[prefix]).operation_names, action
        checked += 1
    assert checked > 30


def test_iam_policy_release_is_the_release_role_s(
        cli_env: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("iam-policy", "--release", "--json") == 0
    policy = json.loads(capsys.readouterr().out)
    shared = cli_env.shared
    granted = {(action, resource) for s in policy["Statement"] for action in s["Action"]
               for resource in s["Resource"]}
    bucket = f"arn:aws:s3:::{shared.artefact_bucket}"
    assert ("s3:PutObject", f"{bucket}/releases/{cli_env.app}/*") in granted
    assert ("sns:Publish", shared.notices_topic_arn) in granted
    assert not any(action.startswith("elasticloadbalancing:Modify") for action, _ in granted)


@pytest.mark.parametrize("argv", [["--release", "--cohort", "canary"], []],
                         ids=["both", "neither"])
def test_iam_policy_wants_exactly_one_of_cohort_and_release(
        cli_env: Fleet, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert rollout("iam-policy", *argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert "--cohort" in line and "--release" in line


def test_an_access_denial_names_both_roles_policies() -> None:
    from botocore.exceptions import ClientError

    from rollout.cli import describe_client_error

    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}},
                         "PutObject")
    line = describe_client_error(denied)
    assert "`rollout iam-policy --cohort C`" in line
    assert "publishing, pruning and notices: `rollout iam-policy --release`" in line
