"""Judge gate: a statistical comparison of the new colour with the old, after Kayenta.

Settings (YAML)::

    - kind: judge
      name: canary judge        # optional; default "judge"
      confidence: 0.95          # Mann-Whitney U at alpha = 1 - confidence
      window: 5m                # how far back to look (never before the step started)
      period: 1s                # one sample per period: 1s, 5s, 10s, 20s, 30s or whole minutes
      min_samples: 50           # per metric and colour; fewer is NoData
      pass: 95                  # score >= pass passes
      marginal: 75              # score >= marginal is inconclusive (the step holds); lower fails
      metrics:
        - {metric: latency, direction: increase, tolerance: "10%", critical: true,
           must_have_data: true, weight: 2}
        - {metric: error-rate, direction: increase, tolerance: 0.5}
        - {metric: cloudwatch, namespace: MyApp, metric_name: QueueDelay, stat: Average,
           label: queue delay, dimensions: {Service: api}, colour_dimensions: [TargetGroup]}

Per metric: ``direction`` (``increase``, the default, ``decrease`` or ``both``: which
change is bad), ``tolerance`` (how far the new colour's median may move the bad way: an
absolute amount in the metric's unit, or ``"10%"`` of the old colour's median; default
0), ``critical`` (High or Low fails the gate whatever the score), ``must_have_data``
(NoData fails the gate once a whole ``window`` has passed since the step started; until
then it holds), ``weight`` (its share of the score; default 1) and ``label`` (its name in
reasons; labels must differ). :mod:`rollout.gates.judgement` has the rules.

**Samples.** A sample is one CloudWatch ``period`` of one colour: by default one
second, as ALB-style high-resolution data (``StorageResolution: 1``, which the local
data plane publishes) allows, so a 5m window holds up to 300 samples per colour.
CloudWatch answers periods under a minute only for high-resolution metrics and for the
last three hours, so a longer window reads one-minute periods. A real ALB publishes its
own metrics per minute: set ``period: 1m``, and as one minute is one sample, a
``window`` of at least 50 minutes. ``min_samples`` defaults to 50, Spinnaker's
recommended minimum for the U test to mean anything; fewer samples on either colour is
NoData, and a judgement with NoData everywhere is inconclusive, never a pass.

- ``latency``: ``TargetResponseTime`` ``Average`` per period, in ms;
- ``error-rate``: ``HTTPCode_Target_5XX_Count`` per ``RequestCount`` per period, in
  percent, over the periods with requests;
- ``cloudwatch``: any metric's ``stat`` (``Average``, ``Sum``, ``Minimum``, ``Maximum``
  or ``SampleCount``; default ``Average``) per period, under the colour's
  ``colour_dimensions`` (default both ``TargetGroup`` and ``LoadBalancer``, as ALB
  publishes) plus any fixed ``dimensions``. CloudWatch matches dimensions exactly.

CloudWatch that cannot be read makes the gate inconclusive, never a pass.

**Steps that do not split traffic.** At 100% the old colour serves nothing, so there is
no baseline: the judge passes such a step saying so, as canary analysis does in Argo
Rollouts and Flagger (it runs while traffic is split), and the cohort's other gates
(alarms, the SLA) guard the final bake. Without this a judge on a cohort could never
promote: its last step would hold, then pause, for data that cannot come.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, field_validator, model_validator

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.gates.base import GATES, GateContext, GateResult, Verdict
from rollout.gates.cloudwatch_stats import (
    ERRORS_5XX,
    NAMESPACE,
    REQUESTS,
    RESPONSE_TIME,
    CloudWatchUnavailable,
    MetricWindow,
    elb_dimensions,
)
from rollout.gates.judgement import Criteria, JudgementRules, MetricSamples, judge
from rollout.gates.load import GateSettings
from rollout.vocabulary.clock import as_utc
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.durations import Duration

SourceName = Literal["latency", "error-rate", "cloudwatch"]
Statistic = Literal["Average", "Sum", "Minimum", "Maximum", "SampleCount"]
ColourDimension = Literal["TargetGroup", "LoadBalancer"]
CLOUDWATCH = "cloudwatch"
MAX_METRICS = 100
"""Two colours and at most two queries each: within GetMetricData's 500 queries a call."""

# One-second data is kept for three hours, one-minute data for 15 days, five-minute data
# for 63 days; a query starting further back must use a coarser period.
_SAMPLE_PERIODS = ((timedelta(days=63), 3600), (timedelta(days=15), 300),
                   (timedelta(hours=3), 60))
_SHORT_PERIODS = (1.0, 5.0, 10.0, 20.0, 30.0)
_ONLY_CLOUDWATCH = ("namespace", "metric_name", "stat", "dimensions", "colour_dimensions")


