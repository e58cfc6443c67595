"""The requests-served chart as inline SVG: stacked bars per colour and period, target 5xx
in red, the latest rollout's step boundaries as dashed lines and its gate verdicts as marks.

Pure: a :class:`~rollout.report.model.ServedSeries` and the cohort's events in, SVG text
out, no scripts or fonts (the page's Content-Security-Policy forbids them anyway). Every
bar, line and mark carries a ``<title>`` ("12:00:05 green: 30 requests"), which browsers
show on hover and screen readers read, and ``data-`` attributes a test can pick out.

The gate verdicts come from the events that carry them: a ``step`` after the first one
(the previous step's gates passed), ``approved`` (a person passed the manual gate),
``promoted`` (the last step's gates passed), ``paused`` (inconclusive, or waiting for a
person) and ``rolled_back`` with a ``failure`` (the gate that failed, with its numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from itertools import groupby

from rollout.report.model import GateOutcome, ReportEvent, ServedPoint, ServedSeries
from rollout.report.served_window import latest_rollout
from rollout.report.svg import FONT, tick_label, tick_step, time_ticks
from rollout.report.timeline import TimeRange, failure_text
from rollout.vocabulary.colours import COLOURS

FILLS = {"blue": "#2563eb", "green": "#16a34a"}
"""The page's own colours for the two colours (its CSS ``--blue`` and ``--green``)."""
ERROR_RED = "#dc2626"
OTHER_FILL = "#9ca3af"
BOUNDARY_STROKES = {"started": "#374151", "step": "#6b7280", "promoted": "#16a34a",
                    "rolled_back": "#dc2626", "aborted": "#6b7280"}


@dataclass(frozen=True)
class ServedBox:
    """Pixel geometry: a strip for the legend and the verdict marks above the bars."""

    width: int = 960
    height: int = 240
    left: int = 64
    right: int = 44
    top: int = 52
    bottom: int = 44


@dataclass(frozen=True)
class Boundary:
    """Where the weights changed or the rollout began or ended; ``detail`` is the event's."""

    at: datetime
    kind: str
    detail: str


@dataclass(frozen=True)
class VerdictMark:
    """A gate outcome the ledger recorded: ``pass``, ``fail`` or ``paused``."""

    at: datetime
    verdict: str
    detail: str


def boundaries(events: Sequence[ReportEvent]) -> list[Boundary]:
    return [Boundary(e.at, e.kind, e.message) for e in events if e.kind in BOUNDARY_STROKES]


def _verdict(event: ReportEvent) -> VerdictMark | None:
    step = event.data.get("step")
    if event.kind == "step" and isinstance(step, int) and step > 0:
        return VerdictMark(event.at, "pass", f"gates passed: {event.message}")
    if event.kind in ("approved", "promoted"):
        return VerdictMark(event.at, "pass", f"gates passed: {event.message}")
    if event.kind == "paused":
        return VerdictMark(event.at, "paused", f"paused: {event.message}")
    failure = event.data.get("failure")
    if event.kind == "rolled_back" and isinstance(failure, dict):
        try:
            return VerdictMark(event.at, "fail", failure_text(GateOutcome.model_validate(failure)))
        except ValueError:
            return VerdictMark(event.at, "fail", event.message)
    return None


def verdict_marks(events: Sequence[ReportEvent]) -> list[VerdictMark]:
    return [mark for mark in map(_verdict, events) if mark is not None]


