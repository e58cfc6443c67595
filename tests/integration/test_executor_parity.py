"""The same scenarios through both executors give the same rollout.

One fleet, a cohort per scenario and executor (``p-…`` runs in process, ``s-…`` on Step
Functions), each with one tenant and the same strategy and gates whichever runs it.
Every scenario is what an operator does (``start``, ``promote``, ``halt``, ``unhalt``,
``resume``) and what an incident does (an alarm going off), the same for both; only the
in-process executor needs a command of ours running while traffic moves (``--wait``),
which is what the workflow does away with. All scenarios run at once, a thread each.

Compared per scenario: the listener writes in order (recorded from this process's calls
for the in-process executor, from the execution's history for the workflow, and read
back from the listener at the end), the ledger events that say how the rollout
progressed in the same order, and the outcome. Each executor's own records around those
(the workflow's ``workflow`` event, the in-process carry-back of configuration) are not
compared: they say where the rollout ran, not how it went.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient

from rollout.aws_clients import AwsClients
from rollout.local.fleets import Fleet, deploy_fleet
from rollout.rollouts.ledger import Ledger
from rollout.rollouts.state import RolloutState, Status
from rollout.vocabulary.ledger_keys import STATE_SK, cohort_pk
from tests.alarms import put_5xx_alarm
from tests.cli_runner import rollout
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

RELEASE = "1.5.0"
PROCESS, WORKFLOW = "process", "stepfunctions"
EXECUTORS = (PROCESS, WORKFLOW)
OLD = {"blue": 100, "green": 0}
HALF = {"blue": 50, "green": 50}
NEW = {"blue": 0, "green": 100}
PROGRESS = ("step", "paused", "approved", "promoted", "rolled_back", "aborted")
"""The ledger events that say how a rollout went, whichever executor ran it."""
WITHIN = 60.0
"""Seconds a scenario may take on a loaded machine; each takes a few when it is not."""
POLL = 0.25
"""Seconds between two looks at the ledger or a listener: twelve rollouts are watched."""
FLEET_WIDE = ("halt", "unhalt")
"""The commands that read no tenants file."""
CHECK_EVERY = {PROCESS: "0.5s", WORKFLOW: "1s"}
"""How often each executor checks its gates: a workflow's Wait is whole seconds."""


@dataclass(frozen=True)
class Scenario:
    """A rollout both executors run, and what either must make of it."""

    strategy: str
    gate: str
    """``alarm`` (the cohort's own alarm), ``sla`` (no traffic: no data) or ``manual``."""
    writes: tuple[dict[str, int], ...]
    events: tuple[str, ...]
    outcome: Status
    fire_at: dict[str, int] | None = None
    """The listener's weights at which the cohort's alarm goes off (during that bake)."""


SCENARIOS = {
    "linear": Scenario("linear:50:1s", "alarm", (HALF, NEW), ("step", "step", "promoted"),
                       Status.PROMOTED),
    "alarm": Scenario("canary:50:30s", "alarm", (HALF, OLD), ("step", "rolled_back"),
                      Status.ROLLED_BACK, fire_at=HALF),
    "nodata": Scenario("linear:50:1s", "sla", (HALF,), ("step", "paused"), Status.PAUSED),
    "approval": Scenario("canary:50:1s", "manual", (HALF, NEW),
                         ("step", "paused", "approved", "step", "paused", "approved",
                          "promoted"), Status.PROMOTED),
    "halt": Scenario("file:halt-steps.yaml", "alarm", (HALF, NEW),
                     ("step", "step", "promoted"), Status.PROMOTED),
    "final": Scenario("file:final-steps.yaml", "alarm", (HALF, NEW, OLD),
                      ("step", "step", "rolled_back"), Status.ROLLED_BACK, fire_at=NEW),
}
"""``final`` is the final bake's failure: the alarm goes off after 100%, before the end.
An alarm goes off during a bake of 30 s, which the rollback cuts short: however loaded
the machine, the watcher sees the weights it waits for before the bake is over."""
STEPS_FILES = {
    "halt-steps.yaml": "steps:\n  - {weight: 50, bake: 6s}\n  - {weight: 100, bake: 1s}\n",
    "final-steps.yaml": "steps:\n  - {weight: 50, bake: 1s}\n  - {weight: 100, bake: 30s}\n",
}
"""The strategies ``file:`` names, in the project folder."""
HALT_BAKE = 6.0
"""Step 1's bake in the halt scenario: the halt lands during it."""


