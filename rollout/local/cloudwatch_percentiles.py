"""A stand-in for what CloudWatch does and moto does not: percentiles of a distribution.

A load balancer publishes ``TargetResponseTime`` as a distribution (``Values`` and
``Counts``), and CloudWatch answers ``ExtendedStatistics=["p99"]`` from it; moto
keeps every value but computes no percentile, so a latency gate on moto could only
read the maximum. Installed into the embedded moto server (:func:`install`), this
answers each requested ``pNN`` over the period's values, by nearest rank (the value
below which NN% of the samples lie), so a rehearsal's p99 is a real p99.
"""

from __future__ import annotations

import math
import re
from typing import Any

INSTALLED = "_rollout_answers_percentiles"
PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


def nearest_rank(values: list[float], percent: float) -> float | None:
    """The ``percent``-th percentile of ``values`` by nearest rank; None with no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _extended(statistics: Any) -> dict[str, float] | None:
    asked = getattr(statistics, "percentiles_asked", ())
    values = statistics.metric_single_values_list
    answers = {name: nearest_rank(values, float(match.group(1))) for name in asked
               if (match := PERCENTILE.match(name))}
    found = {name: value for name, value in answers.items() if value is not None}
    return found or None


def install() -> None:
    """Make moto's ``GetMetricStatistics`` answer ``ExtendedStatistics``; idempotent."""
    from moto.cloudwatch.models import Statistics
    from moto.cloudwatch.responses import CloudWatchResponse

    if getattr(CloudWatchResponse, INSTALLED, False):
        return
    answer = CloudWatchResponse.get_metric_statistics

    def get_metric_statistics(self: Any) -> Any:
        asked = tuple(self._get_param("ExtendedStatistics") or ())
        result = answer(self)
        answered: dict[str, Any] = result.result  # type: ignore[assignment]
        for statistics in answered.get("Datapoints", []):
            statistics.percentiles_asked = asked
        return result

    Statistics.extended_statistics = property(_extended)  # type: ignore[attr-defined]
    CloudWatchResponse.get_metric_statistics = get_metric_statistics  # type: ignore[method-assign]
    setattr(CloudWatchResponse, INSTALLED, True)
