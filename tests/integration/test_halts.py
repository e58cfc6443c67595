"""``rollout halt``/``unhalt``/``halts``, alarm blockers and the automatic halt of later
waves, through the command line against moto.

One fleet of four cohorts in order (canary, wave1, wave2, wave3), each test using its
own, so no test's rollout leans on another's; every halt is lifted after each test.
What is asserted is what an operator sees: exit codes, the lines printed, the JSON, and
the weights the listener really routes by, read back with boto3.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import boto3
import pytest

from rollout.aws_clients import AwsClients
from rollout.rollouts.halts import HaltTarget, lift_halts, standing_halts
from rollout.rollouts.ledger import Ledger
from rollout.rollouts.state import RolloutState
from rollout.vocabulary.clock import utc_now
from rollout.vocabulary.ledger_keys import STATE_SK, cohort_pk
from tests.alarms import put_5xx_alarm
from tests.cli_runner import Finished, rollout, rollout_output
from tests.conftest import Fleet, deploy_fleet, listener_weights
from tests.tenant_files import cohort_entry, tenant_entry, tenants_yaml
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

RELEASE = "1.5.0"
COHORTS = {"canary": ["aurora"], "wave1": ["birch"], "wave2": ["cedar"], "wave3": ["dune"]}
HALF = {"blue": 50, "green": 50}
OLD_ONLY = {"blue": 100, "green": 0}
NEW_ONLY = {"blue": 0, "green": 100}


def tenants_text(blockers: Sequence[str] = ()) -> str:
    listed = "".join(f"  - alarm: {name}\n" for name in blockers)
    return ("blockers:\n" + listed if blockers else "") + tenants_yaml(
        [cohort_entry(name, "linear:50:1s") for name in COHORTS],
        [tenant_entry(tenant, name) for name, tenants in COHORTS.items() for tenant in tenants])


@pytest.fixture(scope="module")
def halting(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    fleet = deploy_fleet(tmp_path_factory.mktemp("halts"), COHORTS,
                         versions={"blue": "1.4.2", "green": RELEASE})
    (fleet.project_dir / "tenants.yaml").write_text(tenants_text())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROLLOUT_TENANTS", str(fleet.project_dir / "tenants.yaml"))
        yield fleet


@pytest.fixture
def fleet(halting: Fleet) -> Iterator[Fleet]:
    """The module's fleet, with no halt left standing after the test, whatever happens."""
    yield halting
    ledger = ledger_of(halting)
    for halt in standing_halts(ledger):
        target = HaltTarget(halt.scope, halt.cohort, halt.release)
        lift_halts(ledger, target, actor="test", at=utc_now(), reason="test over")


def ledger_of(fleet: Fleet) -> Ledger:
    return Ledger(AwsClients(), fleet.shared.ledger_table)


def state_of(fleet: Fleet, cohort: str) -> RolloutState | None:
    return ledger_of(fleet).get(cohort_pk(cohort), STATE_SK, RolloutState)


def weights(fleet: Fleet, cohort: str) -> dict[str, int]:
    return listener_weights(fleet.cohorts[cohort])


def run(fleet: Fleet, *args: str) -> Finished:
    return rollout_output(*args, fleet=fleet)


def start(fleet: Fleet, cohort: str, *extra: str) -> Finished:
    return run(fleet, "start", "--cohort", cohort, "--release", RELEASE, "--override-notice",
               "halts test", *extra)


def test_halt_all_stops_the_next_step_and_unhalt_lets_it_go_on(fleet: Fleet) -> None:
    assert start(fleet, "canary").code == 0
    assert weights(fleet, "canary") == HALF
    unexplained = run(fleet, "halt", "--all")
    assert unexplained.code == 2 and "--reason is required" in unexplained.stderr
    placed = run(fleet, "halt", "--all", "--reason", "incident 42", "--json")
    assert placed.code == 0, placed.stderr
    halt = json.loads(placed.stdout)
    assert (halt["new"], halt["halt"]["scope"], halt["halt"]["reason"]) == (
        True, "all", "incident 42")
    assert [h["scope"] for h in json.loads(run(fleet, "halts", "--json").stdout)["halts"]] \
        == ["all"]
    (row,) = json.loads(run(fleet, "status", "--cohort", "canary", "--json").stdout)
    assert [h["reason"] for h in row["halts"]] == ["incident 42"]
    listed = run(fleet, "halts").stdout
    assert "every cohort: halted by" in listed and "incident 42" in listed
    assert "canary: halted by" in run(fleet, "status", "--cohort", "canary").stdout

    time.sleep(1.1)  # step 1 has baked: only the halt holds it
    held = run(fleet, "step", "--cohort", "canary")
    assert held.code == 3
    assert "does not move to step 2/2: halted by" in held.stderr
    assert "incident 42; `rollout unhalt --all` lifts it" in held.stderr
    assert "--override-freeze" not in held.stderr
    assert weights(fleet, "canary") == HALF, "the halt moved nothing"
    refused = start(fleet, "wave1")
    assert refused.code == 3 and "halted by" in refused.stderr
    assert state_of(fleet, "wave1") is None, "a refused start writes nothing"

    lifted = run(fleet, "unhalt", "--all", "--reason", "incident over", "--json")
    assert lifted.code == 0, lifted.stderr
    answer = json.loads(lifted.stdout)
    assert ([h["reason"] for h in answer["lifted"]], answer["halts"]) == (["incident 42"], [])
    assert run(fleet, "step", "--cohort", "canary").code == 0
    assert weights(fleet, "canary") == NEW_ONLY
    history = json.loads(run(fleet, "halts", "--history", "--json").stdout)["history"]
    assert [e["kind"] for e in history][-2:] == ["halted", "unhalted"]


