"""The executor under contention and crashes, and its answer to bad input."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import boto3
import pytest

from rollout.rollouts.executor import load_state
from rollout.rollouts.state import Status
from tests.cli_runner import address, rollout
from tests.conftest import Fleet, deploy_fleet, listener_weights
from tests.fleet_reads import fleet_ledger
from tests.forked_cli import launch, run_forked
from tests.releases import EXAMPLE_NOTES, notes_for
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

COHORTS = [cohort_entry("race", "linear:50:1s"), cohort_entry("crash", "linear:25:1s"),
           cohort_entry("guarded", "linear:50:1s")]
TENANTS = [tenant_entry("rook", "race"), tenant_entry("cole", "crash"),
           tenant_entry("gus", "guarded")]


@pytest.fixture(scope="module")
def contested(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    base = tmp_path_factory.mktemp("contested")
    fleet = deploy_fleet(base, {"race": ["rook"], "crash": ["cole"], "guarded": ["gus"]},
                         versions={"blue": "1.4.2", "green": "1.5.0"})
    tenants = write_tenants(fleet.project_dir / "tenants.yaml", COHORTS, TENANTS)
    done = run_forked(["notify", "--release", "1.5.0", "--tenants", str(tenants),
                       "--notes", str(EXAMPLE_NOTES), "--json"], fleet.env())
    assert done.returncode == 0, done.stderr
    return fleet


def test_two_concurrent_starts_one_proceeds_the_other_exits_3(contested: Fleet) -> None:
    command = ["start", "--cohort", "race", "--release", "1.5.0", "--wait",
               "--check-every", "0.2s", "--json"]
    first = launch(command, contested.env())
    second = launch(command, contested.env())
    outcomes = sorted([(p.wait(timeout=120), p.communicate()) for p in (first, second)],
                      key=lambda item: item[0])
    (ok_code, _), (blocked_code, (blocked_out, _)) = outcomes
    assert (ok_code, blocked_code) == (0, 3)
    error = json.loads(blocked_out)["error"]
    assert "locked by" in error or "already has a rollout" in error
    assert listener_weights(contested.cohorts["race"]) == {"blue": 0, "green": 100}
    starts = [e for e in fleet_ledger(contested).events("race") if e.kind == "started"]
    assert len(starts) == 1


def test_resume_after_a_kill_between_steps_finishes_the_rollout(contested: Fleet) -> None:
    cohort = contested.cohorts["crash"]
    process = launch(
        ["start", "--cohort", "crash", "--release", "1.5.0", "--wait",
         "--strategy", "linear:25:2s", "--check-every", "0.2s", "--lease", "1s", "--json"],
        contested.env())
    book = fleet_ledger(contested)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = load_state(book, "crash")
        # between steps: the step saved *and* written (a kill between the two is the
        # ledger-ahead case, tested in tests/faults)
        if (state is not None and state.step_index >= 1
                and listener_weights(cohort)["green"] == state.weights["green"]):
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    interrupted = load_state(book, "crash")
    assert interrupted is not None and interrupted.status == Status.SHIFTING
    assert 1 <= interrupted.step_index < 3
    assert listener_weights(cohort)["green"] == interrupted.weights["green"]

    # no wait for the crashed holder's lease to lapse: resume watches it unchanged for a lease
    done = run_forked(["resume", "--cohort", "crash", "--check-every", "0.2s", "--json"],
                      contested.env())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "promoted"
    assert listener_weights(cohort) == {"blue": 0, "green": 100}
    events = book.events("crash")
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    steps = [e.data["step"] for e in events if e.kind == "step"]
    assert steps == [0, 1, 2, 3]
    assert [e.kind for e in events].count("promoted") == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--strategy", "linear:0:5m"], "must be a whole percent from 1 to 99"),
    (["--strategy", "linear:150:1m"], "must be a whole percent from 1 to 99"),
    (["--cohort", "nope"], "unknown cohort 'nope'"),
])
def test_bad_start_input_exits_2_and_changes_nothing(
        contested: Fleet, args: list[str], message: str,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    address(monkeypatch, contested)
    before = listener_weights(contested.cohorts["race"])
    events_before = len(fleet_ledger(contested).events("race"))
    options = {"--cohort": "race", "--release": "1.5.0", "--strategy": "linear:20:1s"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = ["start", *[part for key, value in {**options, **given}.items()
                       for part in (key, value)], "--json"]
    assert rollout(*argv) == 2
    assert message in json.loads(capsys.readouterr().out)["error"]
    assert listener_weights(contested.cohorts["race"]) == before
    assert len(fleet_ledger(contested).events("race")) == events_before


def test_pinning_to_an_unknown_colour_exits_2_and_writes_nothing(
        contested: Fleet, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    address(monkeypatch, contested)
    assert rollout("pin", "--cohort", "race", "--tenant", "rook", "--colour", "purple",
                   "--json") == 2
    assert "unknown colour 'purple'" in json.loads(capsys.readouterr().out)["error"]
    rules = boto3.client("elbv2").describe_rules(
        ListenerArn=contested.cohorts["race"].listener_arn)["Rules"]
    assert [r for r in rules if not r["IsDefault"]] == []


def cli_json(fleet: Fleet, *args: str) -> tuple[int, dict[str, object]]:
    done = run_forked([*args, "--json"], fleet.env())
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_start_before_the_notice_period_is_over_exits_3(contested: Fleet) -> None:
    strict = write_tenants(contested.project_dir / "strict-tenants.yaml", COHORTS, TENANTS,
                           notice_days=14)
    before = listener_weights(contested.cohorts["guarded"])
    code, out = cli_json(contested, "start", "--cohort", "guarded", "--release", "1.5.0",
                         "--tenants", str(strict))
    assert code == 3
    assert "gus has not had its full notice" in str(out["error"])
    assert listener_weights(contested.cohorts["guarded"]) == before


def test_an_insecure_colour_blocks_start_naming_the_rule(contested: Fleet) -> None:
    iam = boto3.client("iam")
    policy = next(p for p in iam.list_policies(Scope="Local")["Policies"]
                  if p["PolicyName"] == f"{contested.app}-guarded-tenant-config")
    iam.create_policy_version(PolicyArn=policy["Arn"], SetAsDefault=True, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]}))
    try:
        code, out = cli_json(contested, "start", "--cohort", "guarded", "--release", "1.5.0")
    finally:
        versions = iam.list_policy_versions(PolicyArn=policy["Arn"])["Versions"]
        first = min(versions, key=lambda v: v["CreateDate"])["VersionId"]
        iam.set_default_policy_version(PolicyArn=policy["Arn"], VersionId=first)
    assert code == 3
    assert "security gate" in str(out["error"]) and "wildcard" in str(out["error"]).lower()
    assert listener_weights(contested.cohorts["guarded"]) == {"blue": 100, "green": 0}


def test_rollback_to_a_version_redeploys_it_from_the_store(contested: Fleet,
                                                            tmp_path: Path) -> None:
    """race was promoted by the first test; its old colour is treated as scaled down."""
    notes = notes_for(tmp_path, "1.4.1")
    artefact = tmp_path / "app-1.4.1.tar.gz"
    artefact.write_bytes(b"the 1.4.1 build")
    code, _ = cli_json(contested, "release", "publish", "--version", "1.4.1", "--notes",
                       str(notes), str(artefact))
    assert code == 0
    code, out = cli_json(contested, "rollback", "--cohort", "race", "--to-version", "1.4.1",
                         "--local")
    assert code == 0, out
    assert listener_weights(contested.cohorts["race"]) == {"blue": 100, "green": 0}
    blue = contested.refresh("race").target_group_arns["blue"]
    tags = boto3.client("elbv2").describe_tags(ResourceArns=[blue])["TagDescriptions"][0]
    assert {"Key": "rollout:version", "Value": "1.4.1"} in tags["Tags"]
    assert out["state"]["status"] == "rolled_back"  # type: ignore[index]
