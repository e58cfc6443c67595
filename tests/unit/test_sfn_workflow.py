"""A rollout's workflow built from what ``start`` recorded: the spec and its documents.

The documents are read back as the in-process commands read the ledger (the sentinels
filled in as the execution fills them), so what is checked is what ``status``, ``report``
and a later ``rollback`` would see: the same kinds and keys as the in-process executor
writes, revisions that only grow, the execution named, the warm period known.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.gates.load import load_gates
from rollout.model.tenants import DayRange
from rollout.rollouts.halts import Halt, halt_history, halt_later_waves
from rollout.rollouts.ledger import Event
from rollout.rollouts.memory_ledger import MemoryLedger
from rollout.rollouts.state import RolloutState, Status
from rollout.rollouts.strategy import Step
from rollout.schedule.calendar import FreezeCalendar
from rollout.stepfunctions.definition import compile_definition, listener_parameters
from rollout.stepfunctions.ledger_docs import WorkflowDocuments
from rollout.stepfunctions.spec import LedgerWrite, WorkflowSpec
from rollout.stepfunctions.templates import filled_in
from rollout.stepfunctions.workflow import (
    WorkflowSettings,
    freeze_holds,
    stickiness_of,
    workflow_spec,
)
from rollout.vocabulary.ledger_keys import (
    HALT_HISTORY_PREFIX,
    HALT_RELEASE_PK,
    approval_sk,
    event_sk,
    halt_keys_covering,
    halt_release_prefix,
)
from rollout.vocabulary.resource_names import workflow_execution

BEGUN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WRITTEN = "2026-03-02T09:05:00.000Z"
EXECUTION = "arn:aws:states:eu-west-1:1:execution:app-canary-rollout:canary-1-5-0"
LB = "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/lb/1"
COHORT = CohortResources(
    app="app", artefact_bucket="bucket", ledger_table="ledger",
    notices_topic_arn="arn:aws:sns:eu-west-1:1:notices", cohort="canary",
    listener_arn="arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/lb/1/2",
    load_balancer_arn=LB,
    target_group_arns={"blue": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/b/1",
                       "green": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/g/2"},
    versions={"blue": "1.4.2", "green": "1.5.0"}, param_prefix="/app/canary")
SETTINGS = WorkflowSettings(region="eu-west-1", ledger_table="ledger", last_event_seq=7,
                            actor="states.amazonaws.com", warm_for_seconds=3600,
                            check_interval_seconds=15, max_inconclusive=10)


def rollout_state(steps: tuple[int, ...] = (50, 100), **changes: Any) -> RolloutState:
    fields: dict[str, Any] = dict(
        cohort="canary", release="1.5.0", old_version="1.4.2", old_colour="blue",
        new_colour="green", strategy="linear:50:1m",
        steps=[Step(weight=w, bake_seconds=60) for w in steps], step_index=-1,
        weights={"blue": 100, "green": 0}, status=Status.SHIFTING, started_at=BEGUN,
        updated_at=BEGUN, versions={"blue": "1.4.2", "green": "1.5.0"},
        last_known_good="1.4.2", engine="stepfunctions", execution=EXECUTION, revision=3)
    fields.update(changes)
    return RolloutState(**fields)


def gates(*raw: dict[str, Any]) -> list[Any]:
    return load_gates(list(raw), source="test")


ALARM = {"kind": "alarm", "alarms": ["api-5xx"]}
SLA = {"kind": "sla", "target": 99.5, "min_samples": 20}
MANUAL = {"kind": "manual"}


def stored(write: LedgerWrite, seq: int = 12) -> tuple[RolloutState, Event]:
    """The state and event the execution stores for ``write``, read as the ledger reads."""
    return (RolloutState.model_validate_json(filled_in(write.state_doc, WRITTEN, seq)),
            Event.model_validate_json(filled_in(write.event_doc, WRITTEN, seq)))


def every_write(spec: WorkflowSpec) -> list[LedgerWrite]:
    """In the order an execution may write them."""
    writes: list[LedgerWrite] = []
    for step in spec.steps:
        writes += [step.record, step.paused]
        writes += [step.awaiting_approval] if step.awaiting_approval else []
    return [*writes, spec.promoted, *(g.failed for g in spec.gates), spec.rolled_back_on_error]


def test_each_step_is_recorded_as_the_in_process_executor_records_it() -> None:
    spec = workflow_spec(rollout_state(), COHORT, gates(ALARM), SETTINGS)
    state, event = stored(spec.steps[1].record)
    assert (state.status, state.step_index, state.weights) == (
        Status.SHIFTING, 1, {"green": 100, "blue": 0})
    assert state.step_started_at == state.updated_at == datetime.fromisoformat(WRITTEN)
    assert (state.engine, state.execution) == ("stepfunctions", EXECUTION)
    assert (event.kind, event.key, event.seq) == ("step", f"{BEGUN.isoformat()}:step:1", 12)
    assert event.message == "step 2/2: 100% to green (1.5.0)"
    assert event.data["weights"] == {"green": 100, "blue": 0}


def test_revisions_only_grow_from_the_state_start_saved() -> None:
    spec = workflow_spec(rollout_state(steps=(25, 50, 100)), COHORT,
                         gates(ALARM, SLA, MANUAL), SETTINGS)
    forward = [stored(w)[0].revision for w in every_write(spec)[:-len(spec.gates) - 1]]
    assert forward == sorted(forward) and len(set(forward)) == len(forward)
    assert forward[0] == 4, "one above the revision start saved"
    assert all(stored(w)[0].revision > forward[-1] for w in every_write(spec)[-3:])


def test_a_pause_is_recorded_per_step_under_the_executor_s_key() -> None:
    spec = workflow_spec(rollout_state(), COHORT, gates(SLA), SETTINGS)
    for index, step in enumerate(spec.steps):
        state, event = stored(step.paused)
        assert (state.status, state.step_index) == (Status.PAUSED, index)
        assert state.reason is not None and f"step {index + 1}" in state.reason
        assert "rollout promote --cohort canary" in state.reason
        assert event.key == f"{BEGUN.isoformat()}:paused:{state.revision}"
    assert spec.steps[0].paused.event_key != spec.steps[1].paused.event_key


def test_a_manual_gate_makes_every_step_wait_for_a_human() -> None:
    spec = workflow_spec(rollout_state(), COHORT, gates(ALARM, MANUAL), SETTINGS)
    assert [step.approval for step in spec.steps] == [True, True]
    waits = [stored(step.awaiting_approval)[0] for step in spec.steps
             if step.awaiting_approval is not None]
    assert [(w.status, w.step_index) for w in waits] == [(Status.PAUSED, 0), (Status.PAUSED, 1)]
    assert spec.approval_item_sk == approval_sk(BEGUN)
    assert [g.name for g in spec.gates] == ["alarm"]


def test_the_promotion_says_how_long_the_old_colour_stays_warm() -> None:
    spec = workflow_spec(rollout_state(), COHORT, gates(ALARM), SETTINGS)
    state, event = stored(spec.promoted)
    assert state.status == Status.PROMOTED and state.last_known_good == "1.5.0"
    assert state.warm_ends == datetime.fromisoformat(WRITTEN) + timedelta(hours=1)
    assert (event.kind, event.key) == ("promoted", f"{BEGUN.isoformat()}:promoted")
    assert "stays warm for rollback for 1h" in event.message


def test_a_failing_gate_records_the_rollback_the_in_process_commands_finish() -> None:
    spec = workflow_spec(rollout_state(), COHORT, gates(ALARM, SLA), SETTINGS)
    alarm, sla = spec.alarm_gates[0], spec.sla_gates[0]
    assert (alarm.alarms, sla.target, sla.min_samples) == (["api-5xx"], 99.5, 20)
    state, event = stored(alarm.failed)
    assert (state.status, state.weights) == (Status.ROLLED_BACK, {"blue": 100, "green": 0})
    assert state.failure is not None and state.failure.gate == "alarm"
    assert not state.config_carried_back, "the next command carries the config back"
    assert (event.kind, event.key) == ("rolled_back", f"{BEGUN.isoformat()}:rolled_back")
    assert "api-5xx" in str(state.reason)
    assert "99.5%" in str(stored(sla.failed)[0].reason)


def test_halts_blockers_and_event_slots_come_from_the_settings() -> None:
    halts = tuple(halt_keys_covering("canary", "1.5.0"))
    chosen = WorkflowSettings(**{**SETTINGS.__dict__, "halts": halts, "blockers": ("b",),
                                 "stickiness": 30})
    spec = workflow_spec(rollout_state(), COHORT, gates(ALARM), chosen)
    assert spec.halts == list(halts) and spec.blockers == ["b"]
    assert spec.stickiness == 30
    assert listener_parameters(spec, {"blue": 90, "green": 10})["DefaultActions"][0][
        "ForwardConfig"]["TargetGroupStickinessConfig"] == {"Enabled": True,
                                                            "DurationSeconds": 30}
    assert spec.event_slots[0] == (8, event_sk(8)), "after the last event start recorded"
    assert len(spec.event_slots) > 2 * len(every_write(spec))
    assert spec.check_interval_seconds == 15
    compile_definition(spec)


@pytest.mark.parametrize(("raw", "named"), [
    ({"kind": "metric", "metric": "error-rate", "max": 2, "name": "errors"}, "gate 'errors'"),
])
def test_a_gate_the_workflow_cannot_judge_is_refused_by_name(raw: dict[str, Any],
                                                            named: str) -> None:
    with pytest.raises(BadInput, match=named):
        workflow_spec(rollout_state(), COHORT, gates(ALARM, raw), SETTINGS)


def test_steps_with_their_own_gates_are_refused() -> None:
    steps = [Step(weight=50, gates=[ALARM]), Step(weight=100)]
    with pytest.raises(BadInput, match="steps with gates of their own"):
        workflow_spec(rollout_state().model_copy(update={"steps": steps}), COHORT, [],
                      SETTINGS)


def test_two_gates_of_the_same_name_are_refused_as_input() -> None:
    with pytest.raises(BadInput, match="gate names must differ"):
        workflow_spec(rollout_state(), COHORT, gates(ALARM, ALARM), SETTINGS)


def test_only_the_alb_router_can_be_driven_and_its_stickiness_is_kept() -> None:
    assert stickiness_of({"kind": "alb", "stickiness": "1h"}) == 3600
    assert stickiness_of({"kind": "alb", "stickiness": 60}) == 60
    assert stickiness_of({}) is None
    with pytest.raises(BadInput, match="router 'route53'"):
        stickiness_of({"kind": "route53", "zone": "z"})


@pytest.mark.parametrize(("written", "said"), [
    ("250ms", "not 0.25s"), ("8d", "not 8d"), ("0", "not 0s"), ("1.5s", "not 1.5s"),
    ("soon", "'soon' is not a duration"),
])
def test_a_stickiness_alb_cannot_keep_is_bad_input_naming_the_field(written: str,
                                                                     said: str) -> None:
    with pytest.raises(BadInput, match="stickiness") as refused:
        stickiness_of({"kind": "alb", "stickiness": written})
    assert said in str(refused.value)


def test_the_old_stickiness_seconds_name_is_refused_not_ignored() -> None:
    with pytest.raises(BadInput, match="stickiness_seconds"):
        stickiness_of({"kind": "alb", "stickiness_seconds": 60})


def test_documents_are_json_with_only_the_two_sentinels_left() -> None:
    write = WorkflowDocuments(rollout_state(), "sfn", 60).step(0)
    assert json.loads(filled_in(write.state_doc, WRITTEN, 3))["revision"] == 4
    assert json.loads(filled_in(write.event_doc, WRITTEN, 3))["seq"] == 3


def test_every_rollback_halts_the_later_waves_as_the_in_process_executor_halts_them() -> None:
    """What the execution stores, read back, is what ``halt_later_waves`` would store for
    the same rolled-back state: the halt item and its history entry."""
    chosen = WorkflowSettings(**{**SETTINGS.__dict__, "later_waves": ("wave2", "wave3")})
    spec = workflow_spec(rollout_state(), COHORT, gates(ALARM, SLA), chosen)
    moment = datetime.fromisoformat(WRITTEN)
    for write in [*(gate.failed for gate in spec.gates), spec.rolled_back_on_error]:
        rolled_back, _ = stored(write)
        in_process = MemoryLedger()
        halt_later_waves(in_process, rolled_back, ["wave2", "wave3"], actor=chosen.actor,
                         at=moment)
        expected = in_process.query(HALT_RELEASE_PK, halt_release_prefix("1.5.0"), Halt)
        assert [p.cohort for p in write.halts_placed] == ["wave2", "wave3"]
        assert [(p.pk, p.sk) for p in write.halts_placed] == [h.key for h in expected]
        assert [Halt.model_validate_json(filled_in(p.doc, WRITTEN, 0))
                for p in write.halts_placed] == expected
        entries = [Event.model_validate_json(filled_in(p.history_doc, WRITTEN, 0))
                   for p in write.halts_placed]
        assert sorted(map(read_halt, entries)) == sorted(map(read_halt, halt_history(
            in_process))), "the same entries, their moment as Step Functions writes it"
        assert all(filled_in(p.history_sk, WRITTEN, 0).startswith(
            f"{HALT_HISTORY_PREFIX}{WRITTEN}#") for p in write.halts_placed)
    assert len({p.history_sk for g in spec.gates for p in g.failed.halts_placed}) == 4
    assert not any(step.record.halts_placed for step in spec.steps)
    assert not spec.promoted.halts_placed


def read_halt(entry: Event) -> tuple[str, str, str]:
    return entry.kind, entry.message, Halt.model_validate(entry.data["halt"]).model_dump_json()


def test_the_last_wave_s_rollback_halts_nothing() -> None:
    spec = workflow_spec(rollout_state(), COHORT, gates(ALARM), SETTINGS)
    assert spec.rolled_back_on_error.halts_placed == []
    assert spec.alarm_gates[0].failed.halts_placed == []


XMAS = FreezeCalendar([DayRange.model_validate({"name": "xmas", "from": "Dec 20",
                                                "to": "Jan 05"})], "Europe/Berlin")


def test_the_company_freezes_of_the_coming_year_become_holds() -> None:
    holds = freeze_holds(XMAS, BEGUN, overridden=False)
    assert [(h.name, h.starts, h.ends) for h in holds] == [(
        "xmas", datetime(2026, 12, 19, 23, tzinfo=UTC), datetime(2027, 1, 5, 23, tzinfo=UTC))]
    chosen = WorkflowSettings(**{**SETTINGS.__dict__, "freezes": holds})
    assert workflow_spec(rollout_state(), COHORT, gates(ALARM), chosen).freezes == list(holds)


def test_the_freeze_overridden_at_the_start_and_only_that_one_is_left_out() -> None:
    inside = datetime(2026, 12, 28, 12, tzinfo=UTC)
    assert [h.starts.year for h in freeze_holds(XMAS, inside, overridden=False)] == [
        2026, 2027]
    assert [h.starts.year for h in freeze_holds(XMAS, inside, overridden=True)] == [2027]
    assert [h.starts.year for h in freeze_holds(XMAS, BEGUN, overridden=True)] == [2026]


def test_each_rollout_has_an_execution_name_of_its_own_that_step_functions_accepts() -> None:
    first = workflow_execution("1.5.0+build.7", "canary", BEGUN)
    again = workflow_execution("1.5.0+build.7", "canary", BEGUN + timedelta(minutes=3))
    assert first != again and first.startswith("canary-1-5-0-build-7-")
    long = workflow_execution("9" * 60, "cohort-with-a-long-name" * 3, BEGUN)
    assert len(long) == 80 and long.endswith(workflow_execution("1", "c", BEGUN)[4:])
    for name in (first, again, long):
        assert all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in name)
