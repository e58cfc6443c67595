"""The compiled Amazon States Language definition: what AWS would run, read as data.

Each test reads the definition the way Step Functions follows it (state by state from
``StartAt``) and checks what a user would see happen: one listener write per step with
that step's weights, every task's failure caught, the rollback one write to the old
colour that never loops into itself, holds before each step, the waits for a human, and
ledger documents whose placeholders come back as the values, byte for byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from rollout.local.stepfunctions_moto import render_format
from rollout.stepfunctions.definition import (
    ON_ERROR,
    START,
    STOPPED,
    bake_checks,
    compile_definition,
    targets,
)
from rollout.stepfunctions.spec import (
    NOW,
    SEQ,
    AlarmGate,
    FreezeHold,
    HaltPlacement,
    LedgerWrite,
    SlaGate,
    WeightStep,
    WorkflowSpec,
)
from rollout.stepfunctions.templates import escape_literal, filled_in, format_call, string_value
from rollout.vocabulary import workflow_paths as paths

LISTENER = "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/lb/1/2"
TGS = {"blue": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/blue/1",
       "green": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/green/2"}


def write(name: str, announce: str | None = None) -> LedgerWrite:
    return LedgerWrite(state_doc=f'{{"status": "{name}", "updated_at": "{NOW}"}}',
                       event_doc=f'{{"seq": {SEQ}, "at": "{NOW}", "kind": "{name}"}}',
                       event_key=f"2024-01-01T00:00:00+00:00:{name}", announce=announce)


def spec(shares: tuple[int, ...] = (25, 50, 100), **changes: Any) -> WorkflowSpec:
    steps = [WeightStep(weights={"green": share, "blue": 100 - share}, bake_seconds=120,
                        record=write(f"step{index}"), paused=write(f"paused{index}", "paused"))
             for index, share in enumerate(shares)]
    fields: dict[str, Any] = dict(
        cohort="canary", release="1.2.0", region="eu-west-1", listener_arn=LISTENER,
        target_groups=TGS, old_colour="blue", new_colour="green",
        load_balancer_dimension="app/lb/1",
        target_group_dimensions={"blue": "targetgroup/blue/1", "green": "targetgroup/green/2"},
        rollout_started_at="2024-01-01T00:00:00+00:00", steps=steps,
        alarm_gates=[AlarmGate(name="api-5xx", alarms=["api-5xx"], failed=write("rb-alarm", "rb"))],
        sla_gates=[SlaGate(name="sla 99.9%", target=99.9, min_samples=100,
                           failed=write("rb-sla", "rb"))],
        blockers=["fleet-errors"], halts=[("HALT#FLEET", "ALL"), ("HALT#FLEET", "COHORT#canary")],
        check_interval_seconds=60, max_inconclusive=3, ledger_table="ledger",
        ledger_pk="COHORT#canary", stop_sk="STOP#2024-01-01T00:00:00+00:00",
        event_slots=[(seq, f"EVENT#{seq:09d}") for seq in range(5, 40)],
        promoted=write("promoted", "live"), approval_item_sk="APPROVAL#2024",
        notices_topic_arn="arn:aws:sns:eu-west-1:1:notices",
        rolled_back_on_error=write("rb-error", "rb"))
    fields.update(changes)
    return WorkflowSpec(**fields)


def walk(states: dict[str, Any], start: str, *, avoid: frozenset[str] = frozenset()
         ) -> Iterator[str]:
    """State names in the order Step Functions can reach them from ``start``."""
    seen: set[str] = set()
    queue = [start]
    while queue:
        name = queue.pop(0)
        if name in seen or name in avoid:
            continue
        seen.add(name)
        yield name
        queue.extend(targets(states[name]))


def forward_path(states: dict[str, Any]) -> list[str]:
    """The states a rollout passes with every gate green and nothing held: each state's
    ``Next`` (or a Choice's ``Default``), never a Catch."""
    path, name = [], START
    while name in states and states[name]["Type"] not in ("Succeed", "Fail"):
        path.append(name)
        state = states[name]
        name = state.get("Next") or state["Default"]
    return [*path, name]


def weights_of(state: dict[str, Any]) -> dict[str, int]:
    groups = state["Parameters"]["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    colour = {arn: name for name, arn in TGS.items()}
    return {colour[group["TargetGroupArn"]]: group["Weight"] for group in groups}


def test_every_step_is_one_listener_write_with_its_weights_in_order() -> None:
    states = compile_definition(spec())["States"]
    writes = [name for name in forward_path(states)
              if states[name].get("Resource") == paths.MODIFY_LISTENER]
    assert writes == ["Step 1 of 3: route 25% to green", "Step 2 of 3: route 50% to green",
                      "Step 3 of 3: route 100% to green"]
    assert [weights_of(states[name]) for name in writes] == [
        {"blue": 75, "green": 25}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
    assert forward_path(states)[-1] == "Promoted"


def test_each_step_is_recorded_before_its_write_and_promotion_after_the_last_bake() -> None:
    path = forward_path(compile_definition(spec())["States"])
    for step in (1, 2, 3):
        assert path.index(f"Step {step} of 3: record") < path.index(
            f"Step {step} of 3: route {[25, 50, 100][step - 1]}% to green")
    assert path.index("Step 3 of 3: bake") < path.index("Promote: record") < path.index(
        "Promote: announce")


def test_every_task_catches_every_error() -> None:
    states = compile_definition(spec())["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    assert len(tasks) > 20
    for name, state in tasks.items():
        assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), name


def test_the_rollback_is_one_write_of_all_traffic_to_the_old_colour_and_never_loops() -> None:
    states = compile_definition(spec())["States"]
    back = "Roll back: route 100% to blue"
    entries = {"Gate api-5xx failed", "Gate sla 99.9% failed", ON_ERROR}
    assert {name for name, state in states.items() if back in targets(state)} == entries
    after = list(walk(states, back))
    writes = [name for name in after if states[name].get("Resource") == paths.MODIFY_LISTENER]
    assert writes == [back]
    assert weights_of(states[back]) == {"blue": 100, "green": 0}
    assert not entries & set(after), "a failure inside the rollback must not restart it"
    assert not any(name.startswith("Step ") for name in after)
    ends = {states[name].get("Error") for name in after if states[name]["Type"] == "Fail"}
    assert ends == {"RolledBack", "RollbackFailed"}
    assert states[back]["Retry"][0]["MaxAttempts"] >= 3


def test_a_failing_gate_rolls_back_with_its_own_record() -> None:
    states = compile_definition(spec())["States"]
    which = states["Roll back: which record?"]
    chosen = {rule["StringEquals"]: rule["Next"] for rule in which["Choices"]}
    assert states["Gate api-5xx failed"]["Result"]["cause"] in chosen
    record = chosen[states["Gate sla 99.9% failed"]["Result"]["cause"]]
    assert record == "Roll back (gate sla 99.9%): record (out of slots?)"
    transaction = states["Roll back (gate sla 99.9%): record"]["Parameters"]["TransactItems"]
    assert '"kind": "rb-sla"' in str(transaction)
    assert which["Default"].startswith("Roll back (unexpected error): record")


def test_alarm_gates_and_blockers_ask_for_alarms_in_alarm_and_read_no_field_of_them() -> None:
    states = compile_definition(spec())["States"]
    gate = states["Step 2 of 3: gate api-5xx"]
    assert gate["Resource"] == paths.DESCRIBE_ALARMS
    assert gate["Parameters"] == {"AlarmNames": ["api-5xx"], "StateValue": "ALARM",
                                  "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
    verdict = states["Step 2 of 3: gate api-5xx failed?"]["Choices"][0]
    assert [c["Variable"] for c in verdict["Or"]] == [
        "$.gates.alarm0.MetricAlarms[0]", "$.gates.alarm0.CompositeAlarms[0]"]
    assert verdict["Next"] == "Gate api-5xx failed"
    assert states["Step 1 of 3: blocked?"]["Parameters"]["AlarmNames"] == ["fleet-errors"]


def every_path(value: Any) -> Iterator[str]:
    """Every reference path in a definition: ``….$`` values and Choice variables."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and (key.endswith(".$") or key == "Variable"):
                yield item
            yield from every_path(item)
    elif isinstance(value, list):
        for item in value:
            yield from every_path(item)


def test_no_path_reads_through_an_array_index_and_services_have_their_aws_names() -> None:
    definition = compile_definition(spec())
    found = list(every_path(definition))
    assert "$.gates.sla0.MetricDataResults[0].Values[0]" in found
    assert [path for path in found if paths.PATH_THROUGH_INDEX.match(path)] == []
    assert paths.PATH_THROUGH_INDEX.match("$.x.MetricAlarms[0].StateValue")
    text = json.dumps(definition)
    assert "elbv2" not in text and "aws-sdk:elasticloadbalancingv2:modifyListener" in text


def test_the_sla_gate_is_one_metric_math_value_below_target_fails_and_none_is_inconclusive(
        ) -> None:
    states = compile_definition(spec())["States"]
    query = states["Step 1 of 3: gate sla 99.9%"]["Parameters"]
    returned = [q for q in query["MetricDataQueries"] if q["ReturnData"]]
    assert returned == [{"Id": "availability", "ReturnData": True, "Label": "sla 99.9%",
                         "Expression": "IF(requests >= 100, 100 * (1 - FILL(errors, 0) / "
                                       "requests))"}]
    stats = [q["MetricStat"]["Metric"] for q in query["MetricDataQueries"] if "MetricStat" in q]
    assert {m["MetricName"] for m in stats} == {"RequestCount", "HTTPCode_Target_5XX_Count"}
    assert all(m["Dimensions"] == [{"Name": "TargetGroup", "Value": "targetgroup/green/2"},
                                   {"Name": "LoadBalancer", "Value": "app/lb/1"}] for m in stats)
    assert query["StartTime"] == "2024-01-01T00:00:00+00:00"
    failed = states["Step 1 of 3: gate sla 99.9% failed?"]["Choices"][0]["And"]
    assert failed[1] == {"Variable": "$.gates.sla0.MetricDataResults[0].Values[0]",
                         "NumericLessThan": 99.9}
    undecided = states["Step 1 of 3: gates conclusive?"]["Choices"][0]
    assert undecided["IsPresent"] is False and undecided["Next"] == "Step 1 of 3: inconclusive"
    too_many = states["Step 1 of 3: too many inconclusive?"]
    assert too_many["Choices"][0]["NumericGreaterThanEquals"] == 3
    assert too_many["Choices"][0]["Next"] == "Step 1 of 3: record the pause (out of slots?)"


def test_halts_and_blockers_hold_before_every_weight_step() -> None:
    states = compile_definition(spec())["States"]
    for step in (1, 2, 3):
        held = states[f"Step {step} of 3: held?"]
        assert held["Default"] == f"Step {step} of 3: record (out of slots?)"
        assert held["Choices"][0]["Next"] == f"Step {step} of 3: hold"
        assert [c["Variable"] for c in held["Choices"][0]["Or"]] == [
            "$.checks.halt0.Item", "$.checks.halt1.Item",
            "$.checks.blockers.MetricAlarms[0]", "$.checks.blockers.CompositeAlarms[0]"]
        assert states[f"Step {step} of 3: hold"] == {
            "Type": "Wait", "Seconds": 60, "Next": f"Step {step} of 3: halted?"}
    assert states["Step 1 of 3: halted? (2)"]["Parameters"]["Key"] == {
        "pk": {"S": "HALT#FLEET"}, "sk": {"S": "COHORT#canary"}}
    bare = compile_definition(spec(halts=[], blockers=[]))["States"]
    assert not any("held?" in name for name in bare)


def test_an_approval_step_records_announces_and_waits_for_a_task_token() -> None:
    steps = list(spec().steps)
    steps[0] = steps[0].model_copy(update={"approval": True,
                                           "awaiting_approval": write("approval", "approve?")})
    states = compile_definition(spec(steps=steps, sla_gates=[]))["States"]
    path = forward_path(states)
    wait = "Step 1 of 3: wait for a human"
    assert path.index("Step 1 of 3: record the approval wait") < path.index(
        "Step 1 of 3: announce the approval wait") < path.index(wait) < path.index(
        "Step 2 of 3: halted?")
    assert states[wait]["Resource"] == paths.PUT_ITEM_AND_WAIT
    assert states[wait]["Parameters"]["Item"] == {
        "pk": {"S": "COHORT#canary"}, "sk": {"S": "APPROVAL#2024"},
        "token": {"S.$": "$$.Task.Token"}, "step": {"N": "0"}}
    assert "Retry" not in states[wait]
    assert "Step 2 of 3: wait for a human" not in states


def test_a_ledger_write_is_one_transaction_fenced_by_the_stop_request() -> None:
    states = compile_definition(spec())["States"]
    items = states["Step 1 of 3: record"]["Parameters"]["TransactItems"]
    assert items[0] == {"ConditionCheck": {
        "TableName": "ledger", "Key": {"pk": {"S": "COHORT#canary"},
                                       "sk": {"S": "STOP#2024-01-01T00:00:00+00:00"}},
        "ConditionExpression": "attribute_not_exists(pk)"}}
    assert items[1]["Put"]["Item"]["sk"] == {"S": "STATE"}
    assert items[2]["Put"]["Item"]["sk"] == {"S.$": "$.ledger.sk"}
    assert items[3]["Put"]["Item"]["sk"] == {"S": "EVENTKEY#2024-01-01T00:00:00+00:00:step0"}
    assert items[2]["Put"]["Item"]["doc"] == items[3]["Put"]["Item"]["doc"]
    assert all(i["Put"]["ConditionExpression"] == "attribute_not_exists(pk)" for i in items[2:])
    refused = states["Step 1 of 3: record"]["Catch"][0]
    assert refused["ErrorEquals"] == [paths.TRANSACTION_CANCELED]
    assert states["Step 1 of 3: record (stopped?)"]["Choices"][0]["Next"] == STOPPED
    assert states["Step 1 of 3: record (claimed?)"]["Choices"][0]["Next"] == (
        "Step 1 of 3: route 25% to green")
    assert states["Step 1 of 3: record (next slot)"]["Next"] == (
        "Step 1 of 3: record (out of slots?)")
    out_of_slots = states["Step 1 of 3: record (out of slots?)"]["Choices"][0]
    assert out_of_slots == {"Variable": "$.ledger.i", "NumericGreaterThanEquals": 35,
                            "Next": ON_ERROR}


def test_long_gate_names_still_make_state_names_aws_accepts() -> None:
    long_name = "checkout-latency-p99-over-two-seconds-for-five-minutes"
    definition = compile_definition(spec(alarm_gates=[AlarmGate(
        name=long_name, alarms=["a"], failed=write("rb-alarm"))]))
    assert max(len(name) for name in definition["States"]) <= 80
    assert "Gate checkout-latency-p99-over-two… failed" in definition["States"]


def test_specs_the_definition_could_not_run_are_refused() -> None:
    with pytest.raises(ValidationError, match="last step"):
        spec(shares=(25, 50))
    with pytest.raises(ValidationError, match="add up to 100"):
        WeightStep(weights={"green": 60, "blue": 60}, bake_seconds=1, record=write("s"),
                   paused=write("p"))
    with pytest.raises(ValidationError, match="awaiting_approval"):
        WeightStep(weights={"green": 100}, bake_seconds=1, approval=True, record=write("s"),
                   paused=write("p"))
    with pytest.raises(ValidationError, match="no sentinels"):
        LedgerWrite(state_doc="{}", event_doc="{}", event_key=f"k:{SEQ}")


@pytest.mark.parametrize(("bake", "interval", "expected"), [
    (120, 60, (2, 60)), (90, 60, (2, 45)), (1, 1, (1, 1)), (0, 60, (1, 0)), (30, 60, (1, 30))])
def test_a_bake_is_checked_at_least_every_interval(bake: float, interval: int,
                                                   expected: tuple[int, int]) -> None:
    checks, seconds = bake_checks(bake, interval)
    assert (checks, seconds) == expected
    assert checks * seconds >= bake and seconds <= interval


def test_a_document_without_placeholders_is_written_as_it_is() -> None:
    assert string_value('{"a": 1}') == {"S": '{"a": 1}'}


def test_reserved_characters_are_escaped_with_a_backslash() -> None:
    assert escape_literal("it's {x} \\ ok") == "it\\'s \\{x\\} \\\\ ok"
    assert format_call(f'{{"at": "{NOW}", "seq": {SEQ}}}') == (
        "States.Format('\\{\"at\": \"{}\", \"seq\": {}\\}', $$.State.EnteredTime, "
        "$.ledger.seq)")


@pytest.mark.parametrize("doc", [
    f'{{"seq": {SEQ}, "at": "{NOW}", "message": "it\'s {{}} \\\\ \\"q\\" \\n", "data": {{}}}}',
    f"{NOW}{NOW}{SEQ}", "é ✓ {} '' \\\\", "no placeholders {}"])
def test_the_filled_in_document_is_the_template_with_the_values_byte_for_byte(doc: str) -> None:
    call = string_value(doc).get("S.$")
    if call is None:
        assert string_value(doc) == {"S": doc}
        return
    match = re.fullmatch(r"States\.Format\('(.*)'((?:, [$.\w]+)*)\)", call, re.DOTALL)
    assert match is not None
    names = [a.strip() for a in match.group(2).split(",") if a.strip()]
    values = {"$$.State.EnteredTime": "2024-05-01T10:00:00.123Z", "$.ledger.seq": "42"}
    rendered = render_format(match.group(1), [values[name] for name in names])
    assert rendered == filled_in(doc, "2024-05-01T10:00:00.123Z", 42)


XMAS = FreezeHold(name="xmas", starts=datetime(2024, 12, 19, 23, tzinfo=UTC),
                  ends=datetime(2025, 1, 5, 22, 59, 59, 500000, tzinfo=UTC))


def chosen_at(choice: dict[str, Any], entered: str) -> str:
    """Where a freeze Choice goes when entered at ``entered``, as Step Functions reads
    ``StringGreaterThanEquals`` / ``StringLessThan`` (by code point)."""
    def holds(rule: dict[str, Any]) -> bool:
        if "And" in rule:
            return all(holds(part) for part in rule["And"])
        assert rule["Variable"] == "$$.State.EnteredTime"
        if "StringGreaterThanEquals" in rule:
            return bool(entered >= rule["StringGreaterThanEquals"])
        return bool(entered < rule["StringLessThan"])
    return next((rule["Next"] for rule in choice["Choices"] if holds(rule)), choice["Default"])


@pytest.mark.parametrize(("entered", "frozen"), [
    ("2024-12-19T22:59:59.999Z", False), ("2024-12-19T23:00:00.000Z", True),
    ("2024-12-25T12:00:00.192Z", True), ("2025-01-05T22:59:59.999Z", True),
    ("2025-01-05T23:00:00.000Z", False), ("2025-01-05T23:00:00.001Z", False),
    ("2024-12-25T12:00:00.192345+00:00", True), ("2025-01-05T23:00:00.000001+00:00", False),
    ("2024-12-19T22:59:59.999999+00:00", False)])
def test_inside_a_freeze_every_weight_step_waits_until_it_ends(entered: str,
                                                               frozen: bool) -> None:
    """Read the moment as AWS writes it (milliseconds, ``Z``) and as moto does."""
    states = compile_definition(spec(freezes=[XMAS]))["States"]
    for step in (1, 2, 3):
        prefix = f"Step {step} of 3"
        went = chosen_at(states[f"{prefix}: frozen?"], entered)
        if not frozen:
            assert went == f"{prefix}: halted?"
            continue
        assert states[went] == {"Type": "Wait", "Comment": "company freeze xmas",
                                "Timestamp": "2025-01-05T23:00:00Z",
                                "Next": f"{prefix}: frozen?"}


def test_a_freeze_is_looked_at_first_and_again_after_every_hold() -> None:
    states = compile_definition(spec(freezes=[XMAS]))["States"]
    path = forward_path(states)
    for step in (1, 2, 3):
        prefix = f"Step {step} of 3"
        assert path.index(f"{prefix}: frozen?") < path.index(f"{prefix}: halted?")
        assert states[f"{prefix}: hold"]["Next"] == f"{prefix}: frozen?"
    alone = compile_definition(spec(freezes=[XMAS], halts=[], blockers=[]))["States"]
    assert alone["Step 1 of 3: frozen?"]["Default"] == "Step 1 of 3: record (out of slots?)"
    assert not any("frozen?" in name for name in compile_definition(spec())["States"])


def test_a_rollback_is_never_held_by_a_freeze_a_halt_or_a_blocker() -> None:
    states = compile_definition(spec(freezes=[XMAS]))["States"]
    for entry in (ON_ERROR, "Gate api-5xx failed", "Gate sla 99.9% failed"):
        reached = list(walk(states, entry))
        assert not [n for n in reached if n.endswith(("frozen?", "halted?", "blocked?"))]


def halted(cohort: str) -> HaltPlacement:
    return HaltPlacement(cohort=cohort, pk="HALT#RELEASE", sk=f"RELEASE#1.2.0#COHORT#{cohort}",
                         doc=f'{{"cohort": "{cohort}", "at": "{NOW}"}}',
                         history_sk=f"HALT_HISTORY#{NOW}#{cohort}",
                         history_doc=f'{{"kind": "halted", "at": "{NOW}"}}')


def test_a_rollback_once_recorded_halts_each_later_wave_only_if_not_halted_yet() -> None:
    failed = write("rb-alarm", "rb").model_copy(update={
        "halts_placed": [halted("wave2"), halted("wave3")]})
    states = compile_definition(spec(alarm_gates=[AlarmGate(
        name="api-5xx", alarms=["api-5xx"], failed=failed)]))["States"]
    recorded = states["Roll back (gate api-5xx): record (slot used)"]
    first, second = (f"Roll back (gate api-5xx): halt later wave {n}" for n in (1, 2))
    assert recorded["Next"] == first
    assert states["Roll back (gate api-5xx): record (claimed?)"]["Choices"][0]["Next"] == first
    for name, cohort, following in ((first, "wave2", second),
                                    (second, "wave3", "Roll back (gate api-5xx): announce")):
        state = states[name]
        assert state["Resource"] == paths.TRANSACT_WRITE
        assert state["Next"] == following
        assert [c["Next"] for c in state["Catch"]] == [following], "one standing stays"
        halt, entry = (item["Put"] for item in state["Parameters"]["TransactItems"])
        assert halt["ConditionExpression"] == entry["ConditionExpression"] == (
            "attribute_not_exists(pk)")
        assert halt["Item"]["sk"] == {"S": f"RELEASE#1.2.0#COHORT#{cohort}"}
        assert render(halt["Item"]["doc"]["S.$"], "2025-01-01T00:00:00.000Z") == (
            f'{{"cohort": "{cohort}", "at": "2025-01-01T00:00:00.000Z"}}')
        assert render(entry["Item"]["sk"]["S.$"], "T") == f"HALT_HISTORY#T#{cohort}"
    assert "Roll back (unexpected error): halt later wave 1" not in states, "its own list"


def render(call: str, now: str) -> str:
    """A ``States.Format`` call whose arguments are all the moment, as AWS renders it."""
    found = re.fullmatch(r"States\.Format\('(.*)', (.*)\)", call)
    assert found is not None
    arguments = found.group(2).split(", ")
    assert set(arguments) == {"$$.State.EnteredTime"}
    return render_format(found.group(1), [now] * len(arguments))