def test_an_alarm_blocker_refuses_start_and_holds_a_running_start_wait(
        fleet: Fleet, tmp_path: Path) -> None:
    cloudwatch = boto3.client("cloudwatch")
    alarm = put_5xx_alarm(cloudwatch, f"{fleet.app}-blocker", state="ALARM",
                          reason="Threshold Crossed: 14 errors")
    blocked = tmp_path / "tenants.yaml"
    blocked.write_text(tenants_text([alarm]))
    refused = start(fleet, "wave1", "--tenants", str(blocked))
    assert refused.code == 3
    assert f"alarm blocker {alarm} is in ALARM: Threshold Crossed: 14 errors" in refused.stderr
    assert state_of(fleet, "wave1") is None
    missing = tmp_path / "missing.yaml"
    missing.write_text(tenants_text([f"{fleet.app}-no-such-alarm"]))
    unseen = start(fleet, "wave1", "--tenants", str(missing))
    assert unseen.code == 3 and "does not exist" in unseen.stderr

    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="healthy")
    finished: list[Finished] = []
    driver = threading.Thread(target=lambda: finished.append(start(
        fleet, "wave1", "--tenants", str(blocked), "--strategy", "linear:50:2s", "--wait",
        "--check-every", "0.2s", "--json")))
    driver.start()
    try:
        wait_for(lambda: (state := state_of(fleet, "wave1")) is not None
                 and state.step_index == 0)
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM",
                                   StateReason="Threshold Crossed: 9 errors")
        wait_for(lambda: "held before step 2/2" in (getattr(state_of(fleet, "wave1"),
                                                            "reason", None) or ""))
        time.sleep(0.5)
        assert driver.is_alive() and weights(fleet, "wave1") == HALF, "it holds, not fails"
    finally:
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="healthy")
        driver.join(30)
    (done,) = finished
    assert done.code == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "promoted"
    assert weights(fleet, "wave1") == NEW_ONLY


def test_a_rollback_goes_through_a_halt_and_halts_the_later_waves_for_that_release_only(
        fleet: Fleet) -> None:
    assert start(fleet, "wave2").code == 0
    assert run(fleet, "halt", "--cohort", "wave2", "--reason", "db migration").code == 0
    back = run(fleet, "rollback", "--cohort", "wave2", "--reason", "checkout errors", "--json")
    assert back.code == 0, back.stderr
    assert json.loads(back.stdout)["status"] == "rolled_back"
    assert weights(fleet, "wave2") == OLD_ONLY, "a halt never stops a rollback"
    assert run(fleet, "unhalt", "--cohort", "wave2").code == 0
    halts = json.loads(run(fleet, "halts", "--json").stdout)["halts"]
    assert [(h["scope"], h["cohort"], h["release"]) for h in halts] == [
        ("release", "wave3", RELEASE)], "only the later wave, only for this release"
    refused = start(fleet, "wave3")
    assert refused.code == 3
    message = " ".join(refused.stderr.split())
    assert f"cohort wave2 rolled back {RELEASE}: checkout errors; `rollout unhalt --release " \
           f"{RELEASE}` lifts it" in message, message
    lifted = run(fleet, "unhalt", "--release", RELEASE, "--json")
    assert [h["cohort"] for h in json.loads(lifted.stdout)["lifted"]] == ["wave3"]
    assert start(fleet, "wave3").code == 0
    assert weights(fleet, "wave3") == HALF


def test_bad_blockers_exit_2_naming_file_line_and_field(fleet: Fleet, tmp_path: Path) -> None:
    bad = tmp_path / "tenants.yaml"
    bad.write_text("blockers:\n  - alarm: api-5xx\n  - {alarm: api-5xx}\n" + tenants_text())
    before = state_of(fleet, "canary")
    refused = start(fleet, "canary", "--tenants", str(bad))
    assert refused.code == 2
    assert refused.stderr.strip().splitlines() == [
        f"error: {bad}:3: blockers.1.alarm: alarm 'api-5xx' is named twice"]
    assert state_of(fleet, "canary") == before


def test_dry_run_halt_writes_nothing(fleet: Fleet) -> None:
    shown = run(fleet, "halt", "--cohort", "wave1", "--reason", "look first", "--dry-run")
    assert shown.code == 0
    assert shown.stdout.splitlines()[0] == "dry run: nothing was changed; `rollout halt` would:"
    assert standing_halts(ledger_of(fleet)) == []
    assert rollout("halt", "--cohort", "nowhere", "--reason", "typo", fleet=fleet) == 2