def _alb_dimensions() -> list[ColourDimension]:
    return ["TargetGroup", "LoadBalancer"]


class JudgedMetric(Criteria):
    """One metric of a judge gate: where its samples come from, and how it is judged."""

    metric: SourceName
    label: str | None = Field(default=None, min_length=1)
    namespace: str | None = Field(default=None, min_length=1, max_length=255)
    metric_name: str | None = Field(default=None, min_length=1, max_length=255)
    stat: Statistic = "Average"
    dimensions: dict[str, str] = Field(default_factory=dict, max_length=28)
    colour_dimensions: list[ColourDimension] = Field(default_factory=_alb_dimensions)

    @model_validator(mode="after")
    def _source(self) -> JudgedMetric:
        if self.metric == CLOUDWATCH:
            if self.namespace is None or self.metric_name is None:
                raise ValueError("a cloudwatch metric needs namespace and metric_name")
            if "TargetGroup" not in self.colour_dimensions:
                raise ValueError("colour_dimensions must include TargetGroup: without it "
                                 "both colours would read the same series")
            clash = set(self.dimensions) & set(self.colour_dimensions)
            if clash:
                raise ValueError(f"dimensions {sorted(clash)} are the colour's: leave them "
                                 "to colour_dimensions")
            return self
        extra = [name for name in _ONLY_CLOUDWATCH if name in self.model_fields_set]
        if extra:
            raise ValueError(f"{', '.join(extra)}: only for metric: cloudwatch "
                             f"({self.metric} is read from the target group's ALB metrics)")
        return self

    @property
    def shown_as(self) -> str:
        """The metric's name in reasons."""
        if self.label is not None:
            return self.label
        return self.metric_name if self.metric_name is not None else self.metric

    @property
    def unit(self) -> str:
        return {"latency": " ms", "error-rate": "%"}.get(self.metric, "")


class JudgeSettings(GateSettings, JudgementRules):
    window: Duration = Field(default=300.0, gt=0, description="seconds")
    period: Duration = Field(default=1.0, description="seconds")
    metrics: list[JudgedMetric] = Field(min_length=1, max_length=MAX_METRICS)

    @field_validator("period")
    @classmethod
    def _period(cls, seconds: float) -> float:
        if seconds in _SHORT_PERIODS or (seconds >= 60 and seconds % 60 == 0):
            return seconds
        raise ValueError("CloudWatch periods are 1s, 5s, 10s, 20s, 30s or whole minutes, "
                         f"got {seconds:g}s")

    @model_validator(mode="after")
    def _distinct(self) -> JudgeSettings:
        labels = [metric.shown_as for metric in self.metrics]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"metrics {twice} appear twice: give each a distinct label")
        return self


def sample_period(window: MetricWindow, wanted: float = 1.0) -> int:
    """The ``wanted`` period, or the shortest CloudWatch still keeps for the window's start
    if that is longer (gate windows end now, so their length is how far back they start)."""
    for age, period in _SAMPLE_PERIODS:
        if window.end - window.start > age:
            return max(period, math.ceil(wanted / period) * period)
    return int(wanted)


@dataclass(frozen=True)
class SeriesQuery:
    """One CloudWatch series of one metric and colour; ``part`` tells the series of a
    metric apart (``value``, or ``requests`` and ``errors`` for the error rate)."""

    index: int
    colour: Colour
    part: str
    namespace: str
    name: str
    stat: str
    dimensions: list[dict[str, str]]

    @property
    def query_id(self) -> str:
        return f"m{self.index}_{self.colour}_{self.part}"

    def as_query(self, period: int) -> dict[str, Any]:
        return {"Id": self.query_id, "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": self.namespace, "MetricName": self.name,
                       "Dimensions": self.dimensions},
            "Period": period, "Stat": self.stat}}


Series = dict[datetime, float]


