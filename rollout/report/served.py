"""Read what each colour's target group served during a rollout, from CloudWatch.

The AWS edge of the requests chart: ``RequestCount`` and ``HTTPCode_Target_5XX_Count``
(Sum) of ``AWS/ApplicationELB``, under the dimensions the gates read
(:func:`rollout.gates.cloudwatch_stats.elb_dimensions`), one ``GetMetricStatistics``
call per colour and metric over a :class:`~rollout.report.served_window.ServedWindow`.
So the chart shows the numbers the gates decided on, whether a real ALB or the local
data plane published them.

Real ALBs publish at one-minute resolution, the local data plane at one second. A
sub-minute read that finds nothing is asked again in minutes, and minute datapoints
that come back from a sub-minute read are labelled as minutes
(:func:`~rollout.report.served_window.resolution_of`), so neither is drawn as seconds.
"""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.gates.cloudwatch_stats import (
    ERRORS_5XX,
    NAMESPACE,
    REQUESTS,
    CloudWatchUnavailable,
    elb_dimensions,
)
from rollout.report.model import ServedPoint, ServedSeries
from rollout.report.served_window import ServedWindow, resolution_of
from rollout.vocabulary.clock import as_utc
from rollout.vocabulary.colours import COLOURS, Colour


class ServedReader:
    """Reads one cohort's requests per colour (in the cohort's region)."""

    def __init__(self, clients: AwsClients, cohort: CohortResources) -> None:
        self._cloudwatch = clients.client("cloudwatch")
        self._cohort = cohort

    def read(self, window: ServedWindow) -> ServedSeries:
        """Requests and target 5xx per colour and period; :class:`CloudWatchUnavailable`
        when CloudWatch cannot be read (the report then says so instead of charting)."""
        try:
            series = self._read(window)
            coarser = window.coarser()
            if not series.points and coarser is not None:
                minutes = self._read(coarser)
                series = minutes if minutes.points else series
        except (ClientError, BotoCoreError) as exc:
            raise CloudWatchUnavailable(f"could not read CloudWatch metrics: {exc}") from None
        return series

    def _read(self, window: ServedWindow) -> ServedSeries:
        points: list[ServedPoint] = []
        for colour in COLOURS:
            if colour not in self._cohort.target_group_arns:
                continue
            requests = self._sums(REQUESTS, colour, window)
            errors = self._sums(ERRORS_5XX, colour, window)
            points += [ServedPoint(at=at, colour=colour, requests=requests.get(at, 0.0),
                                   errors_5xx=errors.get(at, 0.0))
                       for at in sorted(requests.keys() | errors.keys())]
        period = resolution_of(sorted({p.at for p in points}), window.period_seconds)
        return ServedSeries(period_seconds=period, start=window.start, end=window.end,
                            points=sorted(points, key=lambda p: (p.at, p.colour)))

    def _sums(self, metric: str, colour: Colour, window: ServedWindow) -> dict[datetime, float]:
        answer = self._cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE, MetricName=metric,
            Dimensions=elb_dimensions(self._cohort, colour), StartTime=window.start,
            EndTime=window.end, Period=window.period_seconds, Statistics=["Sum"])
        return {as_utc(point["Timestamp"]): float(point["Sum"])
                for point in answer.get("Datapoints", []) if "Sum" in point}
