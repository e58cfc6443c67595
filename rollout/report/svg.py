"""The traffic chart as inline SVG: one stepped line per cohort, markers, axes and a legend.

Pure and self-contained: no scripts, fonts, images or stylesheets to fetch, so
the report opens anywhere, offline. Hover text comes from SVG ``<title>``
elements, which browsers show without JavaScript. Every series is a
``<g data-series="<cohort>">`` holding its path and markers, so a reader (or a
test) can pick out one cohort's line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

from rollout.report.timeline import CohortTimeline, Marker, MarkerKind, TimeRange, time_range

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
           "#ff9da7", "#bab0ac", "#1f3b73")
"""Cohort colours (Tableau 10 without its red, which is kept for rollbacks)."""

ROLLBACK_RED = "#d62728"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
              43200, 86400, 172800, 604800, 1209600, 2592000)
"""Candidate seconds between time ticks; the smallest giving at most MAX_TICKS wins."""
MAX_TICKS = 8


@dataclass(frozen=True)
class ChartBox:
    """Pixel geometry of the chart."""

    width: int = 960
    height: int = 380
    left: int = 64
    right: int = 44
    top: int = 20
    bottom: int = 56
    legend_row: int = 22

    def plot(self, legend_rows: int) -> tuple[float, float, float, float]:
        """x0, y0 (top), x1, y1 (bottom) of the plotting area below the legend."""
        top = self.top + legend_rows * self.legend_row + 8
        return (self.left, top, self.width - self.right, self.height - self.bottom)


def colour_of(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def tick_step(seconds: float) -> int:
    return next((s for s in TICK_STEPS if seconds / s <= MAX_TICKS), TICK_STEPS[-1])


def time_ticks(span: TimeRange) -> list[datetime]:
    """Round moments (multiples of the tick step since the epoch) inside ``span``."""
    step = tick_step(span.seconds)
    epoch = span.start.timestamp()
    first = (int(epoch) // step + (0 if epoch % step == 0 else 1)) * step
    ticks: list[datetime] = []
    moment = float(first)
    while moment <= span.end.timestamp():
        ticks.append(datetime.fromtimestamp(moment, UTC))
        moment += step
    return ticks


def tick_label(moment: datetime, step: int) -> str:
    moment = moment.astimezone(UTC)
    if step < 60:
        return moment.strftime("%H:%M:%S")
    if step < 86400:
        return moment.strftime("%H:%M")
    return moment.strftime("%d %b")


class _Scale:
    def __init__(self, span: TimeRange, x0: float, y0: float, x1: float, y1: float) -> None:
        self.span, self.x0, self.y0, self.x1, self.y1 = span, x0, y0, x1, y1

    def x(self, moment: datetime) -> float:
        fraction = (moment - self.span.start).total_seconds() / self.span.seconds
        return self.x0 + fraction * (self.x1 - self.x0)

    def y(self, percent: float) -> float:
        return self.y1 - percent / 100.0 * (self.y1 - self.y0)


def _legend(timelines: Sequence[CohortTimeline], box: ChartBox) -> tuple[list[str], int]:
    """Legend items, wrapped onto rows; returns the SVG and the number of rows."""
    parts: list[str] = []
    x, row = float(box.left), 0
    items = [(t.cohort + (" (no rollout yet)" if t.empty else ""), colour_of(i), t.cohort)
             for i, t in enumerate(timelines)]
    for label, colour, cohort in items:
        width = 44 + 7.2 * len(label)
        if x + width > box.width - box.right and x > box.left:
            x, row = float(box.left), row + 1
        y = box.top + row * box.legend_row
        parts.append(
            f'<g class="legend" data-legend="{escape(cohort)}">'
            f'<line x1="{_num(x)}" y1="{_num(y)}" x2="{_num(x + 22)}" y2="{_num(y)}" '
            f'stroke="{colour}" stroke-width="3" stroke-linecap="round"/>'
            f'<text x="{_num(x + 28)}" y="{_num(y + 4)}">{escape(label)}</text></g>')
        x += width
    return parts, row + 1


def _axes(scale: _Scale, box: ChartBox) -> list[str]:
    parts = ['<g class="axes">']
    for percent in (0, 25, 50, 75, 100):
        y = _num(scale.y(percent))
        parts.append(f'<line class="grid" x1="{_num(scale.x0)}" y1="{y}" x2="{_num(scale.x1)}" '
                     f'y2="{y}"/>')
        parts.append(f'<text class="tick" x="{_num(scale.x0 - 8)}" y="{y}" '
                     f'text-anchor="end" dominant-baseline="middle">{percent}%</text>')
    step = tick_step(scale.span.seconds)
    for moment in time_ticks(scale.span):
        x = _num(scale.x(moment))
        parts.append(f'<line class="tick-mark" x1="{x}" y1="{_num(scale.y1)}" x2="{x}" '
                     f'y2="{_num(scale.y1 + 5)}"/>')
        parts.append(f'<text class="tick" x="{x}" y="{_num(scale.y1 + 18)}" '
                     f'text-anchor="middle">{tick_label(moment, step)}</text>')
    parts.append(f'<line class="axis" x1="{_num(scale.x0)}" y1="{_num(scale.y1)}" '
                 f'x2="{_num(scale.x1)}" y2="{_num(scale.y1)}"/>')
    start = scale.span.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    parts.append(f'<text class="axis-label" x="{_num((scale.x0 + scale.x1) / 2)}" '
                 f'y="{box.height - 10}" text-anchor="middle">time (UTC), from {start}</text>')
    middle = _num((scale.y0 + scale.y1) / 2)
    parts.append(f'<text class="axis-label" x="16" y="{middle}" text-anchor="middle" '
                 f'transform="rotate(-90 16 {middle})">traffic on the new release</text>')
    parts.append("</g>")
    return parts


def _path(timeline: CohortTimeline, scale: _Scale) -> str:
    """Stepped path: weights hold until the next event; each rollout is its own stroke."""
    commands: list[str] = []
    segments = [s for s in timeline.segments if s]
    for index, segment in enumerate(segments):
        until = (segments[index + 1][0].at if index + 1 < len(segments)
                 else scale.span.end)
        first = segment[0]
        commands.append(f"M{_num(scale.x(first.at))} {_num(scale.y(first.percent))}")
        for point in segment[1:]:
            commands.append(f"H{_num(scale.x(point.at))} V{_num(scale.y(point.percent))}")
        commands.append(f"H{_num(scale.x(until))}")
    return " ".join(commands)


def _marker_shape(marker: Marker, colour: str) -> str:
    if marker.kind in (MarkerKind.ROLLED_BACK, MarkerKind.ABORTED):
        fill = ROLLBACK_RED if marker.kind == MarkerKind.ROLLED_BACK else "#6b7280"
        return (f'<circle r="8" fill="{fill}" stroke="#fff" stroke-width="1.5"/>'
                '<path d="M-3.5 -3.5 L3.5 3.5 M3.5 -3.5 L-3.5 3.5" stroke="#fff" '
                'stroke-width="2" stroke-linecap="round"/>')
    if marker.kind == MarkerKind.PROMOTED:
        return (f'<path d="M0 -7 L7 0 L0 7 L-7 0 Z" fill="{colour}" stroke="#1f2937" '
                'stroke-width="1.2"/>')
    if marker.kind == MarkerKind.PAUSED:
        return '<rect x="-5" y="-5" width="10" height="10" fill="#f59e0b" stroke="#fff"/>'
    if marker.kind == MarkerKind.GATE:
        return (f'<circle r="4.5" fill="#fff" stroke="{colour}" stroke-width="2"/>')
    return f'<circle r="3.5" fill="{colour}" stroke="#fff" stroke-width="1"/>'


def _marker(marker: Marker, colour: str, scale: _Scale) -> str:
    at = marker.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (f'<g class="marker" data-marker="{marker.kind.value}" '
            f'transform="translate({_num(scale.x(marker.at))} {_num(scale.y(marker.percent))})">'
            f"<title>{escape(at)}: {escape(marker.detail)}</title>"
            f"{_marker_shape(marker, colour)}</g>")


_KEY: tuple[tuple[MarkerKind, str], ...] = (
    (MarkerKind.STEP, "step"), (MarkerKind.GATE, "gate passed"),
    (MarkerKind.PAUSED, "paused"), (MarkerKind.PROMOTED, "promoted"),
    (MarkerKind.ROLLED_BACK, "rolled back"))


def marker_key() -> str:
    """A small SVG explaining the marker shapes, shown under the chart."""
    parts = ['<svg class="marker-key" width="520" '
             f'height="22" viewBox="0 0 520 22" font-family="{FONT}" font-size="12" '
             'role="img" aria-label="marker key">']
    x = 10.0
    for kind, label in _KEY:
        fake = Marker(datetime.min.replace(tzinfo=UTC), 0.0, kind, label)
        parts.append(f'<g transform="translate({_num(x)} 11)">'
                     f'{_marker_shape(fake, "#4b5563")}</g>'
                     f'<text x="{_num(x + 13)}" y="15" fill="#374151">{escape(label)}</text>')
        x += 26 + 7 * len(label) + 14
    parts.append("</svg>")
    return "".join(parts)


def render_chart(timelines: Sequence[CohortTimeline], box: ChartBox | None = None) -> str:
    """The chart as one ``<svg>`` element, ready to inline in HTML."""
    box = box or ChartBox()
    legend, rows = _legend(timelines, box)
    x0, y0, x1, y1 = box.plot(rows)
    span = time_range(timelines) or TimeRange(
        datetime.now(UTC), datetime.now(UTC) + timedelta(minutes=1))
    scale = _Scale(span, x0, y0, x1, y1)
    parts = [f'<svg class="chart" viewBox="0 0 {box.width} {box.height}" width="100%" role="img" '
             f'font-family="{FONT}" font-size="12" '
             'aria-label="traffic on the new release per cohort over time">',
             "<style>.grid{stroke:#e5e7eb;stroke-width:1}.axis{stroke:#9ca3af;stroke-width:1}"
             ".tick-mark{stroke:#9ca3af}.tick{fill:#6b7280}.axis-label{fill:#374151;"
             "font-weight:600}.legend text{fill:#111827}"
             ".series path.line{fill:none;stroke-width:2.5;stroke-linejoin:round}</style>",
             *legend, *_axes(scale, box)]
    if all(t.empty for t in timelines):
        parts.append(f'<text x="{_num((x0 + x1) / 2)}" y="{_num((y0 + y1) / 2)}" '
                     'text-anchor="middle" fill="#6b7280">no rollout recorded yet</text>')
    for index, timeline in enumerate(timelines):
        colour = colour_of(index)
        parts.append(f'<g class="series" data-series="{escape(timeline.cohort)}">'
                     f"<title>{escape(timeline.cohort)}</title>"
                     f'<path class="line" stroke="{colour}" d="{_path(timeline, scale)}"/>')
        parts.extend(_marker(m, colour, scale) for m in timeline.markers)
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
