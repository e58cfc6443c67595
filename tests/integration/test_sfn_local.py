"""Compiled rollouts executed by moto's Step Functions over HTTP, on a real local fleet.

Each scenario is a state machine compiled from a hand-made spec for one cohort of the
fleet, its execution started, then watched from outside with plain boto3 (the listener's
weights, the ledger's items, the execution's history) while a test thread plays the
operator (an approval sent, a stop requested). The scenarios run at once, on one
cohort each, and the tests read what each one saw. Alarms, halts and rollbacks are
played through the ``rollout`` command on definitions it compiled, in
``test_sfn_engine.py`` and ``test_executor_parity.py``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from rollout.aws_clients import region
from rollout.gates.cloudwatch_stats import arn_suffix
from rollout.local.fleets import Fleet, deploy_fleet, listener_weights
from rollout.rollouts.ledger import Event, Ledger
from rollout.rollouts.state import RolloutState, Status
from rollout.rollouts.strategy import Step
from rollout.stepfunctions.definition import compile_definition
from rollout.stepfunctions.spec import (
    NOW,
    SEQ,
    AlarmGate,
    FreezeHold,
    LedgerWrite,
    SlaGate,
    WeightStep,
    WorkflowSpec,
)
from rollout.stepfunctions.templates import filled_in
from rollout.vocabulary.ledger_keys import (
    HALT_FLEET_PK,
    STATE_SK,
    cohort_pk,
    event_key_sk,
    event_sk,
    halt_cohort_sk,
    stop_sk,
)
from tests.alarms import put_5xx_alarm

MARK = datetime(2001, 1, 1, tzinfo=UTC)
"""A timestamp the documents are dumped with, then replaced by the NOW sentinel."""
DEADLINE = 60.0
"""Seconds a scenario may take on a loaded machine; each takes a few when it is not."""


def sentinels(doc: str) -> str:
    return doc.replace(f'"{MARK.isoformat().replace("+00:00", "Z")}"', f'"{NOW}"').replace(
        '"seq":0', f'"seq":{SEQ}')


@dataclass
class Scenario:
    """One cohort's rollout on the state machine, and what the watcher saw of it."""

    name: str
    fleet: Fleet
    cohort: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    weights_seen: list[dict[str, int]] = field(default_factory=list)
    status: str = ""
    error: str | None = None
    arn: str = ""
    seen: dict[str, Any] = field(default_factory=dict)
    """What the operator's thread noted mid-way (weights, items, status)."""

    @property
    def resources(self) -> Any:
        return self.fleet.cohorts[self.cohort]

    @property
    def pk(self) -> str:
        return cohort_pk(self.cohort)

    @property
    def table(self) -> str:
        return self.fleet.shared.ledger_table

    def write(self, kind: str, status: Status, step_index: int = -1,
              weights: dict[str, int] | None = None) -> LedgerWrite:
        """A transition's documents as the in-process executor would write them."""
        state = RolloutState(
            cohort=self.cohort, release="2.0.0", old_version="1.4.2", old_colour="blue",
            new_colour="green", strategy="linear", steps=[Step(weight=50), Step(weight=100)],
            step_index=step_index, weights=weights or {"blue": 100, "green": 0},
            status=status, reason=f"{kind} it's {{fine}} \\o/", started_at=self.started,
            updated_at=MARK, versions={"blue": "1.4.2", "green": "2.0.0"},
            last_known_good="1.4.2")
        key = f"{self.started.isoformat()}:{kind}"
        event = Event(at=MARK, actor="states.amazonaws.com", kind=kind,
                      message=f"{kind} on {self.cohort}: “quoted” {{}}", data={"key": key})
        return LedgerWrite(state_doc=sentinels(state.model_dump_json()),
                           event_doc=sentinels(event.model_dump_json()), event_key=key,
                           announce=f"{self.cohort}: {kind} at {NOW}")


def step(scenario: Scenario, index: int, share: int, bake: float,
         approval: bool = False) -> WeightStep:
    weights = {"blue": 100 - share, "green": share}
    return WeightStep(
        weights=weights, bake_seconds=bake, approval=approval,
        record=scenario.write(f"step:{index}", Status.SHIFTING, index, weights),
        paused=scenario.write(f"paused:{index}", Status.PAUSED, index, weights),
        awaiting_approval=(scenario.write(f"approval:{index}", Status.PAUSED, index, weights)
                           if approval else None))


