"""The checks a compiled definition makes: the gates during a bake, the holds before a step.

Alarm gates and blockers ask ``DescribeAlarms`` for the named alarms *in ALARM* (metric and
composite): any answer means firing. An SLA gate asks ``GetMetricData`` for one number,
computed by CloudWatch metric math over the whole rollout on the new colour's target group:
its availability, only when the target group served at least ``min_samples`` requests; no
value is inconclusive. Its window is the rollout's start plus a fixed span (CloudWatch's
retention) in a single period, so one query answers however long the rollout has run.
Halts are ledger items whose presence is the halt (:mod:`rollout.vocabulary.ledger_keys`).
Company freezes known at the start are a Choice on the moment (:mod:`paths` says how it is
compared) and a Wait until the freeze ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rollout.gates.cloudwatch_stats import ERRORS_5XX, NAMESPACE, REQUESTS
from rollout.stepfunctions.machine import Machine, any_of, present, rule
from rollout.stepfunctions.records import get_item
from rollout.stepfunctions.spec import AlarmGate, FreezeHold, SlaGate, WorkflowSpec, gate_label
from rollout.vocabulary import workflow_paths as paths

ALARM = "ALARM"
ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"]
SLA_WINDOW = timedelta(days=455)
"""CloudWatch keeps metrics 15 months: one period this long covers any rollout, and is a
multiple of an hour, as a query reaching more than 63 days back requires."""
GATES_PATH = "$.gates"
CHECKS_PATH = "$.checks"


def label(gate: AlarmGate | SlaGate) -> str:
    """The gate's name as state names show it."""
    return gate_label(gate.name)


def failed_entry(gate: AlarmGate | SlaGate) -> str:
    """The state a failing gate goes to: the start of its rollback."""
    return f"Gate {label(gate)} failed"


def firing_alarms(names: list[str]) -> dict[str, Any]:
    return {"AlarmNames": names, "AlarmTypes": ALARM_TYPES, "StateValue": ALARM}


def firing(result_path: str) -> list[dict[str, Any]]:
    """Conditions, any of them true when the ``DescribeAlarms`` result at ``result_path``
    names an alarm."""
    return [present(f"{result_path}.{found}") for found in paths.FIRING]


def sla_query(spec: WorkflowSpec, gate: SlaGate) -> dict[str, Any]:
    """The ``GetMetricData`` parameters answering the gate's availability, or nothing."""
    start = datetime.fromisoformat(spec.rollout_started_at)
    dimensions = [{"Name": "TargetGroup", "Value": spec.target_group_dimensions[spec.new_colour]},
                  {"Name": "LoadBalancer", "Value": spec.load_balancer_dimension}]
    period = int(SLA_WINDOW.total_seconds())

    def summed(query_id: str, metric: str) -> dict[str, Any]:
        return {"Id": query_id, "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
            "Period": period, "Stat": "Sum"}}

    return {"StartTime": start.isoformat(), "EndTime": (start + SLA_WINDOW).isoformat(),
            "MetricDataQueries": [
                summed("requests", REQUESTS), summed("errors", ERRORS_5XX),
                {"Id": "availability", "ReturnData": True, "Label": gate.name,
                 "Expression": f"IF(requests >= {gate.min_samples}, "
                               "100 * (1 - FILL(errors, 0) / requests))"}]}


def sla_value(index: int) -> str:
    return f"{GATES_PATH}.sla{index}.{paths.METRIC_VALUE}"


@dataclass(frozen=True)
class Checks:
    """One step's gate checks: their states' common name, and where they go after."""

    prefix: str
    next_state: str


def add_gate_checks(machine: Machine, spec: WorkflowSpec, checks: Checks) -> str:
    """Every gate once, in order; a failing one goes to its rollback. Returns the first."""
    following = checks.next_state
    for index, sla in reversed(list(enumerate(spec.sla_gates))):
        verdict = machine.choice(f"{checks.prefix}: gate {label(sla)} failed?", [rule(
            {"And": [present(sla_value(index)),
                     {"Variable": sla_value(index), "NumericLessThan": sla.target}]},
            failed_entry(sla))], following)
        following = machine.task(f"{checks.prefix}: gate {label(sla)}", paths.GET_METRIC_DATA,
                                 sla_query(spec, sla), verdict,
                                 result_path=f"{GATES_PATH}.sla{index}")
    for index, alarm in reversed(list(enumerate(spec.alarm_gates))):
        path = f"{GATES_PATH}.alarm{index}"
        verdict = machine.choice(f"{checks.prefix}: gate {label(alarm)} failed?",
                                 [rule(any_of(firing(path)), failed_entry(alarm))], following)
        following = machine.task(f"{checks.prefix}: gate {label(alarm)}", paths.DESCRIBE_ALARMS,
                                 firing_alarms(alarm.alarms), verdict, result_path=path)
    return following


