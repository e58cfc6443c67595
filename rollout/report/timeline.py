"""A cohort's history as a chart sees it: traffic share of the new release over time, and marks.

Pure: events in, points and markers out. The executor records weights as
``{colour: weight}``; which colour is "new" changes from one rollout to the next
(after a promotion the live colour flips), so each ``started`` event opens a new
*segment* and says which colour it is rolling out to. Weights hold between
events, so a chart draws the segment as steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from rollout.report.model import GateOutcome, ReportEvent

_STARTED_TO = re.compile(r"→ (blue|green) ")
"""Older ``started`` events name the new colour only in their message (``... → green (1.5.0)``)."""

MIN_SPAN = timedelta(seconds=5)


class MarkerKind(StrEnum):
    STARTED = "started"
    STEP = "step"
    GATE = "gate"
    PAUSED = "paused"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"
    PROMOTED = "promoted"
    RECONCILED = "reconciled"


_MARKED: dict[str, MarkerKind] = {
    "started": MarkerKind.STARTED, "step": MarkerKind.STEP, "preflight": MarkerKind.GATE,
    "hook": MarkerKind.GATE,
    "paused": MarkerKind.PAUSED, "rolled_back": MarkerKind.ROLLED_BACK,
    "aborted": MarkerKind.ABORTED, "promoted": MarkerKind.PROMOTED,
    "reconciled": MarkerKind.RECONCILED,
}


@dataclass(frozen=True)
class WeightPoint:
    """From ``at`` on, ``percent`` of the cohort's traffic goes to the release being rolled out."""

    at: datetime
    percent: float


@dataclass(frozen=True)
class Marker:
    """Something worth pointing at on the chart; ``detail`` is the event's own message."""

    at: datetime
    percent: float
    kind: MarkerKind
    detail: str


@dataclass
class CohortTimeline:
    """One cohort's series: one segment per rollout, plus its markers."""

    cohort: str
    segments: list[list[WeightPoint]] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(self.segments)

    def moments(self) -> list[datetime]:
        return [p.at for s in self.segments for p in s] + [m.at for m in self.markers]


def new_colour_of(event: ReportEvent) -> str | None:
    """The colour a ``started`` event rolls out to: from its data, else from its message."""
    colour = event.data.get("new_colour")
    if isinstance(colour, str):
        return colour
    found = _STARTED_TO.search(event.message)
    return found.group(1) if found else None


def share_of(weights: Mapping[str, Any], colour: str) -> float | None:
    """Percent of traffic on ``colour``; None when the weights are unusable."""
    try:
        values = {str(k): float(v) for k, v in weights.items()}
    except (TypeError, ValueError):
        return None
    total = sum(values.values())
    if total <= 0:
        return None
    return 100.0 * values.get(colour, 0.0) / total


def evidence_text(failure: GateOutcome) -> str:
    """``metric 12 > threshold 10``, or nothing when the gate measured no number."""
    if failure.observed is None or failure.threshold is None:
        return ""
    return f"{failure.metric or 'value'} {failure.observed:g} > threshold {failure.threshold:g}"


def failure_text(failure: GateOutcome) -> str:
    """``gate alarm failed: metric 12 > threshold 10; reason``, what a rollback note says."""
    evidence = evidence_text(failure)
    return f"gate {failure.gate} failed: {evidence + '; ' if evidence else ''}{failure.reason}"


def _detail(event: ReportEvent) -> str:
    """The event's message, plus the failed gate's numbers (the message names only the gate)."""
    failure = event.data.get("failure")
    if event.kind != "rolled_back" or not isinstance(failure, dict):
        return event.message
    try:
        evidence = evidence_text(GateOutcome.model_validate(failure))
    except ValueError:
        return event.message
    return f"{event.message} ({evidence})" if evidence else event.message


def cohort_timeline(cohort: str, events: Iterable[ReportEvent],
                    fallback_new_colour: str | None = None) -> CohortTimeline:
    """Turn a cohort's events into its series.

    ``fallback_new_colour`` (the current state's new colour) covers a history
    whose ``started`` event names no colour at all.
    """
    timeline = CohortTimeline(cohort)
    new_colour: str | None = fallback_new_colour
    segment: list[WeightPoint] | None = None
    percent = 0.0
    for event in sorted(events, key=lambda e: (e.at, e.seq)):
        if event.kind == "started":
            new_colour = new_colour_of(event) or fallback_new_colour
            percent = 0.0
            segment = [WeightPoint(event.at, percent)]
            timeline.segments.append(segment)
        before = percent
        weights = event.data.get("weights")
        if isinstance(weights, Mapping) and new_colour is not None:
            share = share_of(weights, new_colour)
            if share is not None:
                percent = share
                if segment is None:
                    segment = []
                    timeline.segments.append(segment)
                segment.append(WeightPoint(event.at, percent))
        kind = _MARKED.get(event.kind)
        if kind is not None:
            where = before if kind in (MarkerKind.ROLLED_BACK, MarkerKind.ABORTED) else percent
            timeline.markers.append(Marker(event.at, where, kind, _detail(event)))
    return timeline


@dataclass(frozen=True)
class TimeRange:
    """The span a chart covers."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def time_range(timelines: Sequence[CohortTimeline]) -> TimeRange | None:
    """From the first event to a little after the last, so the last step stays visible.

    The range ends at the events, not at "now": a report made a week after a
    rollout would otherwise squeeze the whole rollout into its left edge.
    """
    moments = [m for t in timelines for m in t.moments()]
    if not moments:
        return None
    start, end = min(moments), max(moments)
    span = max(end - start, MIN_SPAN)
    return TimeRange(start, start + span + span / 20)
