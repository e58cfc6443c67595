"""Metric gate: the new colour's error rate or p99 latency, compared with the old colour's;
or the load balancer's own 5xx answers.

Settings (YAML)::

    - kind: metric
      metric: error-rate        # or latency-p99, or lb-error-rate
      max_increase: 0.5         # absolute, in the metric's unit (points of %, or ms) ...
      # max_increase: "20%"     # ... or relative to the old colour's value
      max: 2                    # and/or an absolute ceiling (%, or ms)
      min_samples: 100          # requests the new colour (for lb-error-rate: the load
                                # balancer) must have served in the window
      window: 5m                # how far back to look (never before the rollout started)

``error-rate`` counts the 5xx a colour's targets answered. A colour whose targets
cannot answer at all (its processes died, it has no target, it times out) makes the
load balancer answer 502, 503 or 504 itself; ALB counts those in
``HTTPCode_ELB_5XX_Count`` per load balancer, not per target group, so
``lb-error-rate`` reads them there: the load balancer's own 5xx per request it answered,
in percent. It sees both colours at once and has no old colour to compare with, so it
takes ``max`` only, and ``min_samples`` counts the load balancer's requests.

Small cohorts send little traffic, so a window with no data or fewer than
``min_samples`` requests on the new colour is *inconclusive*, never a pass; so is a
relative comparison without enough traffic on the old colour to compare against.
A breach of ``max`` fails the gate even without a baseline: that is evidence enough.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rollout.gates.base import GATES, GateContext, GateResult, Verdict
from rollout.gates.cloudwatch_stats import (
    CloudWatchUnavailable,
    LoadBalancerMetrics,
    MetricWindow,
    TargetGroupMetrics,
    TrafficStats,
)
from rollout.gates.load import GateSettings
from rollout.vocabulary.amounts import parse_amount
from rollout.vocabulary.clock import as_utc
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.durations import Duration

MetricName = Literal["error-rate", "latency-p99", "lb-error-rate"]
LB_ERROR_RATE = "lb-error-rate"


@dataclass(frozen=True)
class MetricKind:
    """How one metric is read from the traffic and written in a reason.

    ``seen`` words the observation, from ``label``, ``where`` (the traffic's place),
    ``value``, ``requests`` and ``since``; ``where`` names the place from ``colour``.
    A ``load_balancer`` metric reads the whole load balancer, not a colour.
    """

    label: str
    value_of: Callable[[TrafficStats], float | None]
    show: Callable[[float], str]
    show_delta: Callable[[float], str]
    needs_latency: bool
    load_balancer: bool = False
    where: str = "on {colour}"
    seen: str = "{label} {where} is {value} over {requests} since {since}"


def _percent(value: float) -> str:
    return f"{value:.2f}%"


METRICS: dict[str, MetricKind] = {
    "error-rate": MetricKind(
        label="error rate", value_of=lambda stats: stats.error_rate_percent,
        show=_percent, show_delta=lambda value: f"+{value:g} points", needs_latency=False),
    "latency-p99": MetricKind(
        label="p99 latency", value_of=lambda stats: stats.p99_ms,
        show=lambda value: f"{value:.0f} ms", show_delta=lambda value: f"+{value:g} ms",
        needs_latency=True),
    LB_ERROR_RATE: MetricKind(
        label="the load balancer's own 5xx answers (HTTPCode_ELB_5XX_Count)",
        value_of=lambda stats: stats.error_rate_percent, show=_percent,
        show_delta=lambda value: f"+{value:g} points", needs_latency=False,
        load_balancer=True, where="answered by the load balancer",
        seen="{label} are {value} of {requests} since {since}"),
}


class Increase(BaseModel):
    """How much worse than the old colour the new one may be."""

    model_config = ConfigDict(frozen=True)

    amount: float = Field(ge=0)
    relative: bool

    def threshold(self, baseline: float) -> float:
        return baseline * (1 + self.amount / 100) if self.relative else baseline + self.amount

    def describe(self, kind: MetricKind) -> str:
        return f"+{self.amount:g}%" if self.relative else kind.show_delta(self.amount)


class MetricSettings(GateSettings):
    metric: MetricName
    max_increase: Increase | None = None
    max: float | None = Field(default=None, ge=0)
    min_samples: int = Field(default=100, ge=1)
    window: Duration = Field(default=300.0, gt=0, description="seconds")

    @field_validator("max_increase", mode="before")
    @classmethod
    def _increase(cls, value: Any) -> Any:
        if value is None or isinstance(value, Increase):
            return value
        amount, relative = parse_amount(value, "the old colour's value")
        return Increase(amount=amount, relative=relative)

    @field_validator("max_increase", mode="after")
    @classmethod
    def _comparable(cls, value: Increase | None, info: ValidationInfo) -> Increase | None:
        if value is not None and info.data.get("metric") == LB_ERROR_RATE:
            raise ValueError("lb-error-rate has no old colour to compare with (the load "
                             "balancer answers for both colours): set max only")
        return value

    @model_validator(mode="after")
    def _has_threshold(self) -> MetricSettings:
        if self.metric == LB_ERROR_RATE and self.max is None:
            raise ValueError("lb-error-rate needs max: the highest share of requests, in %, "
                             "the load balancer may answer with its own 5xx")
        if self.max_increase is None and self.max is None:
            raise ValueError("set max_increase (compared with the old colour) and/or max")
        return self


def _requests(count: float) -> str:
    return f"{count:.0f} request{'' if round(count) == 1 else 's'}"


def _too_few(where: str, stats: TrafficStats, need: int, since: str) -> str:
    if stats.requests <= 0:
        return f"no requests {where} since {since}, need {need}"
    return f"only {_requests(stats.requests)} {where} since {since}, need {need}"


def judge_metric(gate: str, settings: MetricSettings, new_colour: Colour, new: TrafficStats,
                 old_colour: Colour, old: TrafficStats | None, since: str) -> GateResult:
    """The verdict from the numbers alone (no AWS): inconclusive without enough data,
    fail above a threshold, pass otherwise."""
    kind = METRICS[settings.metric]

    def result(verdict: Verdict, reason: str, observed: float | None = None,
               threshold: float | None = None) -> GateResult:
        return GateResult(gate=gate, verdict=verdict, reason=reason, metric=settings.metric,
                          observed=observed, threshold=threshold)

    where = kind.where.format(colour=new_colour)
    if new.requests < settings.min_samples:
        return result(Verdict.INCONCLUSIVE, _too_few(where, new, settings.min_samples, since))
    observed = kind.value_of(new)
    if observed is None:
        return result(Verdict.INCONCLUSIVE,
                      f"no response time data on {new_colour} since {since}")
    label = kind.label
    if new.p99_is_upper_bound and kind.needs_latency:
        label += " (maximum used as upper bound: CloudWatch returned no percentile)"
    seen = kind.seen.format(label=label, where=where, value=kind.show(observed),
                            requests=_requests(new.requests), since=since)
    if settings.max is not None and observed > settings.max:
        return result(Verdict.FAIL, f"{seen}, above the maximum {kind.show(settings.max)}",
                      observed, settings.max)
    limits = [] if settings.max is None else [settings.max]
    compared = ""
    if settings.max_increase is not None:
        old = old or TrafficStats(0, 0)
        if old.requests < settings.min_samples:
            return result(Verdict.INCONCLUSIVE, _too_few(
                f"on {old_colour} (the old colour)", old, settings.min_samples, since)
                + " to compare against")
        baseline = kind.value_of(old)
        if baseline is None:
            return result(Verdict.INCONCLUSIVE, f"no response time data on {old_colour} "
                          f"(the old colour) since {since} to compare against")
        allowed = settings.max_increase.threshold(baseline)
        compared = f" vs {kind.show(baseline)} on {old_colour}"
        if observed > allowed:
            return result(Verdict.FAIL, f"{seen}{compared}, more than the allowed "
                          f"{settings.max_increase.describe(kind)} (at most {kind.show(allowed)})",
                          observed, allowed)
        limits.append(allowed)
    threshold = min(limits)
    return result(Verdict.PASS, f"{seen}{compared}, within {kind.show(threshold)}",
                  observed, threshold)


class MetricGate:
    """Compares the new colour with the old from the ALB target group metrics, or judges
    the load balancer's own 5xx from its load-balancer-wide metrics."""

    waits_for_human = False

    def __init__(self, settings: MetricSettings) -> None:
        self.name = settings.name or f"metric {settings.metric}"
        self.settings = settings

    def window(self, context: GateContext) -> MetricWindow:
        """The last ``window`` before now, but never before the rollout started: earlier
        traffic on the new colour was not the new version."""
        now = as_utc(context.now)
        start = max(now - timedelta(seconds=self.settings.window),
                    as_utc(context.rollout_started_at))
        return MetricWindow(min(start, now), now)

    def check(self, context: GateContext) -> GateResult:
        window = self.window(context)
        kind = METRICS[self.settings.metric]
        colours = [context.new_colour]
        if self.settings.max_increase is not None:
            colours.append(context.old_colour)
        try:
            if kind.load_balancer:
                traffic = {context.new_colour: LoadBalancerMetrics(
                    context.clients, context.cohort).traffic(window)}
            else:
                traffic = TargetGroupMetrics(context.clients, context.cohort).traffic(
                    colours, window, latency=kind.needs_latency)
        except CloudWatchUnavailable as exc:
            return GateResult(gate=self.name, verdict=Verdict.INCONCLUSIVE, reason=str(exc),
                              metric=self.settings.metric)
        return judge_metric(self.name, self.settings, context.new_colour,
                            traffic[context.new_colour], context.old_colour,
                            traffic.get(context.old_colour), window.since_text)


@GATES.register("metric")
def metric_gate(settings: Mapping[str, Any]) -> MetricGate:
    """Raises pydantic's ValidationError; :mod:`rollout.gates.load` turns it into BadInput."""
    return MetricGate(MetricSettings.model_validate(settings))
