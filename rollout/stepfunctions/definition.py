"""A rollout's plan compiled into one Amazon States Language definition (JSONPath).

The same rules as :func:`rollout.rollouts.progression.decide`, spelled out as states. Per
weight step: hold while a halt or a blocker stands (look again every check interval) or
a company freeze is on (until it ends);
record the step (ledger first, as the in-process executor does); route with one
``ModifyListener``; bake, checking every gate each interval, a failure rolling back at
once; after the bake, SLA gates without a value hold the step, and after
``max_inconclusive`` such checks in a row the rollout pauses for a human, as an approval
step does after its bake. After the last step's bake (the final bake, gates armed) the
promotion is recorded and announced.

The rollback moves all traffic to the old colour in one ``ModifyListener`` first (retried,
never caught into itself), then records why, halts the release's later waves (as the
in-process executor does, so their ``start`` is refused) and announces it, then fails the
execution with ``RolledBack``. The traffic goes first, unlike a forward step: the rollback may have
been reached because the ledger itself failed, and the traffic must not wait for it.
Any unexpected task failure outside the rollback reaches it too.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from rollout.stepfunctions.gates import (
    Checks,
    add_gate_checks,
    add_hold_checks,
    failed_entry,
    inconclusive,
    label,
)
from rollout.stepfunctions.machine import ON_ERROR, STOPPED, Machine, State, rule
from rollout.stepfunctions.records import (
    Record,
    add_announce,
    add_halt_placements,
    add_record,
    add_wait_for_human,
    initial_data,
)
from rollout.stepfunctions.spec import LedgerWrite, WorkflowSpec
from rollout.vocabulary import workflow_paths as paths

START = "Start: reserve event slots"
PROMOTE = "Promote: record"
PROMOTED = "Promoted"
NOT_RECORDED = "Rolled back, not recorded"
ROUTE_BACK_FAILED = "Roll back failed"
BAKE_PATH = "$.bake"
ROLLBACK_PATH = "$.rollback"
MAX_STATE_NAME = 80
ROUTE_BACK_RETRY = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 5,
                     "BackoffRate": 2.0}]


def compile_definition(spec: WorkflowSpec) -> dict[str, Any]:
    """The state machine definition running ``spec``'s rollout."""
    machine = Machine()
    machine.add(STOPPED, {"Type": "Succeed", "Comment": "an operator's stop request refused "
                          "a write: their command rolls the traffic back"})
    following = _add_promotion(machine, spec)
    for index in reversed(range(len(spec.steps))):
        following = _add_step(machine, spec, index, following)
    machine.pass_state(START, following, result=initial_data(spec))
    _add_rollback(machine, spec)
    return {"Comment": f"rollout of {spec.release} on cohort {spec.cohort}: "
                       f"{spec.old_colour} to {spec.new_colour} in {len(spec.steps)} steps",
            "StartAt": START, "States": in_flow_order(START, machine.states)}


def listener_parameters(spec: WorkflowSpec, weights: dict[str, int]) -> dict[str, Any]:
    """The one ``ModifyListener`` of a weight write, as the ALB router sends it."""
    forward: dict[str, Any] = {"TargetGroups": [
        {"TargetGroupArn": arn, "Weight": weights.get(colour, 0)}
        for colour, arn in spec.target_groups.items()]}
    if spec.stickiness is not None:
        forward["TargetGroupStickinessConfig"] = {"Enabled": True,
                                                  "DurationSeconds": spec.stickiness}
    return {"ListenerArn": spec.listener_arn,
            "DefaultActions": [{"Type": "forward", "ForwardConfig": forward}]}


def _add_promotion(machine: Machine, spec: WorkflowSpec) -> str:
    machine.add(PROMOTED, {"Type": "Succeed"})
    announce = add_announce(machine, spec, spec.promoted, "Promote: announce", PROMOTED)
    return add_record(machine, spec, spec.promoted, Record(PROMOTE, announce, ON_ERROR))


