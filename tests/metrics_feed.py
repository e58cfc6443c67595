"""Fabricated ALB-style target group metrics in CloudWatch, for tests that need a series.

A gate's own tests need exact numbers (a given error count, a given p99) that real
requests through the local data plane (:mod:`rollout.local.data_plane`) would give only
approximately; those tests publish them with this. The demo and the rehearsal tests send
real requests instead. The dimensions come from the same function the gates read with.

Like ALB, nothing is published for a zero count (no requests, no 5xx), and response
times go in as a distribution of per-request values (``Values``/``Counts``) so that a
real CloudWatch can compute percentiles from it: 2% of the requests take ``p99_ms``
(making that the p99 and the maximum), the rest half of it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.gates.cloudwatch_stats import (
    ERRORS_5XX,
    NAMESPACE,
    REQUESTS,
    RESPONSE_TIME,
    elb_dimensions,
)
from rollout.vocabulary.colours import Colour

SLOW_SHARE = 0.02


def response_time_distribution(requests: int, p99_ms: float) -> tuple[list[float], list[int]]:
    """Seconds and how many requests took them, such that the p99 is exactly ``p99_ms``."""
    slow = min(requests, max(1, math.ceil(requests * SLOW_SHARE)))
    values = [p99_ms / 2000.0, p99_ms / 1000.0]
    counts = [requests - slow, slow]
    return ([v for v, c in zip(values, counts, strict=True) if c],
            [c for c in counts if c])


def feed_requests(clients: AwsClients, cohort: CohortResources, colour: Colour, *,
                  requests: int = 1000, errors_5xx: int = 3, p99_ms: float = 120.0,
                  at: datetime | None = None) -> None:
    """Publish one period of traffic on ``colour``'s target group: ``requests`` requests,
    ``errors_5xx`` of them answered 5xx by the target, p99 response time ``p99_ms``.

    ``at`` is the datapoint's timestamp (default: now, as CloudWatch assigns it).
    """
    if errors_5xx > requests or requests < 0 or errors_5xx < 0:
        raise ValueError(f"need 0 <= errors_5xx <= requests, got {errors_5xx} of {requests}")
    if requests == 0:
        return
    dimensions = elb_dimensions(cohort, colour)
    stamp: dict[str, Any] = {} if at is None else {"Timestamp": at}
    values, counts = response_time_distribution(requests, p99_ms)
    data: list[dict[str, Any]] = [
        {"MetricName": REQUESTS, "Dimensions": dimensions, "Value": float(requests),
         "Unit": "Count", **stamp},
        {"MetricName": RESPONSE_TIME, "Dimensions": dimensions, "Values": values,
         "Counts": [float(c) for c in counts], "Unit": "Seconds", **stamp},
    ]
    if errors_5xx:
        data.append({"MetricName": ERRORS_5XX, "Dimensions": dimensions,
                     "Value": float(errors_5xx), "Unit": "Count", **stamp})
    clients.client("cloudwatch").put_metric_data(Namespace=NAMESPACE, MetricData=data)
