"""The latency gates read a real p99 from the distribution ALB publishes, on moto too.

moto computes no percentile; the embedded server answers them
(:mod:`rollout.local.cloudwatch_percentiles`), so the p99 a gate sees is the
distribution's, not its maximum, and no longer flagged an upper bound.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from rollout.gates.cloudwatch_stats import (
    NAMESPACE,
    RESPONSE_TIME,
    MetricWindow,
    TargetGroupMetrics,
    elb_dimensions,
)
from rollout.local.cloudwatch_percentiles import nearest_rank
from rollout.vocabulary.clock import utc_now
from tests.conftest import Fleet

pytestmark = pytest.mark.integration


def test_the_p99_is_the_distribution_s_not_its_maximum(fleet: Fleet) -> None:
    cohort = fleet.cohorts["wave1"]
    now = utc_now()
    fleet.clients.client("cloudwatch").put_metric_data(Namespace=NAMESPACE, MetricData=[{
        "MetricName": RESPONSE_TIME, "Dimensions": elb_dimensions(cohort, "green"),
        "Values": [0.020, 0.180, 2.5], "Counts": [970, 25, 5], "Timestamp": now,
        "StorageResolution": 1}])
    window = MetricWindow(now - timedelta(minutes=1), now + timedelta(seconds=1))
    stats = TargetGroupMetrics(fleet.clients, cohort).traffic(["green"], window, latency=True)
    assert stats["green"].p99_ms == pytest.approx(180.0)
    assert not stats["green"].p99_is_upper_bound


@pytest.mark.parametrize(("values", "percent", "expected"), [
    ([], 99, None), ([5.0], 99, 5.0), ([float(n) for n in range(1, 101)], 99, 99.0),
    ([float(n) for n in range(1, 101)], 50, 50.0), ([3.0, 1.0, 2.0], 100, 3.0),
])
def test_nearest_rank(values: list[float], percent: float, expected: float | None) -> None:
    assert nearest_rank(values, percent) == expected