def _add_step(machine: Machine, spec: WorkflowSpec, index: int, after: str) -> str:
    """Step ``index``'s states, going on to ``after``; returns its first state."""
    step = spec.steps[index]
    prefix = f"Step {index + 1} of {len(spec.steps)}"
    needs_human = step.approval or bool(spec.sla_gates)
    human = (add_wait_for_human(machine, spec, f"{prefix}: wait for a human", index, after,
                                ON_ERROR) if needs_human else after)
    after_bake = after
    if step.approval and step.awaiting_approval is not None:
        after_bake = _add_pause(machine, spec, step.awaiting_approval,
                                f"{prefix}: record the approval wait", human)
    pause = (_add_pause(machine, spec, step.paused, f"{prefix}: record the pause", human)
             if spec.sla_gates else human)
    bake = _add_bake(machine, spec, index, after_bake, pause)
    share = step.weights.get(spec.new_colour, 0)
    route = machine.task(f"{prefix}: route {share}% to {spec.new_colour}", paths.MODIFY_LISTENER,
                         listener_parameters(spec, step.weights), bake)
    record = add_record(machine, spec, step.record, Record(f"{prefix}: record", route, ON_ERROR))
    return add_hold_checks(machine, spec, Checks(prefix, record), spec.check_interval_seconds)


def _add_pause(machine: Machine, spec: WorkflowSpec, write: LedgerWrite, name: str,
               human: str) -> str:
    """Record a pause (or an approval wait), announce it, then wait for the human."""
    announce = add_announce(machine, spec, write, name.replace(": record", ": announce"), human)
    return add_record(machine, spec, write, Record(name, announce, ON_ERROR))


def bake_checks(bake_seconds: float, interval: int) -> tuple[int, int]:
    """How a bake is checked: (checks, seconds waited before each), at least one check,
    never further apart than ``interval``, adding up to at least the bake."""
    checks = max(1, math.ceil(bake_seconds / interval))
    return checks, math.ceil(bake_seconds / checks)


def _add_bake(machine: Machine, spec: WorkflowSpec, index: int, after_bake: str,
              pause: str) -> str:
    """The bake loop of step ``index`` and the holds after it; returns its first state."""
    prefix = f"Step {index + 1} of {len(spec.steps)}"
    checks, seconds = bake_checks(spec.steps[index].bake_seconds, spec.check_interval_seconds)
    bake, wait, baked = f"{prefix}: bake", f"{prefix}: bake (wait)", f"{prefix}: baked?"
    tick = f"{prefix}: bake (next check)"
    undecided = inconclusive(spec)
    conclusive = f"{prefix}: gates conclusive?"
    first_check = add_gate_checks(machine, spec, Checks(prefix, baked))
    looped = wait if seconds > 0 else first_check
    machine.choice(baked, [rule({"Variable": f"{BAKE_PATH}.left", "NumericGreaterThan": 1},
                                tick)], conclusive if undecided else after_bake)
    machine.pass_state(tick, looped, result_path=BAKE_PATH, parameters={
        "left.$": f"States.MathAdd({BAKE_PATH}.left, -1)",
        "inconclusive.$": f"{BAKE_PATH}.inconclusive"})
    if seconds > 0:
        machine.wait(wait, seconds, first_check)
    if undecided is not None:
        counted, hold = f"{prefix}: inconclusive", f"{prefix}: hold (inconclusive)"
        too_many = f"{prefix}: too many inconclusive?"
        machine.choice(conclusive, [rule(undecided, counted)], after_bake)
        machine.pass_state(counted, too_many, result_path=BAKE_PATH, parameters={
            "left": 1, "inconclusive.$": f"States.MathAdd({BAKE_PATH}.inconclusive, 1)"})
        machine.choice(too_many, [rule({"Variable": f"{BAKE_PATH}.inconclusive",
                                        "NumericGreaterThanEquals": spec.max_inconclusive},
                                       pause)], hold)
        machine.wait(hold, spec.check_interval_seconds, first_check)
    machine.pass_state(bake, looped, result={"left": checks, "inconclusive": 0},
                       result_path=BAKE_PATH)
    return bake