def workflow(scenario: Scenario, steps: list[WeightStep], **changes: Any) -> WorkflowSpec:
    cohort = scenario.resources
    fields: dict[str, Any] = dict(
        cohort=scenario.cohort, release="2.0.0", region=region(),
        listener_arn=cohort.listener_arn, target_groups=dict(cohort.target_group_arns),
        old_colour="blue", new_colour="green",
        load_balancer_dimension=arn_suffix(cohort.load_balancer_arn),
        target_group_dimensions={c: arn_suffix(a) for c, a in cohort.target_group_arns.items()},
        rollout_started_at=scenario.started.isoformat(), steps=steps,
        halts=[(HALT_FLEET_PK, halt_cohort_sk(scenario.cohort))],
        check_interval_seconds=1, max_inconclusive=2, ledger_table=scenario.table,
        ledger_pk=scenario.pk, stop_sk=stop_sk(scenario.started),
        event_slots=[(seq, event_sk(seq)) for seq in range(1, 12)],
        promoted=scenario.write("promoted", Status.PROMOTED, len(steps) - 1,
                                {"blue": 0, "green": 100}),
        approval_item_sk=f"APPROVAL#{scenario.started.isoformat()}",
        notices_topic_arn=scenario.fleet.shared.notices_topic_arn,
        rolled_back_on_error=scenario.write("rolled_back:error", Status.ROLLED_BACK))
    fields.update(changes)
    return WorkflowSpec(**fields)


