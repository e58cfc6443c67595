"""SLA gate: the new colour's availability over the whole rollout must stay above target.

Settings (YAML)::

    - kind: sla
      target: 99.9        # percent of requests that must not get a target 5xx
      min_samples: 100    # requests the new colour must have served since the rollout began

Unlike the metric gate, which looks at a recent window, this one counts every request
since the rollout started: a slow trickle of errors that never trips a window can still
spend the cohort's error budget. Availability is ``1 - HTTPCode_Target_5XX_Count /
RequestCount`` on the new colour's target group (load balancer 5xx are not per target
group, so they are not counted). Too few requests is inconclusive, never a pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from rollout.gates.base import GATES, GateContext, GateResult, Verdict
from rollout.gates.cloudwatch_stats import (
    CloudWatchUnavailable,
    MetricWindow,
    TargetGroupMetrics,
    TrafficStats,
)
from rollout.gates.load import GateSettings
from rollout.vocabulary.clock import as_utc
from rollout.vocabulary.colours import Colour

METRIC = "availability"
_TOLERANCE = 1e-9


def _truncated(percent: float) -> str:
    """Three decimals, rounded down, so a value below target never prints as equal to it."""
    return f"{math.floor(percent * 1000 + _TOLERANCE) / 1000:.3f}"


class SlaSettings(GateSettings):
    target: float = Field(gt=0, lt=100, description="percent")
    min_samples: int = Field(default=100, ge=1)


def _spent_share(errors: float, budget: float) -> str:
    """Percent of the error budget spent, rounded up so an overspend never prints as 100%."""
    return f"{math.ceil(1000.0 * errors / budget - _TOLERANCE) / 10:.1f}%"


def judge_availability(gate: str, settings: SlaSettings, colour: Colour, stats: TrafficStats,
                       since: str) -> GateResult:
    """The verdict from the numbers alone (no AWS)."""
    if stats.requests < settings.min_samples:
        served = ("no requests" if stats.requests <= 0
                  else f"only {stats.requests:.0f} requests")
        return GateResult(gate=gate, verdict=Verdict.INCONCLUSIVE, metric=METRIC,
                          reason=f"{served} on {colour} since {since}, "
                                 f"need {settings.min_samples} to judge the SLA")
    availability = 100.0 * (stats.requests - stats.errors_5xx) / stats.requests
    budget = stats.requests * (100.0 - settings.target) / 100.0
    spent = f"{stats.errors_5xx:.0f} of {stats.requests:.0f} requests failed since {since}, " \
            f"{_spent_share(stats.errors_5xx, budget)} of the error budget"
    shown = f"availability on {colour} is {_truncated(availability)}%"
    if availability < settings.target - _TOLERANCE:
        return GateResult(gate=gate, verdict=Verdict.FAIL, metric=METRIC,
                          reason=f"{shown}, below the SLA target {settings.target:g}% ({spent})",
                          observed=availability, threshold=settings.target)
    return GateResult(gate=gate, verdict=Verdict.PASS, metric=METRIC,
                      reason=f"{shown}, meets the SLA target {settings.target:g}% ({spent})",
                      observed=availability, threshold=settings.target)


class SlaGate:
    """Availability of the new colour since the rollout started, against the SLA target."""

    waits_for_human = False

    def __init__(self, settings: SlaSettings) -> None:
        self.name = settings.name or f"sla {settings.target:g}%"
        self.settings = settings

    def check(self, context: GateContext) -> GateResult:
        now = as_utc(context.now)
        window = MetricWindow(min(as_utc(context.rollout_started_at), now), now)
        try:
            traffic = TargetGroupMetrics(context.clients, context.cohort).traffic(
                [context.new_colour], window)
        except CloudWatchUnavailable as exc:
            return GateResult(gate=self.name, verdict=Verdict.INCONCLUSIVE, reason=str(exc),
                              metric=METRIC)
        return judge_availability(self.name, self.settings, context.new_colour,
                                  traffic[context.new_colour], window.since_text)


@GATES.register("sla")
def sla_gate(settings: Mapping[str, Any]) -> SlaGate:
    """Raises pydantic's ValidationError; :mod:`rollout.gates.load` turns it into BadInput."""
    return SlaGate(SlaSettings.model_validate(settings))