def cohort_of(scenario: str, executor: str) -> str:
    return f"{executor[0]}-{scenario}"


@dataclass
class Seen:
    """What one run of a scenario left: exit codes by command, and notes on the way."""

    codes: list[tuple[str, int]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None


class Scene:
    """The fleet, its tenants file, each cohort's alarm, and what every run saw."""

    def __init__(self, fleet: Fleet, base: Path) -> None:
        self.fleet = fleet
        self.cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
        self.elbv2 = boto3.client("elbv2", region_name="eu-west-1")
        for name, text in STEPS_FILES.items():
            (fleet.project_dir / name).write_text(text)
        self.ledger = Ledger(AwsClients(), fleet.shared.ledger_table)
        cohorts = {cohort_of(s, e): s for s in SCENARIOS for e in EXECUTORS}
        self.alarms = {c: put_5xx_alarm(self.cloudwatch, f"{fleet.app}-{c}") for c in cohorts}
        self.tenants = {c: write_tenants(base / f"{c}.yaml", [cohort_entry(
            c, SCENARIOS[s].strategy, gates=[self.gate(SCENARIOS[s].gate, c)],
            **({"duration": "5m"} if SCENARIOS[s].strategy.startswith("file:") else {}))],
            [tenant_entry(f"{c}-tenant", c)]) for c, s in cohorts.items()}
        """A file per cohort, naming no other: no rollback here halts a later wave."""
        self.seen: dict[str, Seen] = {c: Seen() for c in cohorts}
        self.process_writes: dict[str, list[dict[str, int]]] = {c: [] for c in cohorts}

    def gate(self, kind: str, cohort: str) -> dict[str, object]:
        if kind == "alarm":
            return {"kind": "alarm", "alarms": [self.alarms[cohort]]}
        if kind == "sla":
            return {"kind": "sla", "target": 99.9, "min_samples": 10}
        return {"kind": "manual"}

    def run(self, cohort: str, *args: str) -> int:
        """``rollout ARGS --cohort C`` in this process with the cohort's tenants file, its
        exit code noted."""
        tenants = [] if args[0] in FLEET_WIDE else ["--tenants", str(self.tenants[cohort])]
        code = rollout(*args, "--cohort", cohort, *tenants, "--json", fleet=self.fleet)
        self.seen[cohort].codes.append((args[0], code))
        return code

    def state(self, cohort: str) -> RolloutState | None:
        return self.ledger.get(cohort_pk(cohort), STATE_SK, RolloutState)

    def events(self, cohort: str) -> list[str]:
        return [e.kind for e in self.ledger.events(cohort) if e.kind in PROGRESS]

    def weights(self, cohort: str) -> dict[str, int]:
        """What the listener routes by, with one client for all the watching threads."""
        resources = self.fleet.cohorts[cohort]
        (listener,) = self.elbv2.describe_listeners(
            ListenerArns=[resources.listener_arn])["Listeners"]
        return forwarded(listener, {a: str(c) for c, a in resources.target_group_arns.items()})

    def settled(self, cohort: str, since: RolloutState | None = None) -> Callable[[], bool]:
        """True once the rollout waits for nobody but a human, or is over; with ``since``,
        somewhere else than there (an approval is recorded before the workflow hears it)."""
        def check() -> bool:
            state = self.state(cohort)
            if state is None or state.status in (Status.PREPARING, Status.SHIFTING):
                return False
            return since is None or (state.status, state.step_index) != (since.status,
                                                                         since.step_index)
        return check

    def workflow_writes(self, cohort: str) -> list[dict[str, int]]:
        """The weights of each ``modifyListener`` task of the cohort's execution, in order."""
        state = self.state(cohort)
        assert state is not None and state.execution
        colour = {a: str(c) for c, a in self.fleet.cohorts[cohort].target_group_arns.items()}
        sfn = boto3.client("stepfunctions", region_name="eu-west-1")
        writes: list[dict[str, int]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(
                executionArn=state.execution):
            for event in page["events"]:
                details = event.get("taskScheduledEventDetails", {})
                if details.get("resource") == "modifyListener":
                    writes.append(forwarded(json.loads(details["parameters"]), colour))
        return writes

    def writes(self, cohort: str, executor: str) -> list[dict[str, int]]:
        if executor == WORKFLOW:
            return self.workflow_writes(cohort)
        return self.process_writes[cohort]


def forwarded(params: Any, colour: dict[str, str]) -> dict[str, int]:
    """A listener's (or a ``ModifyListener`` request's) weights by colour."""
    groups = params["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    return {colour[g["TargetGroupArn"]]: int(g["Weight"]) for g in groups}


@contextmanager
def recording_process_writes(scene: Scene) -> Iterator[None]:
    """Note each ``ModifyListener`` this process makes on an in-process cohort's listener,
    once AWS accepted it."""
    listeners = {scene.fleet.cohorts[c].listener_arn: c for c in scene.seen
                 if c.startswith(PROCESS[0])}
    original = BaseClient._make_api_call

    def record(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        answer = original(client, operation, params)
        cohort = listeners.get(params.get("ListenerArn", ""))
        if operation == "ModifyListener" and cohort is not None:
            arns = scene.fleet.cohorts[cohort].target_group_arns
            scene.process_writes[cohort].append(
                forwarded(params, {a: str(c) for c, a in arns.items()}))
        return answer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", record)
        yield


# ------------------------------------------------------------------ the scenarios
def start(scene: Scene, cohort: str, executor: str, *, wait: bool = True) -> int:
    """``rollout start``: in process with ``--wait`` (the whole rollout, here), on Step
    Functions returning once the execution runs."""
    how = ["--engine", WORKFLOW] if executor == WORKFLOW else ["--wait"] if wait else []
    return scene.run(cohort, "start", "--release", RELEASE, "--override-notice", "parity",
                     "--check-every", CHECK_EVERY[executor], *how)


def go_on(scene: Scene, cohort: str, executor: str, command: str) -> None:
    """``command`` (``promote``, or ``resume`` which only the in-process executor needs),
    then the rollout's next settled state."""
    before = scene.state(cohort)
    if command == "promote" or executor == PROCESS:
        scene.run(cohort, command, "--check-every", CHECK_EVERY[executor])
    wait_for(scene.settled(cohort, since=before), WITHIN, POLL)


def started_and_settled(scene: Scene, cohort: str, executor: str) -> None:
    start(scene, cohort, executor)
    wait_for(scene.settled(cohort), WITHIN, POLL)


def approved_twice(scene: Scene, cohort: str, executor: str) -> None:
    """Both steps wait for a ``promote``; a third finds nothing to approve."""
    started_and_settled(scene, cohort, executor)
    go_on(scene, cohort, executor, "promote")
    go_on(scene, cohort, executor, "promote")
    scene.run(cohort, "promote")


def halted_after_the_first_step(scene: Scene, cohort: str, executor: str) -> None:
    """The cohort halted while step 1 bakes: step 2 waits, after its bake too, until
    ``unhalt``. In process a ``resume --wait`` meanwhile is refused."""
    start(scene, cohort, executor, wait=False)
    wait_for(lambda: scene.weights(cohort) == HALF, WITHIN, POLL)
    scene.run(cohort, "halt", "--reason", "parity incident")
    if executor == PROCESS:
        scene.run(cohort, "resume", "--check-every", CHECK_EVERY[executor])
    else:
        halted = scene.state(cohort)
        assert halted is not None and halted.step_started_at is not None
        baked = halted.step_started_at.timestamp() + HALT_BAKE + 2.0
        time.sleep(max(0.0, baked - time.time()))  # only the halt holds step 2 now
    state = scene.state(cohort)
    scene.seen[cohort].notes["held"] = (scene.weights(cohort), state and state.status)
    scene.run(cohort, "unhalt", "--reason", "parity incident over")
    go_on(scene, cohort, executor, "resume")


PLAYS: dict[str, Callable[[Scene, str, str], None]] = {
    "approval": approved_twice, "halt": halted_after_the_first_step}
"""How the operator plays a scenario; the others are a start the rollout settles from."""


def fire_when(scene: Scene, cohort: str, weights: dict[str, int]) -> None:
    """The cohort's alarm goes off once its listener routes by ``weights``."""
    wait_for(lambda: scene.weights(cohort) == weights, WITHIN, POLL)
    scene.cloudwatch.set_alarm_state(AlarmName=scene.alarms[cohort], StateValue="ALARM",
                                     StateReason="Threshold Crossed: 42 errors")


def play(scene: Scene, name: str, executor: str) -> None:
    cohort = cohort_of(name, executor)
    try:
        PLAYS.get(name, started_and_settled)(scene, cohort, executor)
    except BaseException as failed:  # the test that reads it raises it
        scene.seen[cohort].error = failed


@pytest.fixture(scope="module")
def scene(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """Every scenario played through both executors at once, then the scene to read."""
    base = tmp_path_factory.mktemp("parity")
    fleet = deploy_fleet(base, {cohort_of(s, e): [f"{cohort_of(s, e)}-tenant"]
                                for s in SCENARIOS for e in EXECUTORS},
                         versions={"blue": "1.4.2", "green": RELEASE})
    scene = Scene(fleet, base)
    threads = [threading.Thread(target=play, args=(scene, s, e), daemon=True)
               for s in SCENARIOS for e in EXECUTORS]
    threads += [threading.Thread(target=fire_when, daemon=True,
                                 args=(scene, cohort_of(s, e), SCENARIOS[s].fire_at))
                for s in SCENARIOS if SCENARIOS[s].fire_at for e in EXECUTORS]
    with recording_process_writes(scene):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=2 * WITHIN)
    yield scene


# ------------------------------------------------------------------ the comparison
@pytest.mark.parametrize("name", SCENARIOS)
def test_both_executors_write_the_same_weights_record_the_same_events_and_end_alike(
        scene: Scene, name: str) -> None:
    scenario = SCENARIOS[name]
    got: dict[str, tuple[object, ...]] = {}
    for executor in EXECUTORS:
        cohort = cohort_of(name, executor)
        failed = scene.seen[cohort].error
        if failed is not None:
            raise failed
        state = scene.state(cohort)
        assert state is not None
        got[executor] = (scene.writes(cohort, executor), scene.events(cohort), state.status,
                         scene.weights(cohort))
    expected = (list(scenario.writes), list(scenario.events), scenario.outcome,
                scenario.writes[-1])
    assert got == {PROCESS: expected, WORKFLOW: expected}


@pytest.mark.parametrize("name", ["alarm", "final"])
def test_a_rollback_says_which_alarm_went_off_in_both(scene: Scene, name: str) -> None:
    for executor in EXECUTORS:
        cohort = cohort_of(name, executor)
        state = scene.state(cohort)
        assert state is not None and state.reason is not None
        assert scene.alarms[cohort] in state.reason, (executor, state.reason)


def test_a_halt_holds_the_next_step_in_both_and_in_process_refuses_to_resume(
        scene: Scene) -> None:
    for executor in EXECUTORS:
        cohort = cohort_of("halt", executor)
        assert scene.seen[cohort].notes["held"] == (HALF, Status.SHIFTING), executor
    assert scene.seen[cohort_of("halt", PROCESS)].codes == [
        ("start", 0), ("halt", 0), ("resume", 3), ("unhalt", 0), ("resume", 0)]


def test_in_process_the_exit_code_says_how_it_went_on_step_functions_that_it_runs(
        scene: Scene) -> None:
    """In process a command that ends paused for a human exits 3 and one whose rollout
    rolled back exits 1; a workflow's ``start`` and ``promote`` return once it goes on.
    Either way a ``promote`` with nothing waiting is refused."""
    codes = {cohort: seen.codes for cohort, seen in scene.seen.items()}
    assert {name: codes[cohort_of(name, PROCESS)] for name in SCENARIOS} == {
        "linear": [("start", 0)], "alarm": [("start", 1)], "nodata": [("start", 3)],
        "approval": [("start", 3), ("promote", 3), ("promote", 0), ("promote", 3)],
        "halt": [("start", 0), ("halt", 0), ("resume", 3), ("unhalt", 0), ("resume", 0)],
        "final": [("start", 1)]}
    assert {name: codes[cohort_of(name, WORKFLOW)] for name in SCENARIOS} == {
        "linear": [("start", 0)], "alarm": [("start", 0)], "nodata": [("start", 0)],
        "approval": [("start", 0), ("promote", 0), ("promote", 0), ("promote", 3)],
        "halt": [("start", 0), ("halt", 0), ("unhalt", 0)], "final": [("start", 0)]}
