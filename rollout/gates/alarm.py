"""Alarm gate: any named CloudWatch alarm in ``ALARM`` fails the step.

Settings (YAML)::

    - kind: alarm
      alarms: [api-5xx, checkout-latency]   # metric or composite alarm names

An alarm that does not exist fails the gate rather than the settings: alarms are often
created by another team's stack, so whether one exists is only known when the gate runs,
and a gate that quietly watches nothing must not let a rollout through.
``INSUFFICIENT_DATA`` is inconclusive: the alarm cannot tell yet, so neither can we.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, field_validator

from rollout.gates.base import GATES, GateContext, GateResult, Verdict
from rollout.gates.load import GateSettings

ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
MAX_NAMES_PER_CALL = 100


class AlarmSettings(GateSettings):
    alarms: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        min_length=1, max_length=MAX_NAMES_PER_CALL)

    @field_validator("alarms")
    @classmethod
    def _unique(cls, names: list[str]) -> list[str]:
        return list(dict.fromkeys(names))


@dataclass(frozen=True)
class AlarmState:
    """One alarm as CloudWatch describes it, reduced to what a reason needs."""

    name: str
    state: str
    why: str = ""
    metric: str | None = None
    observed: float | None = None
    threshold: float | None = None


def judge_alarms(gate: str, wanted: list[str], found: Mapping[str, AlarmState]) -> GateResult:
    """The verdict from alarm states alone (no AWS): any in ALARM or missing fails,
    any without data is inconclusive, all OK passes."""
    firing = [found[name] for name in wanted if name in found and found[name].state == ALARM]
    if firing:
        first = firing[0]
        names = ", ".join(alarm.name for alarm in firing)
        noun = "alarm" if len(firing) == 1 else "alarms"
        verb = "is" if len(firing) == 1 else "are"
        why = f": {first.why}" if first.why else ""
        return GateResult(gate=gate, verdict=Verdict.FAIL, reason=f"{noun} {names} {verb} in "
                          f"ALARM{why}", metric=first.metric or first.name,
                          observed=first.observed, threshold=first.threshold)
    missing = [name for name in wanted if name not in found]
    if missing:
        which = (f"alarm {missing[0]} does not exist" if len(missing) == 1
                 else f"alarms {', '.join(missing)} do not exist")
        return GateResult(gate=gate, verdict=Verdict.FAIL, metric=missing[0],
                          reason=f"{which} (check the name and region; a gate that watches "
                                 "nothing cannot pass)")
    waiting = [name for name in wanted if found[name].state == INSUFFICIENT_DATA]
    if waiting:
        return GateResult(gate=gate, verdict=Verdict.INCONCLUSIVE, metric=waiting[0],
                          reason=f"alarm {', '.join(waiting)} has insufficient data")
    return GateResult(gate=gate, verdict=Verdict.PASS,
                      reason=f"alarm {', '.join(wanted)}: OK" if len(wanted) == 1
                      else f"all {len(wanted)} alarms OK ({', '.join(wanted)})")


def _latest_datapoint(reason_data: str | None) -> float | None:
    """The most recent value the alarm evaluated, if CloudWatch says (it usually does)."""
    try:
        points = json.loads(reason_data or "{}").get("recentDatapoints") or []
        return float(points[-1]) if points else None
    except (ValueError, TypeError, AttributeError):
        return None


def _state(alarm: Mapping[str, Any]) -> AlarmState:
    threshold = alarm.get("Threshold")
    return AlarmState(
        name=alarm["AlarmName"], state=alarm["StateValue"], why=alarm.get("StateReason", ""),
        metric=alarm.get("MetricName"), observed=_latest_datapoint(alarm.get("StateReasonData")),
        threshold=None if threshold is None else float(threshold))


class AlarmGate:
    """Watches named CloudWatch alarms (metric or composite)."""

    waits_for_human = False

    def __init__(self, settings: AlarmSettings) -> None:
        self.name = settings.name or "alarm"
        self.settings = settings

    def check(self, context: GateContext) -> GateResult:
        cloudwatch = context.clients.client("cloudwatch")
        found: dict[str, AlarmState] = {}
        try:
            pages = cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNames=self.settings.alarms, AlarmTypes=["MetricAlarm", "CompositeAlarm"])
            for page in pages:
                for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                    found[alarm["AlarmName"]] = _state(alarm)
        except (ClientError, BotoCoreError) as exc:
            return GateResult(gate=self.name, verdict=Verdict.INCONCLUSIVE,
                              reason=f"could not read CloudWatch alarms: {exc}")
        return judge_alarms(self.name, self.settings.alarms, found)


@GATES.register("alarm")
def alarm_gate(settings: Mapping[str, Any]) -> AlarmGate:
    """Raises pydantic's ValidationError; :mod:`rollout.gates.load` turns it into BadInput."""
    return AlarmGate(AlarmSettings.model_validate(settings))
