"""Read what a colour's target group served from CloudWatch's ``AWS/ApplicationELB`` metrics.

The metric and SLA gates both need the same three numbers per colour and window:
requests, target 5xx responses and p99 response time. Reading them in one place keeps
the dimension format and the CloudWatch quirks (period rounding, missing percentiles)
out of the gates' decisions.

ALB publishes its per-target-group metrics with two dimensions, ``TargetGroup``
(``targetgroup/<name>/<id>``) and ``LoadBalancer`` (``app/<name>/<id>``), and only
for periods with a non-zero value, so a missing ``HTTPCode_Target_5XX_Count`` means
zero errors while a missing ``RequestCount`` means no traffic at all.

The load balancer's own 5xx answers (``HTTPCode_ELB_5XX_Count``: no target, target
unreachable, timed out) belong to no target group: ALB publishes them under the
``LoadBalancer`` dimension alone, next to that dimension's ``RequestCount`` of the
whole load balancer; :class:`LoadBalancerMetrics` reads those two. CloudWatch matches
dimensions exactly, so the load balancer's totals never mix with a target group's.

Percentiles: ``p99`` is requested through ``GetMetricStatistics``'s
``ExtendedStatistics``. Where the endpoint returns datapoints without the percentile
(moto computes none), the period's ``Maximum`` is used instead and flagged
``p99_is_upper_bound``: the maximum is never below the p99, so a pass decided on it
is still sound, while a failure may be pessimistic. Moto also fails with a server
error when ``GetMetricData`` is asked for ``p99``, which is why percentiles never go
through ``GetMetricData`` here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.vocabulary.clock import as_utc
from rollout.vocabulary.colours import Colour

NAMESPACE = "AWS/ApplicationELB"
REQUESTS = "RequestCount"
ERRORS_5XX = "HTTPCode_Target_5XX_Count"
ELB_ERRORS_5XX = "HTTPCode_ELB_5XX_Count"
"""The load balancer's own 5xx answers (no target, target unreachable, timed out)."""
RESPONSE_TIME = "TargetResponseTime"
PERCENTILE = "p99"

# CloudWatch keeps one-minute data for 15 days and five-minute data for 63 days; a query
# starting further back must use a period that is a multiple of 300 or 3600 seconds.
# Gate windows always end now, so their length is how far back they start.
_PERIOD_RULES = ((timedelta(days=63), 3600), (timedelta(days=15), 300))
_MINUTE = 60


class CloudWatchUnavailable(Exception):
    """CloudWatch could not be read; a gate turns this into an inconclusive check."""


@dataclass(frozen=True)
class MetricWindow:
    """A half-open span of time ``[start, end)`` that a gate's metrics are summed over."""

    start: datetime
    end: datetime

    @classmethod
    def between(cls, start: datetime, end: datetime) -> MetricWindow:
        return cls(as_utc(start), as_utc(end))

    @property
    def since_text(self) -> str:
        """How a reason names the start: ``10:02 UTC``, with the date when it is not today."""
        if self.start.date() == self.end.date():
            return self.start.strftime("%H:%M UTC")
        return self.start.strftime("%Y-%m-%d %H:%M UTC")

    def period_seconds(self) -> int:
        """One CloudWatch period covering the whole range, as CloudWatch allows it."""
        span = max((self.end - self.start).total_seconds(), 1.0)
        unit = _MINUTE
        for age, rounding in _PERIOD_RULES:
            if self.end - self.start > age:
                unit = rounding
                break
        return max(unit, math.ceil(span / unit) * unit)

    def query_end(self) -> datetime:
        """CloudWatch (and moto) drop sub-second precision and exclude the end itself, so a
        datapoint written a moment ago would be lost without this second of slack."""
        return self.end + timedelta(seconds=1)


@dataclass(frozen=True)
class TrafficStats:
    """What one colour's target group served in a time range; or, from
    :func:`load_balancer_stats`, what the whole load balancer answered, ``errors_5xx``
    then being its own 5xx answers."""

    requests: float
    errors_5xx: float
    p99_ms: float | None = None
    p99_is_upper_bound: bool = False

    @property
    def error_rate_percent(self) -> float | None:
        """Target 5xx responses per request, in percent; ``None`` without requests."""
        if self.requests <= 0:
            return None
        return 100.0 * self.errors_5xx / self.requests


def load_balancer_stats(counted: float, own_5xx: float) -> TrafficStats:
    """The load balancer's answers from its ``RequestCount`` (``counted``) and its
    ``HTTPCode_ELB_5XX_Count`` (``own_5xx``).

    ALB counts a request in ``RequestCount`` only once it chose a target, so its 503s
    for a target group without targets are in ``own_5xx`` but not in ``counted``. The
    requests it answered are therefore at least the larger of the two: that lower bound
    keeps the rate within 100% and errs towards a higher rate, never a lower one.
    """
    return TrafficStats(requests=max(counted, own_5xx), errors_5xx=own_5xx)


def arn_suffix(arn: str) -> str:
    """The part of an ELB ARN CloudWatch uses as a dimension value."""
    return arn.split(":", 5)[-1].removeprefix("loadbalancer/")


