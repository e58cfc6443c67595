"""Which span and period to ask CloudWatch for when charting what a cohort's colours served.

Pure: events and "now" in, a :class:`ServedWindow` out, so the rules CloudWatch sets
are tested without it. The span is the cohort's latest rollout, from its ``started``
event to its outcome (promoted, rolled back, aborted) and a few seconds more, so the
last step's traffic shows; a rollout still going is read up to now. Events recorded
after the outcome (carrying config back, scaling the old colour down after its warm
hour) would only stretch the chart and squeeze the rollout into its left edge.

The period is the smallest CloudWatch answers for that span:

- one second (or 5, 10, 30) while the span starts less than three hours ago, the time
  CloudWatch keeps high-resolution (``StorageResolution=1``) data, as the local data
  plane publishes it;
- otherwise a multiple of a minute, of five minutes past 15 days, of an hour past 63
  days (what CloudWatch keeps at each age);

and never more than :data:`MAX_POINTS` periods, what one ``GetMetricStatistics`` call
may return.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rollout.report.model import ReportEvent

TAIL = timedelta(seconds=5)
MAX_SPAN = timedelta(days=2)
"""A rollout left running for weeks charts its last two days."""
MAX_POINTS = 1440
HIGH_RESOLUTION_KEPT = timedelta(hours=3)
SUB_MINUTE = (1, 5, 10, 30)
MINUTE = 60
_COARSER_WITH_AGE = ((timedelta(days=63), 3600), (timedelta(days=15), 300))
OUTCOMES = frozenset({"promoted", "rolled_back", "aborted"})


@dataclass(frozen=True)
class ServedWindow:
    """``[start, end)`` in whole periods of ``period_seconds``."""

    start: datetime
    end: datetime
    period_seconds: int

    @classmethod
    def aligned(cls, start: datetime, end: datetime, period: int) -> ServedWindow:
        """Whole periods since the epoch, as CloudWatch stamps its datapoints."""
        first = math.floor(start.timestamp() / period) * period
        last = max(math.ceil(end.timestamp() / period) * period, first + period)
        return cls(datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(last, UTC), period)

    @property
    def points(self) -> int:
        return round((self.end - self.start).total_seconds() / self.period_seconds)

    def coarser(self) -> ServedWindow | None:
        """The same span in minutes, for a metric CloudWatch holds at standard resolution
        only (as real ALBs publish theirs); None when already in minutes or more."""
        if self.period_seconds >= MINUTE:
            return None
        return ServedWindow.aligned(self.start, self.end, MINUTE)


def latest_rollout(events: Iterable[ReportEvent]) -> list[ReportEvent]:
    """The events from the latest ``started`` on, oldest first; empty without one."""
    ordered = sorted(events, key=lambda e: (e.at, e.seq))
    starts = [index for index, event in enumerate(ordered) if event.kind == "started"]
    return ordered[starts[-1]:] if starts else []


def _span(rollout: Sequence[ReportEvent], now: datetime) -> tuple[datetime, datetime]:
    outcomes = [event.at for event in rollout if event.kind in OUTCOMES]
    end = outcomes[-1] + TAIL if outcomes else max(rollout[-1].at + TAIL, now)
    return max(rollout[0].at, end - MAX_SPAN), end


def _candidates(start: datetime, end: datetime, now: datetime) -> Iterable[int]:
    if now - start <= HIGH_RESOLUTION_KEPT:
        yield from SUB_MINUTE
    unit = next((rounding for age, rounding in _COARSER_WITH_AGE if now - start > age), MINUTE)
    multiple = max(1, math.ceil((end - start).total_seconds() / MAX_POINTS / unit))
    while True:
        yield unit * multiple
        multiple += 1


def served_window(events: Iterable[ReportEvent], now: datetime) -> ServedWindow | None:
    """What to read for the latest rollout in ``events``, or None when there is none."""
    rollout = latest_rollout(events)
    if not rollout:
        return None
    start, end = _span(rollout, now)
    for period in _candidates(start, end, now):
        window = ServedWindow.aligned(start, end, period)
        if window.points <= MAX_POINTS:
            return window
    raise AssertionError("unreachable: periods grow without bound")


def resolution_of(moments: Sequence[datetime], asked: int) -> int:
    """The period the datapoints really have: asked for seconds of a metric kept in
    minutes, CloudWatch may hand back one datapoint a minute, which must not be drawn
    (or labelled) as one second's requests."""
    if asked >= MINUTE or len(moments) < 2:
        return asked
    if all(moment.timestamp() % MINUTE == 0 for moment in moments):
        return MINUTE
    return asked