def inconclusive(spec: WorkflowSpec) -> dict[str, Any] | None:
    """True when any SLA gate has no value; None without SLA gates."""
    if not spec.sla_gates:
        return None
    return any_of([{"Variable": sla_value(index), "IsPresent": False}
                   for index in range(len(spec.sla_gates))])


def add_hold_checks(machine: Machine, spec: WorkflowSpec, checks: Checks,
                    wait_seconds: int) -> str:
    """Freezes, halts and blockers before a weight step: while any holds, wait and look
    again (inside a freeze, until it ends; else every ``wait_seconds``), from the first.

    Returns the first check (``checks.next_state`` when there is nothing to check).
    """
    if not spec.halts and not spec.blockers and not spec.freezes:
        return checks.next_state
    first = f"{checks.prefix}: frozen?" if spec.freezes else None
    if spec.halts or spec.blockers:
        after_freezes = _add_halt_checks(machine, spec, checks, first, wait_seconds)
    else:
        after_freezes = checks.next_state
    if first is None:
        return after_freezes
    return _add_freeze_checks(machine, spec, Checks(checks.prefix, after_freezes))


def _add_halt_checks(machine: Machine, spec: WorkflowSpec, checks: Checks,
                     look_again: str | None, wait_seconds: int) -> str:
    """Halts and blockers; held, they wait and go to ``look_again`` (None: to themselves)."""
    first = f"{checks.prefix}: halted?" if spec.halts else f"{checks.prefix}: blocked?"
    held, decide = f"{checks.prefix}: hold", f"{checks.prefix}: held?"
    conditions: list[dict[str, Any]] = []
    following = decide
    if spec.blockers:
        path = f"{CHECKS_PATH}.blockers"
        following = machine.task(f"{checks.prefix}: blocked?", paths.DESCRIBE_ALARMS,
                                 firing_alarms(spec.blockers), following, result_path=path)
        conditions.extend(firing(path))
    for index, (pk, sk) in reversed(list(enumerate(spec.halts))):
        path = f"{CHECKS_PATH}.halt{index}"
        name = first if index == 0 else f"{checks.prefix}: halted? ({index + 1})"
        following = machine.task(name, paths.GET_ITEM, get_item(spec, pk, sk), following,
                                 result_path=path)
        conditions.insert(0, present(f"{path}.{paths.ITEM}"))
    machine.choice(decide, [rule(any_of(conditions), held)], checks.next_state)
    machine.wait(held, wait_seconds, look_again or first)
    return first


def freeze_span(freeze: FreezeHold) -> tuple[datetime, datetime]:
    """The freeze in whole seconds, widened (a moment inside it is never outside)."""
    ends = freeze.ends.replace(microsecond=0)
    if ends < freeze.ends:
        ends += timedelta(seconds=1)
    return freeze.starts.replace(microsecond=0), ends


def _add_freeze_checks(machine: Machine, spec: WorkflowSpec, checks: Checks) -> str:
    """A Choice on the moment it is entered: inside a freeze, wait until it ends, then
    look again (another freeze, a halt, may hold it then)."""
    first = f"{checks.prefix}: frozen?"
    rules = []
    for index, freeze in enumerate(spec.freezes):
        starts, ends = freeze_span(freeze)
        wait = machine.add(f"{checks.prefix}: freeze {index + 1} (wait)", {
            "Type": "Wait", "Comment": f"company freeze {freeze.name}",
            "Timestamp": paths.wait_instant(ends), "Next": first})
        rules.append(rule({"And": [
            {"Variable": paths.ENTERED_TIME,
             "StringGreaterThanEquals": paths.compared_instant(starts)},
            {"Variable": paths.ENTERED_TIME, "StringLessThan": paths.compared_instant(ends)}]},
            wait))
    return machine.choice(first, rules, checks.next_state)