def _add_rollback(machine: Machine, spec: WorkflowSpec) -> None:
    """The one traffic write back to the old colour, then why, recorded and announced."""
    route_back = f"Roll back: route 100% to {spec.old_colour}"
    causes: list[tuple[str, str, LedgerWrite]] = [
        (f"gate{index}", f"gate {label(gate)}", gate.failed)
        for index, gate in enumerate(spec.gates)]
    for (cause, _, _), gate in zip(causes, spec.gates, strict=True):
        machine.pass_state(failed_entry(gate), route_back, result={"cause": cause},
                           result_path=ROLLBACK_PATH)
    machine.pass_state(ON_ERROR, route_back, result={"cause": "error"},
                       result_path=ROLLBACK_PATH)
    causes.append(("error", "unexpected error", spec.rolled_back_on_error))
    records = {cause: _add_rollback_record(machine, spec, label, write)
               for cause, label, write in causes}
    which = "Roll back: which record?"
    back = {colour: 100 if colour == spec.old_colour else 0 for colour in spec.target_groups}
    machine.add(route_back, {
        "Type": "Task", "Resource": paths.MODIFY_LISTENER,
        "Parameters": listener_parameters(spec, back), "ResultPath": None,
        "Next": which if len(records) > 1 else records["error"],
        "Retry": ROUTE_BACK_RETRY,
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                   "Next": ROUTE_BACK_FAILED}]})
    machine.add(ROUTE_BACK_FAILED, {"Type": "Fail", "Error": "RollbackFailed",
                                    "Cause": f"the listener could not be set to 100% "
                                             f"{spec.old_colour}: move the traffic by hand"})
    machine.add(NOT_RECORDED, {"Type": "Fail", "Error": "RolledBack",
                               "Cause": f"all traffic is back on {spec.old_colour}; the ledger "
                                        "could not record it"})
    if len(records) > 1:
        machine.choice(which, [rule({"Variable": f"{ROLLBACK_PATH}.cause",
                                     "StringEquals": cause}, first)
                               for cause, first in records.items() if cause != "error"],
                       records["error"])


def _add_rollback_record(machine: Machine, spec: WorkflowSpec, label: str,
                         write: LedgerWrite) -> str:
    failed = machine.add(f"Rolled back: {label}", {
        "Type": "Fail", "Error": "RolledBack",
        "Cause": f"{label}: all traffic is back on {spec.old_colour}"})
    announce = add_announce(machine, spec, write, f"Roll back ({label}): announce", failed)
    halts = add_halt_placements(machine, spec, write, f"Roll back ({label})", announce)
    return add_record(machine, spec, write,
                      Record(f"Roll back ({label}): record", halts, NOT_RECORDED))


def targets(state: State) -> list[str]:
    """The names of the states ``state`` can go to."""
    found = [state[key] for key in ("Next", "Default") if key in state]
    found += [choice["Next"] for choice in state.get("Choices", [])]
    found += [catcher["Next"] for catcher in state.get("Catch", [])]
    return found


def in_flow_order(start: str, states: dict[str, State]) -> dict[str, State]:
    """``states`` in the order a reader follows them from ``start``; every target must
    exist and every state be reachable (AWS refuses a definition otherwise)."""
    order: dict[str, State] = {}
    queue = deque([start])
    while queue:
        name = queue.popleft()
        if name in order:
            continue
        if name not in states:
            raise ValueError(f"a state goes to {name!r}, which does not exist")
        order[name] = states[name]
        queue.extend(targets(states[name]))
    unreachable = set(states) - set(order)
    if unreachable:
        raise ValueError(f"unreachable states: {sorted(unreachable)}")
    too_long = [name for name in order if len(name) > MAX_STATE_NAME]
    if too_long:
        raise ValueError(f"state names over {MAX_STATE_NAME} characters: {too_long}")
    return order