def ledger_item(scenario: Scenario, sk: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = boto3.client("dynamodb").get_item(
        TableName=scenario.table, Key={"pk": {"S": scenario.pk}, "sk": {"S": sk}},
        ConsistentRead=True).get("Item")
    return found


def put_item(scenario: Scenario, pk: str, sk: str, doc: str = "{}") -> None:
    boto3.client("dynamodb").put_item(TableName=scenario.table, Item={
        "pk": {"S": pk}, "sk": {"S": sk}, "doc": {"S": doc}})


def start(scenario: Scenario, spec: WorkflowSpec, role: str) -> None:
    sfn = boto3.client("stepfunctions")
    scenario.weights_seen.append(listener_weights(scenario.resources))
    machine = sfn.create_state_machine(
        name=f"rollout-{scenario.cohort}-{uuid.uuid4().hex[:6]}", roleArn=role,
        definition=json.dumps(compile_definition(spec)))["stateMachineArn"]
    scenario.arn = sfn.start_execution(stateMachineArn=machine, name=f"2.0.0-{scenario.cohort}",
                                       input="{}")["executionArn"]


def watch(scenario: Scenario, until: Callable[[], bool] = lambda: False) -> None:
    """Poll the listener and the execution until it ends or ``until()`` holds."""
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        weights = listener_weights(scenario.resources)
        if not scenario.weights_seen or scenario.weights_seen[-1] != weights:
            scenario.weights_seen.append(weights)
        described = sfn.describe_execution(executionArn=scenario.arn)
        scenario.status, scenario.error = described["status"], described.get("error")
        if scenario.status != "RUNNING" or until():
            return
        time.sleep(0.2)
    raise AssertionError(f"{scenario.name}: still {scenario.status} after {DEADLINE}s, "
                         f"weights seen {scenario.weights_seen}")


def history(scenario: Scenario) -> list[dict[str, Any]]:
    pages = boto3.client("stepfunctions").get_paginator("get_execution_history").paginate(
        executionArn=scenario.arn)
    return [event for page in pages for event in page["events"]]


def listener_writes(scenario: Scenario) -> list[dict[str, Any]]:
    """The ``ModifyListener`` calls the execution scheduled, their parameters in order."""
    return [json.loads(event["taskScheduledEventDetails"]["parameters"])
            for event in history(scenario) if event["type"] == "TaskScheduled"
            and event["taskScheduledEventDetails"]["resource"] == "modifyListener"]


def written_weights(scenario: Scenario) -> list[dict[str, int]]:
    """The weights of each ``ModifyListener`` the execution made, by colour, in order."""
    colour = {arn: name for name, arn in scenario.resources.target_group_arns.items()}
    return [{colour[g["TargetGroupArn"]]: g["Weight"]
             for g in write["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]}
            for write in listener_writes(scenario)]


def seen_only_these(scenario: Scenario, last: dict[str, int]) -> None:
    """The listener only ever held the weights the execution wrote, ending at ``last`` (a
    loaded machine's watcher may miss a short step, never see a weight nobody wrote)."""
    seen = scenario.weights_seen
    assert seen[0] == {"blue": 100, "green": 0} and seen[-1] == last
    assert all(w in [seen[0], *written_weights(scenario)] for w in seen), seen


def waiting_token(scenario: Scenario, spec: WorkflowSpec) -> str | None:
    item = ledger_item(scenario, spec.approval_item_sk)
    return item["token"]["S"] if item else None


# ------------------------------------------------------------------ the scenarios
def run_linear(scenario: Scenario, role: str) -> WorkflowSpec:
    """Linear to 100% with a healthy alarm gate; another writer took the first event slot."""
    alarm = put_5xx_alarm(boto3.client("cloudwatch"), f"{scenario.cohort}-ok")
    spec = workflow(scenario, [step(scenario, 0, 25, 1), step(scenario, 1, 50, 1),
                               step(scenario, 2, 100, 1)],
                    alarm_gates=[AlarmGate(name="5xx", alarms=[alarm], failed=scenario.write(
                        "rolled_back:5xx", Status.ROLLED_BACK))])
    put_item(scenario, scenario.pk, event_sk(1), Event(
        seq=1, kind="note", message="another writer", data={}).model_dump_json())
    start(scenario, spec, role)
    watch(scenario)
    return spec


def run_approval(scenario: Scenario, role: str) -> WorkflowSpec:
    """An approval after step 1's bake: it waits, its token in the ledger, until sent back."""
    spec = workflow(scenario, [step(scenario, 0, 50, 1, approval=True),
                               step(scenario, 1, 100, 1)])
    start(scenario, spec, role)
    watch(scenario, lambda: waiting_token(scenario, spec) is not None)
    time.sleep(1.5)
    watch(scenario, lambda: True)
    scenario.seen.update(status=scenario.status, weights=scenario.weights_seen[-1],
                         item=ledger_item(scenario, spec.approval_item_sk),
                         state=ledger_item(scenario, STATE_SK))
    boto3.client("stepfunctions").send_task_success(taskToken=waiting_token(scenario, spec),
                                                    output="{}")
    watch(scenario)
    return spec


def run_stop(scenario: Scenario, role: str) -> WorkflowSpec:
    """An operator's stop request lands while the execution waits for an approval."""
    spec = workflow(scenario, [step(scenario, 0, 25, 1, approval=True),
                               step(scenario, 1, 100, 1)])
    start(scenario, spec, role)
    watch(scenario, lambda: waiting_token(scenario, spec) is not None)
    put_item(scenario, scenario.pk, stop_sk(scenario.started))
    boto3.client("stepfunctions").send_task_success(taskToken=waiting_token(scenario, spec),
                                                    output="{}")
    watch(scenario)
    return spec


def run_no_data(scenario: Scenario, role: str) -> WorkflowSpec:
    """An SLA gate on a colour that served nothing: inconclusive, then a pause."""
    spec = workflow(scenario, [step(scenario, 0, 100, 1)], sla_gates=[SlaGate(
        name="sla 99.9%", target=99.9, min_samples=10,
        failed=scenario.write("rolled_back:sla", Status.ROLLED_BACK))])
    start(scenario, spec, role)
    watch(scenario, lambda: waiting_token(scenario, spec) is not None)
    scenario.seen.update(status=scenario.status, state=ledger_item(scenario, STATE_SK))
    boto3.client("stepfunctions").send_task_success(taskToken=waiting_token(scenario, spec),
                                                    output="{}")
    watch(scenario)
    return spec


def run_freeze(scenario: Scenario, role: str) -> WorkflowSpec:
    """A company freeze from 2 s after the start, for 3 s: step 1 bakes into it, and step
    2 waits until it ends."""
    now = datetime.now(UTC)
    freeze = FreezeHold(name="incident week", starts=now + timedelta(seconds=2),
                        ends=now + timedelta(seconds=5))
    spec = workflow(scenario, [step(scenario, 0, 50, 2), step(scenario, 1, 100, 1)],
                    freezes=[freeze])
    start(scenario, spec, role)
    inside = freeze.ends - timedelta(seconds=0.6)
    watch(scenario, lambda: datetime.now(UTC) >= inside)
    scenario.seen.update(inside=listener_weights(scenario.resources), inside_at=datetime.now(UTC))
    watch(scenario, lambda: scenario.weights_seen[-1] == {"blue": 0, "green": 100})
    scenario.seen.update(all_new_at=datetime.now(UTC), freeze=freeze)
    watch(scenario)
    return spec


RUNS: dict[str, Callable[[Scenario, str], WorkflowSpec]] = {
    "linear": run_linear, "approval": run_approval, "stop": run_stop, "no_data": run_no_data}
AFTERWARDS: dict[str, Callable[[Scenario, str], WorkflowSpec]] = {"freeze": run_freeze}
"""Run once the others are done: their seconds are real time, a loaded moto would stretch
them."""


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    spec: WorkflowSpec

    def ledger(self) -> Ledger:
        return Ledger(self.scenario.fleet.clients, self.scenario.table)

    def events(self) -> list[Event]:
        return self.ledger().events(self.scenario.cohort)

    def state(self) -> RolloutState | None:
        return self.ledger().get(self.scenario.pk, STATE_SK, RolloutState)


@pytest.fixture(scope="module")
def outcomes(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, Outcome]:
    """Every scenario, run at once on a cohort of its own."""
    cohorts = {name: name.replace("_", "") for name in [*RUNS, *AFTERWARDS]}
    fleet = deploy_fleet(tmp_path_factory.mktemp("sfn"),
                         {cohort: [f"{cohort}-t"] for cohort in cohorts.values()})
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": "states.amazonaws.com"}}]}
    role = boto3.client("iam").create_role(RoleName=f"rollout-sfn-{fleet.app}",
                                           AssumeRolePolicyDocument=json.dumps(trust))
    scenarios = {name: Scenario(name, fleet, cohort) for name, cohort in cohorts.items()}
    with ThreadPoolExecutor(max_workers=len(RUNS)) as pool:
        futures = {name: pool.submit(run, scenarios[name], role["Role"]["Arn"])
                   for name, run in RUNS.items()}
        done = {name: Outcome(scenarios[name], future.result())
                for name, future in futures.items()}
    for name, run in AFTERWARDS.items():
        scenarios[name].started = datetime.now(UTC)
        done[name] = Outcome(scenarios[name], run(scenarios[name], role["Role"]["Arn"]))
    return done


def matches(template: str, stored: str, seq: int) -> str:
    """The timestamp ``stored`` holds where ``template`` has NOW, having checked that
    ``stored`` is the template with it and ``seq`` filled in, byte for byte."""
    pattern = re.escape(template.replace(SEQ, str(seq))).replace(re.escape(NOW), '([^"]+)')
    found = re.fullmatch(pattern, stored)
    assert found is not None, f"{stored!r} is not {template!r} filled in"
    at = found.group(1)
    assert filled_in(template, at, seq) == stored
    datetime.fromisoformat(at)
    return at


def test_a_linear_rollout_goes_to_100_percent_one_write_per_step(
        outcomes: dict[str, Outcome]) -> None:
    run = outcomes["linear"]
    assert run.scenario.status == "SUCCEEDED"
    assert written_weights(run.scenario) == [{"blue": 75, "green": 25},
                                             {"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
    seen_only_these(run.scenario, {"blue": 0, "green": 100})


def test_the_ledger_holds_the_documents_filled_in_byte_for_byte(
        outcomes: dict[str, Outcome]) -> None:
    run = outcomes["linear"]
    events = run.events()
    assert [(e.seq, e.kind) for e in events] == [
        (1, "note"), (2, "step:0"), (3, "step:1"), (4, "step:2"), (5, "promoted")]
    writes = [*(s.record for s in run.spec.steps), run.spec.promoted]
    for event, write in zip(events[1:], writes, strict=True):
        stored = ledger_item(run.scenario, event_sk(event.seq))
        claim = ledger_item(run.scenario, event_key_sk(write.event_key))
        assert stored is not None and claim is not None
        assert claim["doc"]["S"] == stored["doc"]["S"]
        at = matches(write.event_doc, stored["doc"]["S"], event.seq)
        assert event.at == datetime.fromisoformat(at)
        assert event.key == write.event_key and "“quoted” {}" in event.message
    state = ledger_item(run.scenario, STATE_SK)
    assert state is not None
    matches(run.spec.promoted.state_doc, state["doc"]["S"], 5)
    parsed = run.state()
    assert parsed is not None and parsed.status == Status.PROMOTED
    assert parsed.reason == "promoted it's {fine} \\o/"


def test_an_approval_waits_with_its_token_in_the_ledger_until_sent_back(
        outcomes: dict[str, Outcome]) -> None:
    run = outcomes["approval"]
    seen = run.scenario.seen
    assert seen["status"] == "RUNNING" and seen["weights"] == {"blue": 50, "green": 50}
    assert seen["item"]["step"] == {"N": "0"} and seen["item"]["token"]["S"]
    assert RolloutState.model_validate_json(seen["state"]["doc"]["S"]).status == Status.PAUSED
    assert run.scenario.status == "SUCCEEDED"
    assert run.scenario.weights_seen[-1] == {"blue": 0, "green": 100}
    assert [e.kind for e in run.events()] == ["step:0", "approval:0", "step:1", "promoted"]


def test_a_stop_request_ends_the_execution_at_its_next_write_with_nothing_written(
        outcomes: dict[str, Outcome]) -> None:
    run = outcomes["stop"]
    assert run.scenario.status == "SUCCEEDED"
    assert run.scenario.weights_seen == [{"blue": 100, "green": 0}, {"blue": 75, "green": 25}]
    assert len(listener_writes(run.scenario)) == 1
    assert [e.kind for e in run.events()] == ["step:0", "approval:0"]
    state = run.state()
    assert state is not None and state.status == Status.PAUSED
    ended = [e for e in history(run.scenario) if e["type"] == "SucceedStateEntered"]
    assert ended[0]["stateEnteredEventDetails"]["name"] == "Stopped by an operator"


def test_an_sla_gate_without_data_is_inconclusive_then_pauses_never_passes(
        outcomes: dict[str, Outcome]) -> None:
    run = outcomes["no_data"]
    assert run.scenario.seen["status"] == "RUNNING"
    paused = RolloutState.model_validate_json(run.scenario.seen["state"]["doc"]["S"])
    assert paused.status == Status.PAUSED
    entered = [e["stateEnteredEventDetails"]["name"] for e in history(run.scenario)
               if e["type"].endswith("StateEntered")]
    assert entered.count("Step 1 of 1: inconclusive") == 2
    assert [e.kind for e in run.events()] == ["step:0", "paused:0", "promoted"]
    assert run.scenario.status == "SUCCEEDED"


def test_a_freeze_holds_the_next_step_until_it_ends(outcomes: dict[str, Outcome]) -> None:
    """No listener write inside the freeze: the step due in it (step 2, unless moto was
    slow to start the execution: then step 1) waits until it ends, then goes on."""
    run = outcomes["freeze"]
    seen = run.scenario.seen
    freeze: FreezeHold = seen["freeze"]
    events = history(run.scenario)
    writes = [e["timestamp"] for e in events if e["type"] == "TaskScheduled"
              and e["taskScheduledEventDetails"]["resource"] == "modifyListener"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events
               if e["type"].endswith("StateEntered")]
    assert any(name.endswith("freeze 1 (wait)") for name in entered)
    assert not [at for at in writes if freeze.starts.replace(microsecond=0) <= at < freeze.ends]
    if seen["inside_at"] < freeze.ends:  # not when moto was slow to start it
        assert seen["inside"] != {"blue": 0, "green": 100}, "still frozen"
    assert writes[-1] >= freeze.ends
    assert seen["all_new_at"] >= freeze.ends
    assert run.scenario.status == "SUCCEEDED" and len(writes) == 2
    assert run.scenario.weights_seen[-1] == {"blue": 0, "green": 100}
