"""``rollout start --engine stepfunctions`` against moto: the plan runs on Step Functions
while no command of ours runs.

One fleet, a cohort per scenario. Each ``start`` is the CLI run in this process, which
returns at once; from then on the tests only read (the listener's weights with boto3, the
execution with plain Step Functions calls, ``status``) or act as an operator would
(an alarm set, ``promote``, ``halt``, ``abort``). The scenarios that cannot disturb each
other run at once, so the module takes seconds, not a minute.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from rollout.aws_clients import AwsClients
from rollout.rollouts.ledger import Event, Ledger
from rollout.rollouts.state import RolloutState, Status
from rollout.vocabulary import resource_names
from rollout.vocabulary.ledger_keys import STATE_SK, cohort_pk
from rollout.vocabulary.workflow_actions import definition_actions
from tests.alarms import put_5xx_alarm
from tests.cli_runner import Finished, rollout_output
from tests.conftest import Fleet, deploy_fleet, listener_weights
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

RELEASE = "1.5.0"
REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLE_TENANTS = REPOSITORY / "examples" / "tenants.yaml"
OLD_ONLY = {"blue": 100, "green": 0}
HALF = {"blue": 50, "green": 50}
NEW_ONLY = {"blue": 0, "green": 100}
WITHIN = 20.0
"""Seconds a scenario may take on a loaded machine; each takes a few when it is not."""
COHORTS = {"canary": ["acme-internal", "birch-labs", "cobalt-bank"], "alarmed": ["birch"],
           "aborted": ["dune"], "blocked": ["fern"], "later": ["gale"]}
"""A cohort per scenario; ``canary`` has the tenants of ``examples/tenants.yaml``: its dry
run reads that file, then it runs the plain linear rollout. ``later`` is the one wave
after ``alarmed`` (their ``order`` says so): its rollback halts the release there."""
STRATEGIES = {"canary": "linear:50:2s", "alarmed": "linear:50:4s", "aborted": "linear:50:30s",
              "blocked": "linear:50:2s", "later": "linear:50:2s"}
ORDERS = {"alarmed": 90, "later": 91}


class Scene:
    """The fleet, its tenants files and its alarms."""

    def __init__(self, fleet: Fleet, base: Path) -> None:
        self.fleet = fleet
        self.cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
        self.gate_alarm = put_5xx_alarm(self.cloudwatch, f"{fleet.app}-gate")
        self.ok_alarm = put_5xx_alarm(self.cloudwatch, f"{fleet.app}-ok")
        self.blocker = put_5xx_alarm(self.cloudwatch, f"{fleet.app}-blocker", state="ALARM",
                                     reason="Threshold Crossed: 14 errors")
        tenants = [tenant_entry(t, name) for name, ts in COHORTS.items() for t in ts]

        def entry(name: str) -> dict[str, object]:
            special: dict[str, list[dict[str, object]]] = {
                "alarmed": [{"kind": "alarm", "alarms": [self.gate_alarm]}]}
            gates = special.get(name, [{"kind": "alarm", "alarms": [self.ok_alarm]}])
            order = {"order": ORDERS[name]} if name in ORDERS else {}
            return cohort_entry(name, STRATEGIES[name], gates=gates, **order)

        self.tenants = write_tenants(base / "tenants.yaml",
                                     [entry(n) for n in STRATEGIES], tenants)
        blocked = write_tenants(base / "blocked.yaml", [entry(n) for n in STRATEGIES], tenants)
        blocked.write_text(f"blockers:\n  - alarm: {self.blocker}\n" + blocked.read_text())
        self.blocked_tenants = blocked
        unjudgeable = [cohort_entry("canary", STRATEGIES["canary"], gates=[
            {"kind": "metric", "metric": "error-rate", "max": 2, "name": "errors"}])]
        self.unjudgeable = write_tenants(base / "unjudgeable.yaml", unjudgeable,
                                         [tenant_entry("aurora", "canary")])
        self.seen: dict[str, dict[str, Any]] = {name: {} for name in COHORTS}
        self.operators: list[threading.Thread] = []

    def run(self, *args: str, tenants: Path | None = None) -> Finished:
        return rollout_output(*args, "--tenants", str(tenants or self.tenants),
                              fleet=self.fleet)

    def start(self, cohort: str, *extra: str, tenants: Path | None = None) -> Finished:
        return self.run("start", "--cohort", cohort, "--release", RELEASE, "--engine",
                        "stepfunctions", "--override-notice", "sfn test", "--check-every",
                        "1s", *extra, tenants=tenants)

    def weights(self, cohort: str) -> dict[str, int]:
        return listener_weights(self.fleet.cohorts[cohort])

    def ledger(self) -> Ledger:
        return Ledger(AwsClients(), self.fleet.shared.ledger_table)

    def state(self, cohort: str) -> RolloutState | None:
        return self.ledger().get(cohort_pk(cohort), STATE_SK, RolloutState)

    def events(self, cohort: str) -> list[Event]:
        return self.ledger().events(cohort)

    def status(self, cohort: str) -> dict[str, Any]:
        found = rollout_output("status", "--cohort", cohort, "--json", fleet=self.fleet)
        assert found.code == 0, found.stderr
        (row,) = json.loads(found.stdout)
        return dict(row)

    def machine(self, cohort: str) -> str:
        name = resource_names.rollout_workflow(self.fleet.app, cohort)
        sfn = boto3.client("stepfunctions", region_name="eu-west-1")
        return next(str(m["stateMachineArn"])
                    for m in sfn.list_state_machines()["stateMachines"] if m["name"] == name)

    def execution(self, cohort: str) -> dict[str, Any]:
        state = self.state(cohort)
        assert state is not None and state.execution
        found: dict[str, Any] = boto3.client(
            "stepfunctions", region_name="eu-west-1").describe_execution(
                executionArn=state.execution)
        return found

    def listener_writes(self, cohort: str) -> list[dict[str, int]]:
        """The weights of each ``ModifyListener`` the execution made, in order."""
        sfn = boto3.client("stepfunctions", region_name="eu-west-1")
        arn = self.execution(cohort)["executionArn"]
        colour = {a: str(c) for c, a in self.fleet.cohorts[cohort].target_group_arns.items()}
        writes: list[dict[str, int]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            for event in page["events"]:
                details = event.get("taskScheduledEventDetails", {})
                if details.get("resource") == "modifyListener":
                    forward = json.loads(details["parameters"])["DefaultActions"][0]
                    writes.append({colour[g["TargetGroupArn"]]: int(g["Weight"])
                                   for g in forward["ForwardConfig"]["TargetGroups"]})
        return writes


def status_is(scene: Scene, cohort: str, status: Status) -> Callable[[], bool]:
    def check() -> bool:
        state = scene.state(cohort)
        return state is not None and state.status == status
    return check


def ledger_items(scene: Scene) -> list[str]:
    items = boto3.client("dynamodb", region_name="eu-west-1").scan(
        TableName=scene.fleet.shared.ledger_table)["Items"]
    return sorted(json.dumps(item, sort_keys=True) for item in items)


def state_machines() -> list[str]:
    sfn = boto3.client("stepfunctions", region_name="eu-west-1")
    return [m["name"] for m in sfn.list_state_machines()["stateMachines"]]


def fire_mid_bake(scene: Scene) -> None:
    """The alarm gate's alarm goes off while step 1 (50%) bakes."""
    seen = scene.seen["alarmed"]
    wait_for(lambda: scene.weights("alarmed") == HALF)
    scene.cloudwatch.set_alarm_state(AlarmName=scene.gate_alarm, StateValue="ALARM",
                                     StateReason="Threshold Crossed: 42 errors")
    wait_for(lambda: scene.execution("alarmed")["status"] != "RUNNING")
    seen["done"] = True


