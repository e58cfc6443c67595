"""The judge gate against a moto server: one-second samples of both colours' target groups.

Each test publishes into its own slot of (past) time, so the module's fleet never mixes
one test's samples into another's verdict. Samples are drawn from a seeded generator:
the verdicts are deterministic, and the distributions are what the test names say.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollout.aws_clients import AwsClients
from rollout.gates.base import GateContext, Verdict
from rollout.gates.cloudwatch_stats import (
    ERRORS_5XX,
    NAMESPACE,
    REQUESTS,
    RESPONSE_TIME,
    elb_dimensions,
)
from rollout.gates.load import load_gate
from rollout.vocabulary.colours import Colour
from tests.conftest import Fleet

pytestmark = pytest.mark.integration

_ANCHOR = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=20)
_SLOTS = itertools.count()
SECONDS = 60
REQUESTS_PER_SECOND = 8
JUDGE: dict[str, Any] = {
    "kind": "judge", "window": "2m", "min_samples": 50, "confidence": 0.95,
    "metrics": [
        {"metric": "latency", "tolerance": "10%", "critical": True, "weight": 2},
        {"metric": "error-rate", "tolerance": 0.5},
    ],
}


@pytest.fixture
def start() -> datetime:
    """When this test's step started: a slot of its own, well apart from the others'."""
    return _ANCHOR + timedelta(minutes=10 * next(_SLOTS))


def publish(fleet: Fleet, colour: Colour, start: datetime, latency_ms: float,
            seed: int) -> None:
    """``SECONDS`` seconds of traffic on ``colour`` from ``start``, as ALB publishes it:
    per second, requests, a few 5xx, and response times around ``latency_ms``."""
    draw = random.Random(seed)
    dimensions = elb_dimensions(fleet.cohorts["canary"], colour)
    data: list[dict[str, Any]] = []
    for second in range(SECONDS):
        common = {"Dimensions": dimensions, "StorageResolution": 1,
                  "Timestamp": start + timedelta(seconds=second)}
        times = [max(0.001, draw.gauss(latency_ms, latency_ms / 10) / 1000)
                 for _ in range(REQUESTS_PER_SECOND)]
        data.append({"MetricName": RESPONSE_TIME, "Unit": "Seconds", "Values": times, **common})
        data.append({"MetricName": REQUESTS, "Unit": "Count",
                     "Value": float(REQUESTS_PER_SECOND), **common})
        if second % 20 == 0:
            data.append({"MetricName": ERRORS_5XX, "Unit": "Count", "Value": 1.0, **common})
    cloudwatch = fleet.clients.client("cloudwatch")
    for first in range(0, len(data), 100):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[first:first + 100])


def context(fleet: Fleet, start: datetime) -> GateContext:
    """A check two minutes into the step: the whole two-minute window."""
    return GateContext(clients=fleet.clients, cohort=fleet.cohorts["canary"],
                       old_colour="blue", new_colour="green", rollout_started_at=start,
                       step_started_at=start, now=start + timedelta(minutes=2))


def test_a_clearly_slower_new_colour_fails_on_its_critical_latency(
        fleet: Fleet, start: datetime) -> None:
    publish(fleet, "blue", start, latency_ms=100, seed=1)
    publish(fleet, "green", start, latency_ms=160, seed=2)

    result = load_gate(JUDGE).check(context(fleet, start))

    assert result.verdict is Verdict.FAIL, result
    assert result.metric == "latency"
    assert result.reason.startswith("critical metric latency is High")
    assert "error-rate Pass" in result.reason
    assert result.observed is not None and result.threshold is not None
    assert result.observed > result.threshold
    assert result.threshold == pytest.approx(110, rel=0.05)


def test_two_colours_with_the_same_distribution_pass(fleet: Fleet, start: datetime) -> None:
    publish(fleet, "blue", start, latency_ms=100, seed=3)
    publish(fleet, "green", start, latency_ms=100, seed=4)

    result = load_gate(JUDGE).check(context(fleet, start))

    assert result.verdict is Verdict.PASS, result
    assert (result.metric, result.observed) == ("score", 100.0)
    assert "latency Pass" in result.reason and "error-rate Pass" in result.reason
    assert f"{SECONDS}/{SECONDS} samples" in result.reason


def test_an_idle_cohort_is_inconclusive_with_no_data(fleet: Fleet, start: datetime) -> None:
    result = load_gate(JUDGE).check(context(fleet, start))

    assert result.verdict is Verdict.INCONCLUSIVE, result
    assert result.reason.startswith("no metric has enough data to judge")
    assert "latency NoData (0 old / 0 new samples, need 50" in result.reason
    assert "error-rate NoData" in result.reason


def test_must_have_data_holds_while_the_window_fills_then_fails(
        fleet: Fleet, start: datetime) -> None:
    gate = load_gate({**JUDGE, "metrics": [{"metric": "latency", "must_have_data": True}]})
    early = context(fleet, start).model_copy(update={"now": start + timedelta(minutes=1)})

    holding = gate.check(early)
    failing = gate.check(context(fleet, start))

    assert holding.verdict is Verdict.INCONCLUSIVE, holding
    assert "too few samples so far" in holding.reason
    assert failing.verdict is Verdict.FAIL, failing
    assert (failing.metric, failing.observed, failing.threshold) == ("latency", 0, 50)


def test_samples_from_before_the_step_started_are_not_judged(
        fleet: Fleet, start: datetime) -> None:
    publish(fleet, "blue", start, latency_ms=100, seed=5)
    publish(fleet, "green", start, latency_ms=160, seed=6)
    later_step = context(fleet, start).model_copy(update={
        "step_started_at": start + timedelta(seconds=SECONDS),
        "now": start + timedelta(seconds=SECONDS + 30)})

    result = load_gate(JUDGE).check(later_step)

    assert result.verdict is Verdict.INCONCLUSIVE, result
    assert "latency NoData (0 old / 0 new samples" in result.reason


def test_cloudwatch_out_of_reach_is_inconclusive_never_a_pass(
        fleet: Fleet, start: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    unreachable = context(fleet, start).model_copy(update={
        "clients": AwsClients(max_attempts=1)})

    result = load_gate(JUDGE).check(unreachable)

    assert result.verdict is Verdict.INCONCLUSIVE, result
    assert result.reason.startswith("could not read CloudWatch metrics: ")


def test_a_step_where_the_old_colour_serves_nothing_passes_saying_why(
        fleet: Fleet, start: datetime) -> None:
    """At 100% there is no baseline: the judge must not hold the final step for ever."""
    at_full = context(fleet, start).model_copy(update={"old_weight": 0})
    result = load_gate(JUDGE).check(at_full)
    assert result.verdict == Verdict.PASS
    assert "blue serves no traffic at this step: nothing to compare with" in result.reason
    split = context(fleet, start).model_copy(update={"old_weight": 50})
    assert load_gate(JUDGE).check(split).verdict == Verdict.INCONCLUSIVE  # idle: NoData
