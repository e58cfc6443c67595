"""Health gates against a moto server over HTTP: real alarms, real ALB-style metrics.

Every test gets its own half-hour slot of (past) time to publish metrics into, so the
module's shared fleet never mixes one test's traffic into another's verdict.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollout.gates.base import Gate, GateContext, GateResult, Verdict
from rollout.gates.cloudwatch_stats import elb_dimensions
from rollout.gates.load import load_gate
from rollout.vocabulary.colours import Colour
from tests.alarms import put_5xx_alarm
from tests.conftest import Fleet
from tests.metrics_feed import feed_requests

pytestmark = pytest.mark.integration

_ANCHOR = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=12)
_SLOTS = itertools.count()


@dataclass(frozen=True)
class Slot:
    """A rollout that started at ``start``; ``at(m)`` is ``m`` minutes into it."""

    start: datetime

    def at(self, minutes: float) -> datetime:
        return self.start + timedelta(minutes=minutes)


@pytest.fixture
def slot() -> Slot:
    return Slot(_ANCHOR + timedelta(minutes=30 * next(_SLOTS)))


def context(fleet: Fleet, slot: Slot, minutes: float = 5, *, approved: bool = False,
            old: Colour = "blue", new: Colour = "green") -> GateContext:
    return GateContext(clients=fleet.clients, cohort=fleet.cohorts["canary"], old_colour=old,
                       new_colour=new, rollout_started_at=slot.start, step_started_at=slot.start,
                       now=slot.at(minutes), approved=approved)


def feed(fleet: Fleet, colour: Colour, when: datetime, **traffic: Any) -> None:
    feed_requests(fleet.clients, fleet.cohorts["canary"], colour, at=when, **traffic)


def check(settings: dict[str, Any], ctx: GateContext) -> GateResult:
    gate: Gate = load_gate(settings)
    return gate.check(ctx)


ERROR_RATE = {"kind": "metric", "metric": "error-rate", "max_increase": 0.5, "max": 2,
              "min_samples": 100}


def test_dimensions_are_the_ones_alb_publishes_under(fleet: Fleet) -> None:
    elbv2 = fleet.clients.client("elbv2")
    cohort = fleet.cohorts["canary"]
    balancer = elbv2.describe_load_balancers(
        LoadBalancerArns=[cohort.load_balancer_arn])["LoadBalancers"][0]["LoadBalancerName"]
    for colour, arn in cohort.target_group_arns.items():
        group = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
        dims = {d["Name"]: d["Value"] for d in elb_dimensions(cohort, colour)}
        assert re.fullmatch(rf"targetgroup/{group['TargetGroupName']}/[0-9a-f]+",
                            dims["TargetGroup"])
        assert re.fullmatch(rf"app/{balancer}/[0-9a-f]+", dims["LoadBalancer"])


# --- alarm -------------------------------------------------------------------------------

def make_alarm(fleet: Fleet, suffix: str, state: str = "OK", threshold: float = 5.0,
               reason_data: str = "{}") -> str:
    return put_5xx_alarm(fleet.clients.client("cloudwatch"), f"{fleet.app}-{suffix}",
                         threshold=threshold, state=state, reason=f"set to {state}",
                         reason_data=reason_data)


def test_alarm_gate_passes_while_ok_and_fails_naming_the_alarm(fleet: Fleet, slot: Slot) -> None:
    quiet, noisy = make_alarm(fleet, "quiet"), make_alarm(fleet, "noisy", threshold=5)
    settings = {"kind": "alarm", "alarms": [quiet, noisy]}

    assert check(settings, context(fleet, slot)).verdict is Verdict.PASS

    fleet.clients.client("cloudwatch").set_alarm_state(
        AlarmName=noisy, StateValue="ALARM", StateReason="Threshold Crossed: 1 datapoint (42.0)",
        StateReasonData='{"recentDatapoints": [42.0], "threshold": 5.0}')
    failed = check(settings, context(fleet, slot))
    assert failed.verdict is Verdict.FAIL
    assert f"alarm {noisy} is in ALARM" in failed.reason
    assert quiet not in failed.reason
    assert (failed.observed, failed.threshold) == (42.0, 5.0)


def test_alarm_without_data_is_inconclusive(fleet: Fleet, slot: Slot) -> None:
    waiting = make_alarm(fleet, "waiting", state="INSUFFICIENT_DATA")
    result = check({"kind": "alarm", "alarms": [waiting]}, context(fleet, slot))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert waiting in result.reason


def test_alarm_that_does_not_exist_fails_naming_it(fleet: Fleet, slot: Slot) -> None:
    present = make_alarm(fleet, "present")
    result = check({"kind": "alarm", "alarms": [present, "no-such-alarm"]}, context(fleet, slot))
    assert result.verdict is Verdict.FAIL
    assert "alarm no-such-alarm does not exist" in result.reason


# --- metric: error rate ------------------------------------------------------------------

def test_healthy_new_colour_passes_with_its_numbers(fleet: Fleet, slot: Slot) -> None:
    feed(fleet, "blue", slot.at(1), requests=1000, errors_5xx=3)
    feed(fleet, "green", slot.at(2), requests=1000, errors_5xx=4)

    result = check(ERROR_RATE, context(fleet, slot))

    assert result.verdict is Verdict.PASS
    assert result.observed == pytest.approx(0.4)
    assert result.threshold == pytest.approx(0.8)  # 0.3% on blue + 0.5 points


def test_injected_5xx_on_new_colour_fails_with_observed_and_threshold(
        fleet: Fleet, slot: Slot) -> None:
    feed(fleet, "blue", slot.at(1), requests=1000, errors_5xx=3)
    feed(fleet, "green", slot.at(2), requests=1000, errors_5xx=15)

    result = check(ERROR_RATE, context(fleet, slot))

    assert result.verdict is Verdict.FAIL
    assert result.metric == "error-rate"
    assert [result.observed, result.threshold] == pytest.approx([1.5, 0.8])
    assert "green is 1.50%" in result.reason and "0.30% on blue" in result.reason


def test_absolute_maximum_fails_even_when_old_colour_is_as_bad(fleet: Fleet, slot: Slot) -> None:
    feed(fleet, "blue", slot.at(1), requests=1000, errors_5xx=40)
    feed(fleet, "green", slot.at(2), requests=1000, errors_5xx=40)

    result = check(ERROR_RATE, context(fleet, slot))

    assert result.verdict is Verdict.FAIL
    assert [result.observed, result.threshold] == pytest.approx([4.0, 2.0])


def test_no_data_is_inconclusive_never_a_pass(fleet: Fleet, slot: Slot) -> None:
    result = check(ERROR_RATE, context(fleet, slot))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.reason == (f"no requests on green since {slot.start:%H:%M} UTC, need 100")


def test_too_few_samples_is_inconclusive_even_if_they_all_failed(
        fleet: Fleet, slot: Slot) -> None:
    feed(fleet, "blue", slot.at(1), requests=1000, errors_5xx=3)
    feed(fleet, "green", slot.at(2), requests=12, errors_5xx=12)

    result = check(ERROR_RATE, context(fleet, slot))

    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.reason == f"only 12 requests on green since {slot.start:%H:%M} UTC, need 100"


def test_relative_comparison_without_old_colour_traffic_is_inconclusive(
        fleet: Fleet, slot: Slot) -> None:
    feed(fleet, "green", slot.at(2), requests=1000, errors_5xx=1)
    settings = {"kind": "metric", "metric": "error-rate", "max_increase": "50%"}

    result = check(settings, context(fleet, slot))

    assert result.verdict is Verdict.INCONCLUSIVE
    assert "no requests on blue (the old colour)" in result.reason


def test_traffic_before_the_rollout_started_does_not_count(fleet: Fleet, slot: Slot) -> None:
    feed(fleet, "green", slot.at(-0.5), requests=1000, errors_5xx=900)  # the old release
    feed(fleet, "blue", slot.at(2), requests=1000, errors_5xx=3)
    feed(fleet, "green", slot.at(2), requests=1000, errors_5xx=3)

    result = check({**ERROR_RATE, "window": "5m"}, context(fleet, slot, minutes=4))

    assert result.verdict is Verdict.PASS
    assert result.observed == pytest.approx(0.3)


def test_only_the_recent_window_counts(fleet: Fleet, slot: Slot) -> None:
    feed(fleet, "blue", slot.at(2), requests=1000, errors_5xx=3)
    feed(fleet, "green", slot.at(3), requests=1000, errors_5xx=900)
    feed(fleet, "blue", slot.at(12), requests=1000, errors_5xx=3)
    feed(fleet, "green", slot.at(13), requests=1000, errors_5xx=3)
    windowed = {**ERROR_RATE, "window": "5m"}

    assert check(windowed, context(fleet, slot, minutes=5)).verdict is Verdict.FAIL
    assert check(windowed, context(fleet, slot, minutes=15)).verdict is Verdict.PASS


def test_colours_swap_roles_when_blue_is_the_new_one(fleet: Fleet, slot: Slot) -> None:
    feed(fleet, "green", slot.at(1), requests=1000, errors_5xx=0)
    feed(fleet, "blue", slot.at(2), requests=1000, errors_5xx=30)

    result = check(ERROR_RATE, context(fleet, slot, old="green", new="blue"))

    assert result.verdict is Verdict.FAIL
    assert "blue is 3.00%" in result.reason


# --- metric: latency ---------------------------------------------------------------------

LATENCY = {"kind": "metric", "metric": "latency-p99", "max_increase": "20%", "min_samples": 100}


def test_p99_latency_within_relative_increase_passes(fleet: Fleet, slot: Slot) -> None:
    feed(fleet, "blue", slot.at(1), requests=2000, p99_ms=120)
    feed(fleet, "green", slot.at(2), requests=500, p99_ms=130)

    result = check(LATENCY, context(fleet, slot))

    assert result.verdict is Verdict.PASS
    assert result.observed == pytest.approx(130)
    assert result.threshold == pytest.approx(144)


def test_p99_latency_regression_fails(fleet: Fleet, slot: Slot) -> None:
    feed(fleet, "blue", slot.at(1), requests=2000, p99_ms=120)
    feed(fleet, "green", slot.at(2), requests=500, p99_ms=400)

    result = check(LATENCY, context(fleet, slot))

    assert result.verdict is Verdict.FAIL
    assert result.metric == "latency-p99"
    assert [result.observed, result.threshold] == pytest.approx([400, 144])
    assert "400 ms" in result.reason and "+20%" in result.reason


# --- sla ---------------------------------------------------------------------------------

SLA = {"kind": "sla", "target": 99.9, "min_samples": 1000}


def test_sla_counts_the_whole_rollout_and_passes_above_target(fleet: Fleet, slot: Slot) -> None:
    feed(fleet, "green", slot.at(1), requests=6000, errors_5xx=3)
    feed(fleet, "green", slot.at(20), requests=4000, errors_5xx=2)
    feed(fleet, "blue", slot.at(20), requests=4000, errors_5xx=400)  # the old colour's trouble

    result = check(SLA, context(fleet, slot, minutes=29))

    assert result.verdict is Verdict.PASS
    assert result.observed == pytest.approx(99.95)
    assert "5 of 10000 requests failed" in result.reason


def test_sla_below_target_fails(fleet: Fleet, slot: Slot) -> None:
    feed(fleet, "green", slot.at(1), requests=6000, errors_5xx=3)
    feed(fleet, "green", slot.at(20), requests=4000, errors_5xx=12)

    result = check(SLA, context(fleet, slot, minutes=29))

    assert result.verdict is Verdict.FAIL
    assert result.metric == "availability"
    assert [result.observed, result.threshold] == pytest.approx([99.85, 99.9])
    assert "below the SLA target 99.9%" in result.reason


def test_sla_with_too_few_requests_is_inconclusive(fleet: Fleet, slot: Slot) -> None:
    feed(fleet, "green", slot.at(1), requests=50, errors_5xx=0)

    result = check(SLA, context(fleet, slot, minutes=29))

    assert result.verdict is Verdict.INCONCLUSIVE
    assert "only 50 requests on green" in result.reason


# --- manual ------------------------------------------------------------------------------

def test_manual_gate_waits_for_promote_then_passes(fleet: Fleet, slot: Slot) -> None:
    gate = load_gate({"kind": "manual"})

    waiting = gate.check(context(fleet, slot))
    approved = gate.check(context(fleet, slot, approved=True))

    assert waiting.verdict is Verdict.INCONCLUSIVE
    assert waiting.reason == "waiting for approval: run `rollout promote --cohort canary`"
    assert approved.verdict is Verdict.PASS