def period_text(seconds: int) -> str:
    """``second``, ``minute``, ``5 s``, ``5 min``: what one bar covers."""
    named = {1: "second", 60: "minute", 3600: "hour"}
    if seconds in named:
        return named[seconds]
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (1 for nothing)."""
    if value <= 1:
        return 1.0
    power = 1.0
    while power * 10 < value:
        power *= 10
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def _px(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


class _Plot:
    """Time and request scales of one chart."""

    def __init__(self, series: ServedSeries, box: ServedBox, top: float) -> None:
        self.span = TimeRange(series.start, series.end)
        self.x0, self.y0 = float(box.left), float(box.top)
        self.x1, self.y1 = float(box.width - box.right), float(box.height - box.bottom)
        self.top = top
        self.labels = "%H:%M:%S" if self.span.seconds <= 86400 else "%d %b %H:%M:%S"

    def x(self, moment: datetime) -> float:
        fraction = (moment - self.span.start).total_seconds() / max(self.span.seconds, 1.0)
        return self.x0 + fraction * (self.x1 - self.x0)

    def height(self, requests: float) -> float:
        return requests / self.top * (self.y1 - self.y0)

    def when(self, moment: datetime) -> str:
        return moment.astimezone(UTC).strftime(self.labels)


def _bars(moment: datetime, points: Sequence[ServedPoint], plot: _Plot, period: int) -> str:
    """One period's stack: blue then green from the bottom, each with its 5xx in red at
    the foot of its own segment."""
    left, right = plot.x(moment), plot.x(moment + timedelta(seconds=period))
    gap = min(1.0, (right - left) * 0.2) if right - left > 2 else 0.0
    x, width = _px(left + gap / 2), _px(max(right - left - gap, 0.5))
    order: dict[str, int] = {colour: index for index, colour in enumerate(COLOURS)}
    parts: list[str] = []
    bottom = plot.y1
    for point in sorted(points, key=lambda p: order.get(p.colour, len(order))):
        height = plot.height(point.requests)
        colour = escape(point.colour)
        parts.append(f'<rect class="served-bar" data-colour="{colour}" x="{x}" '
                     f'y="{_px(bottom - height)}" width="{width}" height="{_px(height)}" '
                     f'fill="{FILLS.get(point.colour, OTHER_FILL)}"><title>{plot.when(moment)} '
                     f"{colour}: {_count(point.requests)} requests</title></rect>")
        if point.errors_5xx > 0:
            errors = plot.height(point.errors_5xx)
            parts.append(f'<rect class="served-bar errors" data-colour="{colour}" x="{x}" '
                         f'y="{_px(bottom - errors)}" width="{width}" height="{_px(errors)}" '
                         f'fill="{ERROR_RED}"><title>{plot.when(moment)} {colour}: '
                         f"{_count(point.errors_5xx)} 5xx responses</title></rect>")
        bottom -= height
    return "".join(parts)


def _axes(plot: _Plot, box: ServedBox, period: int) -> list[str]:
    parts = ['<g class="axes">']
    for value in ((0, plot.top / 2, plot.top) if plot.top % 2 == 0 else (0, plot.top)):
        y = _px(plot.y1 - plot.height(value))
        parts.append(f'<line class="grid" x1="{_px(plot.x0)}" y1="{y}" x2="{_px(plot.x1)}" '
                     f'y2="{y}"/><text class="tick" x="{_px(plot.x0 - 8)}" y="{y}" '
                     f'text-anchor="end" dominant-baseline="middle">{_count(value)}</text>')
    step = tick_step(plot.span.seconds)
    for moment in time_ticks(plot.span):
        x = _px(plot.x(moment))
        parts.append(f'<text class="tick" x="{x}" y="{_px(plot.y1 + 18)}" '
                     f'text-anchor="middle">{tick_label(moment, step)}</text>')
    parts.append(f'<line class="axis" x1="{_px(plot.x0)}" y1="{_px(plot.y1)}" '
                 f'x2="{_px(plot.x1)}" y2="{_px(plot.y1)}"/>')
    start = plot.span.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    parts.append(f'<text class="axis-label" x="{_px((plot.x0 + plot.x1) / 2)}" '
                 f'y="{box.height - 8}" text-anchor="middle">time (UTC), from {start}</text>')
    middle = _px((plot.y0 + plot.y1) / 2)
    parts.append(f'<text class="axis-label" x="16" y="{middle}" text-anchor="middle" '
                 f'transform="rotate(-90 16 {middle})">requests per {period_text(period)}</text>')
    parts.append("</g>")
    return parts


def _boundary(boundary: Boundary, plot: _Plot) -> str:
    x = _px(plot.x(boundary.at))
    return (f'<g class="boundary" data-boundary="{escape(boundary.kind)}">'
            f"<title>{plot.when(boundary.at)} {escape(boundary.detail)}</title>"
            f'<line x1="{x}" y1="{_px(plot.y0 - 6)}" x2="{x}" y2="{_px(plot.y1)}" '
            f'stroke="{BOUNDARY_STROKES[boundary.kind]}" stroke-width="1.5" '
            'stroke-dasharray="4 3"/></g>')


_SHAPES = {
    "pass": '<circle r="6" fill="#16a34a"/><path d="M-3 0 L-1 2.5 L3.5 -2.5" fill="none" '
            'stroke="#fff" stroke-width="1.8" stroke-linecap="round"/>',
    "fail": '<circle r="6" fill="#dc2626"/><path d="M-2.5 -2.5 L2.5 2.5 M2.5 -2.5 L-2.5 2.5" '
            'stroke="#fff" stroke-width="1.8" stroke-linecap="round"/>',
    "paused": '<rect x="-5" y="-5" width="10" height="10" rx="1.5" fill="#f59e0b"/>',
}


def _verdict_mark(mark: VerdictMark, plot: _Plot) -> str:
    return (f'<g class="verdict" data-verdict="{mark.verdict}" '
            f'transform="translate({_px(plot.x(mark.at))} {_px(plot.y0 - 14)})">'
            f"<title>{plot.when(mark.at)} {escape(mark.detail)}</title>"
            f"{_SHAPES[mark.verdict]}</g>")


def _legend(box: ServedBox) -> str:
    items = [(f'<rect class="swatch" width="12" height="10" y="-8" fill="{FILLS["blue"]}"/>',
              "blue requests"),
             (f'<rect class="swatch" width="12" height="10" y="-8" fill="{FILLS["green"]}"/>',
              "green requests"),
             (f'<rect class="swatch" width="12" height="10" y="-8" fill="{ERROR_RED}"/>',
              "target 5xx"),
             ('<line x1="6" y1="-9" x2="6" y2="2" stroke="#6b7280" '
              'stroke-dasharray="3 2" stroke-width="1.5"/>', "step boundary"),
             (f'<g transform="translate(6 -3)">{_SHAPES["pass"]}</g>', "gates passed"),
             (f'<g transform="translate(6 -3)">{_SHAPES["paused"]}</g>', "paused"),
             (f'<g transform="translate(6 -3)">{_SHAPES["fail"]}</g>', "gate failed")]
    parts, x = ['<g class="legend">'], float(box.left)
    for shape, label in items:
        parts.append(f'<g transform="translate({_px(x)} 16)">{shape}'
                     f'<text x="18" y="0">{label}</text></g>')
        x += 30 + 6.8 * len(label)
    parts.append("</g>")
    return "".join(parts)


def render_served(series: ServedSeries, events: Sequence[ReportEvent],
                  box: ServedBox | None = None) -> str:
    """The chart as one ``<svg>`` element; ``events`` are the cohort's, of which the latest
    rollout's within the series' span are marked."""
    box = box or ServedBox()
    period = series.period_seconds
    stacks = [(moment, list(points)) for moment, points in
              groupby(sorted(series.points, key=lambda p: p.at), key=lambda p: p.at)]
    highest = max((sum(p.requests for p in points) for _, points in stacks), default=0.0)
    plot = _Plot(series, box, nice_ceiling(highest))
    rollout = [e for e in latest_rollout(events) if series.start <= e.at <= series.end]
    cohort = escape(events[0].cohort) if events else ""
    parts = [f'<svg class="served-chart" viewBox="0 0 {box.width} {box.height}" width="100%" '
             f'role="img" font-family="{FONT}" font-size="12" aria-label="requests per colour '
             f'per {period_text(period)} on cohort {cohort} during its latest rollout">',
             "<style>.grid{stroke:#e5e7eb;stroke-width:1}.axis{stroke:#9ca3af;stroke-width:1}"
             ".tick{fill:#6b7280}.axis-label{fill:#374151;font-weight:600}"
             ".legend text{fill:#111827}</style>",
             _legend(box), *_axes(plot, box, period)]
    if not stacks:
        parts.append(f'<text x="{_px((plot.x0 + plot.x1) / 2)}" y="{_px((plot.y0 + plot.y1) / 2)}"'
                     ' text-anchor="middle" fill="#6b7280">no traffic recorded</text>')
    parts.append('<g class="served-bars">')
    parts.extend(_bars(moment, points, plot, period) for moment, points in stacks)
    parts.append("</g>")
    parts.extend(_boundary(b, plot) for b in boundaries(rollout))
    parts.extend(_verdict_mark(m, plot) for m in verdict_marks(rollout))
    parts.append("</svg>")
    return "".join(parts)