def block_mid_rollout(scene: Scene) -> None:
    """The alarm blocker goes off during step 1: the execution holds before step 2, then
    goes on once it is OK."""
    seen = scene.seen["blocked"]
    wait_for(lambda: scene.weights("blocked") == HALF)
    scene.cloudwatch.set_alarm_state(AlarmName=scene.blocker, StateValue="ALARM",
                                     StateReason="Threshold Crossed: 15 errors")
    time.sleep(4)  # step 1 bakes for 2 s: only the blocker holds step 2 after that
    seen.update(held_weights=scene.weights("blocked"),
                held_status=scene.execution("blocked")["status"])
    scene.cloudwatch.set_alarm_state(AlarmName=scene.blocker, StateValue="OK",
                                     StateReason="healthy")
    wait_for(status_is(scene, "blocked", Status.PROMOTED))
    seen["done"] = True


@pytest.fixture(scope="module")
def scene(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """The fleet with every rollout started at once, its operators' threads watching, and
    ``halt --all`` placed once canary's first step is routed; the dry runs and refused
    starts done before."""
    base = tmp_path_factory.mktemp("sfn-engine")
    fleet = deploy_fleet(base, COHORTS, versions={"blue": "1.4.2", "green": RELEASE})
    scene = Scene(fleet, base)
    before = (ledger_items(scene), state_machines(), scene.weights("canary"))
    scene.seen["canary"]["dry_json"] = scene.start(
        "canary", "--dry-run", "--json", "--override-freeze", "sfn test",
        tenants=EXAMPLE_TENANTS)
    scene.seen["canary"]["dry_text"] = scene.start(
        "canary", "--dry-run", "--override-freeze", "sfn test", tenants=EXAMPLE_TENANTS)
    scene.seen["canary"]["unjudgeable"] = scene.start("canary", tenants=scene.unjudgeable)
    scene.seen["blocked"]["refused"] = scene.start("blocked", tenants=scene.blocked_tenants)
    scene.seen["untouched"] = {"before": before, "after": (
        ledger_items(scene), state_machines(), scene.weights("canary"))}
    scene.cloudwatch.set_alarm_state(AlarmName=scene.blocker, StateValue="OK",
                                     StateReason="healthy")
    operators: dict[str, Callable[[Scene], None]] = {"alarmed": fire_mid_bake,
                                                      "blocked": block_mid_rollout}
    for cohort in ("alarmed", "blocked", "aborted", "canary"):
        scene.seen[cohort]["started"] = scene.start(
            cohort, tenants=scene.blocked_tenants if cohort == "blocked" else None)
        if cohort in operators:
            thread = threading.Thread(target=operators[cohort], args=(scene,), daemon=True)
            thread.start()
            scene.operators.append(thread)
    wait_for(lambda: scene.weights("canary") == HALF)
    scene.seen["canary"]["halt"] = rollout_output("halt", "--all", "--reason", "incident 42",
                                                  fleet=fleet)
    scene.seen["canary"]["halted_at"] = time.monotonic()
    yield scene
    for thread in scene.operators:
        thread.join(timeout=WITHIN)


def test_dry_runs_print_the_definition_and_its_actions_and_write_nothing(scene: Scene) -> None:
    seen = scene.seen["canary"]
    dry = seen["dry_json"]
    assert dry.code == 0, dry.stderr
    printed = json.loads(dry.stdout)
    definition = printed["definition"]
    assert printed["actions"] == definition_actions(definition)
    assert "elasticloadbalancing:ModifyListener" in printed["actions"]
    assert any("gate alarm" in name for name in definition["States"]), "the api-5xx gate"
    text = seen["dry_text"]
    assert text.code == 0, text.stderr
    assert "dry run: nothing was changed" in text.stdout
    assert "keep 2 tenant(s) on blue" in text.stdout
    assert '"StartAt"' in text.stdout
    untouched = scene.seen["untouched"]
    assert untouched["after"] == untouched["before"], "ledger, state machines, weights"


def test_a_gate_the_workflow_cannot_judge_refuses_the_start_naming_it(scene: Scene) -> None:
    refused = scene.seen["canary"]["unjudgeable"]
    assert refused.code == 2
    assert "gate 'errors'" in refused.stderr and "in-process engine" in refused.stderr
    assert scene.seen["untouched"]["after"] == scene.seen["untouched"]["before"]


def test_the_rollout_reaches_100_percent_after_the_command_returned_halts_holding_it(
        scene: Scene) -> None:
    """canary's start returned at once; ``halt --all`` held its second step until
    ``unhalt``; then it went on to 100% while no command ran."""
    seen = scene.seen["canary"]
    started = seen["started"]
    assert started.code == 0, started.stderr
    assert "nothing of ours needs to run" in started.stdout
    state = scene.state("canary")
    assert state is not None and state.engine == "stepfunctions"
    assert state.execution and state.execution in started.stdout
    assert seen["halt"].code == 0, seen["halt"].stderr
    try:
        time.sleep(max(0.0, seen["halted_at"] + 3.0 - time.monotonic()))  # step 1 baked 2 s
        assert scene.weights("canary") == HALF
        assert scene.execution("canary")["status"] == "RUNNING"
    finally:
        lifted = rollout_output("unhalt", "--all", "--reason", "incident over",
                                fleet=scene.fleet)
    assert lifted.code == 0, lifted.stderr
    wait_for(status_is(scene, "canary", Status.PROMOTED))
    assert scene.weights("canary") == NEW_ONLY
    assert scene.listener_writes("canary") == [HALF, NEW_ONLY]
    row = scene.status("canary")
    assert (row["status"], row["engine"], row["execution"]) == (
        "promoted", "stepfunctions", state.execution)
    assert row["warm_until"], "the warm period is known from the promotion"
    assert [e.kind for e in scene.events("canary")][-3:] == ["step", "step", "promoted"]
    assert scene.execution("canary")["status"] == "SUCCEEDED"


def test_the_workflow_role_is_allowed_exactly_the_definition_s_actions(scene: Scene) -> None:
    sfn = boto3.client("stepfunctions", region_name="eu-west-1")
    described = sfn.describe_state_machine(stateMachineArn=scene.machine("canary"))
    role = resource_names.workflow_role(scene.fleet.app, "canary")
    assert described["roleArn"].endswith(f":role/{role}")
    policy = boto3.client("iam").get_role_policy(RoleName=role, PolicyName="rollout-workflow")
    document = policy["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    (statement,) = document["Statement"]
    assert statement["Action"] == definition_actions(json.loads(described["definition"]))


def test_an_alarm_mid_bake_rolls_back_in_one_listener_write(scene: Scene) -> None:
    wait_for(lambda: scene.seen["alarmed"].get("done", False))
    assert scene.execution("alarmed")["error"] == "RolledBack"
    assert scene.listener_writes("alarmed") == [HALF, OLD_ONLY]
    assert scene.weights("alarmed") == OLD_ONLY
    state = scene.state("alarmed")
    assert state is not None and state.status == Status.ROLLED_BACK
    assert state.reason is not None and scene.gate_alarm in state.reason
    assert [e.kind for e in scene.events("alarmed")][-2:] == ["step", "rolled_back"]
    listed = rollout_output("halts", "--json", "--history", fleet=scene.fleet)
    assert listed.code == 0, listed.stderr
    shown = json.loads(listed.stdout)
    (halt,) = [h for h in shown["halts"] if h["scope"] == "release"]
    assert (halt["cohort"], halt["release"]) == ("later", RELEASE), "only the wave after it"
    assert halt["reason"] == f"cohort alarmed rolled back {RELEASE}: {state.reason}"
    assert [e["kind"] for e in shown["history"] if e["data"]["halt"]["scope"] == "release"
            and e["data"]["halt"]["reason"] == halt["reason"]] == ["halted"]
    refused = scene.start("later")
    assert refused.code == 3, refused.stderr
    assert f"cohort alarmed rolled back {RELEASE}" in refused.stderr
    assert scene.weights("later") == OLD_ONLY
    carried = scene.run("rollback", "--cohort", "alarmed")
    assert carried.code == 0, carried.stderr
    after = scene.state("alarmed")
    assert after is not None and after.config_carried_back
    assert scene.weights("alarmed") == OLD_ONLY


def test_step_and_resume_leave_a_workflow_rollout_alone_and_a_second_start_finds_it(
        scene: Scene) -> None:
    wait_for(lambda: scene.weights("aborted") == HALF)
    for command in ("step", "resume"):
        refused = scene.run(command, "--cohort", "aborted")
        assert refused.code == 3
        assert "runs on Step Functions (arn:" in refused.stderr
        assert "promote, abort or rollback it" in refused.stderr
    again = scene.start("aborted")
    assert again.code == 0, again.stderr
    assert "already runs on Step Functions" in again.stdout
    assert len(state_machines_named(scene, "aborted")) == 1


def state_machines_named(scene: Scene, cohort: str) -> list[str]:
    name = resource_names.rollout_workflow(scene.fleet.app, cohort)
    return [found for found in state_machines() if found == name]


def test_abort_stops_the_execution_and_routes_back_in_one_write(scene: Scene) -> None:
    wait_for(lambda: scene.weights("aborted") == HALF)
    aborted = scene.run("abort", "--cohort", "aborted", "--reason", "sfn test")
    assert aborted.code == 0, aborted.stderr
    assert "stop the Step Functions execution" in aborted.stdout
    assert scene.execution("aborted")["status"] == "ABORTED"
    assert scene.weights("aborted") == OLD_ONLY
    assert scene.listener_writes("aborted") == [HALF]
    state = scene.state("aborted")
    assert state is not None and state.status == Status.ABORTED
    assert state.reason == "sfn test"


def test_the_same_release_starts_again_after_an_abort_as_a_new_execution(
        scene: Scene) -> None:
    wait_for(lambda: status_is(scene, "aborted", Status.ABORTED)())
    first = scene.execution("aborted")["executionArn"]
    again = scene.start("aborted")
    assert again.code == 0, again.stderr
    second = scene.execution("aborted")
    assert second["executionArn"] != first and second["status"] == "RUNNING"
    assert second["executionArn"] in again.stdout
    wait_for(lambda: scene.weights("aborted") == HALF)
    assert scene.run("abort", "--cohort", "aborted", "--reason", "done").code == 0
    assert scene.weights("aborted") == OLD_ONLY


def test_an_alarm_blocker_refuses_start_and_holds_a_running_execution(scene: Scene) -> None:
    seen = scene.seen["blocked"]
    refused = seen["refused"]
    assert refused.code == 3, refused.stderr
    assert scene.blocker in refused.stderr
    assert seen["started"].code == 0, seen["started"].stderr
    wait_for(lambda: seen.get("done", False))
    assert (seen["held_weights"], seen["held_status"]) == (HALF, "RUNNING")
    assert scene.listener_writes("blocked") == [HALF, NEW_ONLY]