class ColourSamples:
    """Reads every judged metric's per-period samples of both colours in one call."""

    def __init__(self, clients: AwsClients, cohort: CohortResources) -> None:
        self._cloudwatch = clients.client("cloudwatch")
        self._cohort = cohort

    def _queries(self, index: int, metric: JudgedMetric, colour: Colour) -> list[SeriesQuery]:
        alb = elb_dimensions(self._cohort, colour)
        if metric.metric == "latency":
            return [SeriesQuery(index, colour, "value", NAMESPACE, RESPONSE_TIME, "Average",
                                alb)]
        if metric.metric == "error-rate":
            return [SeriesQuery(index, colour, "requests", NAMESPACE, REQUESTS, "Sum", alb),
                    SeriesQuery(index, colour, "errors", NAMESPACE, ERRORS_5XX, "Sum", alb)]
        assert metric.namespace is not None and metric.metric_name is not None
        own = [d for d in alb if d["Name"] in metric.colour_dimensions]
        fixed = [{"Name": name, "Value": value} for name, value in metric.dimensions.items()]
        return [SeriesQuery(index, colour, "value", metric.namespace, metric.metric_name,
                            metric.stat, own + fixed)]

    def read(self, metrics: list[JudgedMetric], colours: tuple[Colour, Colour],
             window: MetricWindow, period: int) -> dict[tuple[int, Colour], list[float]]:
        """(metric index, colour) → samples, one per ``period`` with data."""
        queries = [query for index, metric in enumerate(metrics) for colour in colours
                   for query in self._queries(index, metric, colour)]
        try:
            series = self._series(queries, window, period)
        except (ClientError, BotoCoreError) as exc:
            raise CloudWatchUnavailable(f"could not read CloudWatch metrics: {exc}") from None
        return {(index, colour): samples_of(metric, {
                    query.part: series.get(query.query_id, {})
                    for query in self._queries(index, metric, colour)})
                for index, metric in enumerate(metrics) for colour in colours}

    def _series(self, queries: list[SeriesQuery], window: MetricWindow, period: int
                ) -> dict[str, Series]:
        found: dict[str, Series] = {}
        pages = self._cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=[query.as_query(period) for query in queries],
            StartTime=window.start, EndTime=window.query_end())
        for page in pages:
            for result in page["MetricDataResults"]:
                series = found.setdefault(result["Id"], {})
                for at, value in zip(result.get("Timestamps", []), result.get("Values", []),
                                     strict=False):
                    if value is not None:
                        series[at] = float(value)
        return found


def samples_of(metric: JudgedMetric, parts: Mapping[str, Series]) -> list[float]:
    """One metric's samples of one colour from its series (by :attr:`SeriesQuery.part`),
    in the metric's unit. ALB publishes no zero count, so a period with requests and no
    5xx datapoint had no errors, and a period without requests is no sample."""
    if metric.metric == "latency":
        return [1000.0 * value for value in parts["value"].values()]
    if metric.metric == "error-rate":
        errors = parts["errors"]
        return [100.0 * errors.get(at, 0.0) / requests
                for at, requests in parts["requests"].items() if requests > 0]
    return list(parts["value"].values())


class JudgeGate:
    """Mann-Whitney U per metric between the colours' samples, scored as Kayenta does."""

    waits_for_human = False

    def __init__(self, settings: JudgeSettings) -> None:
        self.name = settings.name or "judge"
        self.settings = settings

    def window(self, context: GateContext) -> tuple[MetricWindow, bool]:
        """The last ``window`` before now, never before the step started (earlier samples
        were another step's traffic), and whether it is the whole ``window``."""
        now = as_utc(context.now)
        wanted = now - timedelta(seconds=self.settings.window)
        step = as_utc(context.step_started_at)
        return MetricWindow(min(max(wanted, step), now), now), step <= wanted

    def check(self, context: GateContext) -> GateResult:
        if context.old_weight == 0:
            return GateResult(gate=self.name, verdict=Verdict.PASS, metric="score",
                              reason=f"{context.old_colour} serves no traffic at this step: "
                                     "nothing to compare with (the judge judges the steps "
                                     "that split traffic; the other gates guard this one)")
        window, complete = self.window(context)
        metrics = self.settings.metrics
        try:
            samples = ColourSamples(context.clients, context.cohort).read(
                metrics, (context.old_colour, context.new_colour), window,
                sample_period(window, self.settings.period))
        except CloudWatchUnavailable as exc:
            return GateResult(gate=self.name, verdict=Verdict.INCONCLUSIVE, reason=str(exc),
                              metric="score")
        judged = [MetricSamples(label=metric.shown_as, criteria=metric, unit=metric.unit,
                                old=samples[(index, context.old_colour)],
                                new=samples[(index, context.new_colour)])
                  for index, metric in enumerate(metrics)]
        judgement = judge(judged, self.settings, complete=complete)
        return GateResult(gate=self.name, verdict=Verdict(judgement.outcome.value),
                          reason=f"{judgement.reason} ({context.new_colour} vs "
                                 f"{context.old_colour} since {window.since_text})",
                          metric=judgement.metric, observed=judgement.observed,
                          threshold=judgement.threshold)


@GATES.register("judge")
def judge_gate(settings: Mapping[str, Any]) -> JudgeGate:
    """Raises pydantic's ValidationError; :mod:`rollout.gates.load` turns it into BadInput."""
    return JudgeGate(JudgeSettings.model_validate(settings))