def elb_dimensions(cohort: CohortResources, colour: Colour) -> list[dict[str, str]]:
    """The dimensions ALB publishes a colour's target group metrics under."""
    return [
        {"Name": "TargetGroup", "Value": arn_suffix(cohort.target_group_arns[colour])},
        {"Name": "LoadBalancer", "Value": arn_suffix(cohort.load_balancer_arn)},
    ]


def load_balancer_dimensions(cohort: CohortResources) -> list[dict[str, str]]:
    """The one dimension ALB publishes the whole load balancer's metrics under."""
    return [{"Name": "LoadBalancer", "Value": arn_suffix(cohort.load_balancer_arn)}]


def summed(cloudwatch: Any, queries: list[dict[str, Any]], window: MetricWindow
           ) -> dict[str, float]:
    """Query id → value over the window, for the queries with any datapoint: the sum of
    its values, or their maximum for an id starting ``max``."""
    values: dict[str, list[float]] = {}
    pages = cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=queries, StartTime=window.start, EndTime=window.query_end())
    for page in pages:
        for result in page["MetricDataResults"]:
            values.setdefault(result["Id"], []).extend(
                float(v) for v in result.get("Values", []) if v is not None)
    return {query_id: (max(found) if query_id.startswith("max") else sum(found))
            for query_id, found in values.items() if found}


class LoadBalancerMetrics:
    """Reads what one cohort's load balancer answered, whichever colour it chose."""

    def __init__(self, clients: AwsClients, cohort: CohortResources) -> None:
        self._cloudwatch = clients.client("cloudwatch")
        self._cohort = cohort

    def traffic(self, window: MetricWindow) -> TrafficStats:
        """Requests answered and the load balancer's own 5xx among them (see
        :func:`load_balancer_stats`), in one metric data call."""
        dimensions = load_balancer_dimensions(self._cohort)
        queries = [{"Id": query_id, "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dimensions},
            "Period": window.period_seconds(), "Stat": "Sum"}}
            for query_id, name in (("req", REQUESTS), ("elb", ELB_ERRORS_5XX))]
        try:
            sums = summed(self._cloudwatch, queries, window)
        except (ClientError, BotoCoreError) as exc:
            raise CloudWatchUnavailable(f"could not read CloudWatch metrics: {exc}") from None
        return load_balancer_stats(sums.get("req", 0.0), sums.get("elb", 0.0))


class TargetGroupMetrics:
    """Reads per-colour traffic of one cohort from CloudWatch."""

    def __init__(self, clients: AwsClients, cohort: CohortResources) -> None:
        self._cloudwatch = clients.client("cloudwatch")
        self._cohort = cohort

    def traffic(self, colours: list[Colour], window: MetricWindow, *,
                latency: bool = False) -> dict[Colour, TrafficStats]:
        """Requests and 5xx (and p99 when ``latency``) per colour, in one metric data call
        plus one percentile call per colour."""
        try:
            sums = self._sums(colours, window, latency=latency)
            percentiles = ({colour: self._p99_seconds(colour, window) for colour in colours}
                           if latency else {})
        except (ClientError, BotoCoreError) as exc:
            raise CloudWatchUnavailable(f"could not read CloudWatch metrics: {exc}") from None
        found: dict[Colour, TrafficStats] = {}
        for index, colour in enumerate(colours):
            p99 = percentiles.get(colour)
            maximum = sums.get(f"max{index}")
            upper_bound = latency and p99 is None and maximum is not None
            seconds = p99 if p99 is not None else (maximum if upper_bound else None)
            found[colour] = TrafficStats(
                requests=sums.get(f"req{index}", 0.0),
                errors_5xx=sums.get(f"err{index}", 0.0),
                p99_ms=None if seconds is None else 1000.0 * seconds,
                p99_is_upper_bound=upper_bound,
            )
        return found

    def _metric(self, name: str, colour: Colour) -> dict[str, Any]:
        return {"Namespace": NAMESPACE, "MetricName": name,
                "Dimensions": elb_dimensions(self._cohort, colour)}

    def _sums(self, colours: list[Colour], window: MetricWindow, *,
              latency: bool) -> dict[str, float]:
        """Query id → value over the window: sums of counts, maximum of response times."""
        period = window.period_seconds()
        queries: list[dict[str, Any]] = []
        for index, colour in enumerate(colours):
            wanted = [("req", REQUESTS, "Sum"), ("err", ERRORS_5XX, "Sum")]
            if latency:
                wanted.append(("max", RESPONSE_TIME, "Maximum"))
            queries += [{"Id": f"{prefix}{index}", "ReturnData": True, "MetricStat": {
                "Metric": self._metric(name, colour), "Period": period, "Stat": stat}}
                for prefix, name, stat in wanted]
        return summed(self._cloudwatch, queries, window)

    def _p99_seconds(self, colour: Colour, window: MetricWindow) -> float | None:
        """The p99 over the window; the highest per-period p99 if CloudWatch splits it."""
        answer = self._cloudwatch.get_metric_statistics(
            **self._metric(RESPONSE_TIME, colour), StartTime=window.start,
            EndTime=window.query_end(), Period=window.period_seconds(),
            ExtendedStatistics=[PERCENTILE])
        found = [float(point["ExtendedStatistics"][PERCENTILE])
                 for point in answer.get("Datapoints", [])
                 if PERCENTILE in point.get("ExtendedStatistics", {})]
        return max(found) if found else None
