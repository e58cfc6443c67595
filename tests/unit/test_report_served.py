"""The requests-served chart from hand-made data: which span and period CloudWatch is asked
for, where bars, step boundaries and gate verdicts land, and what the page says without data."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollout.report.html import render_page
from rollout.report.model import (
    CohortReport,
    GateOutcome,
    ReportData,
    ReportEvent,
    ServedPoint,
    ServedSeries,
    summarize,
)
from rollout.report.served_svg import render_served
from rollout.report.served_window import (
    MAX_POINTS,
    ServedWindow,
    resolution_of,
    served_window,
)

T0 = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)
FAILURE = GateOutcome(gate="metric", verdict="fail", reason="5xx rate too high",
                      metric="error_rate_percent", observed=23, threshold=5)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(seq: int, seconds: float, kind: str, message: str = "", **data: Any) -> ReportEvent:
    return ReportEvent(cohort="wave1", seq=seq, at=at(seconds), actor="ci", kind=kind,
                       message=message or kind, data=data)


def rollout_events(start: float = 0) -> list[ReportEvent]:
    """Started, two steps (the second after the gates passed), rolled back by a gate."""
    return [
        event(1, start, "started", "rollout of 1.5.0 started: blue (1.4.2) → green (1.5.0)",
              new_colour="green", old_colour="blue"),
        event(2, start + 1, "step", "step 1/4: 25% to green (1.5.0)", step=0,
              weights={"blue": 75, "green": 25}),
        event(3, start + 3, "step", "step 2/4: 50% to green (1.5.0)", step=1,
              weights={"blue": 50, "green": 50}),
        event(4, start + 6, "rolled_back", "all traffic back on blue (1.4.2): gate metric failed",
              weights={"blue": 100, "green": 0}, failure=FAILURE.model_dump()),
    ]


def served(points: Sequence[tuple[float, str, float, float]], period: int = 1,
           seconds: float = 11) -> ServedSeries:
    return ServedSeries(period_seconds=period, start=T0, end=at(seconds), points=[
        ServedPoint(at=at(s), colour=c, requests=r, errors_5xx=e) for s, c, r, e in points])


TRAFFIC = [(4, "blue", 90, 0), (4, "green", 30, 0), (5, "blue", 60, 0), (5, "green", 60, 12)]


def rects(svg: str) -> dict[str, dict[str, str]]:
    """Each bar's title → its attributes."""
    found: dict[str, dict[str, str]] = {}
    for attrs, title in re.findall(r"<rect ([^>]*)><title>([^<]*)</title></rect>", svg):
        found[title] = dict(re.findall(r'([\w-]+)="([^"]*)"', attrs))
    return found


def boundary_xs(svg: str) -> dict[str, float]:
    """Each boundary's hover text → the x of its line."""
    return {title: float(x) for title, x in re.findall(
        r'<g class="boundary"[^>]*><title>([^<]*)</title><line x1="([\d.]+)"', svg)}


# ------------------------------------------------------------------ span and period
def test_window_covers_the_latest_rollout_from_its_start_to_its_outcome_and_a_few_seconds(
        ) -> None:
    earlier = rollout_events(start=-600)
    later = [*rollout_events(), event(9, 3600, "scaled_down", "blue scaled down")]
    window = served_window([*earlier, *later], now=at(3700))
    assert window == ServedWindow(start=T0, end=at(11), period_seconds=1)


def test_a_rollout_still_in_progress_is_read_up_to_now() -> None:
    window = served_window(rollout_events()[:3], now=at(20.5))
    assert window is not None
    assert (window.start, window.end, window.period_seconds) == (T0, at(21), 1)


def test_no_rollout_means_nothing_to_read() -> None:
    assert served_window([event(1, 0, "pinned", "ember pinned")], now=at(10)) is None
    assert served_window([], now=at(10)) is None


def test_period_is_one_second_only_while_cloudwatch_keeps_one_second_data() -> None:
    recent_hour = [event(1, 0, "started"), event(2, 3600, "promoted")]
    assert period_of(recent_hour, now=at(3610)) == 5
    assert period_of(rollout_events(), now=at(3 * 3600 - 30)) == 1
    assert period_of(rollout_events(), now=at(3 * 3600 + 30)) == 60
    assert period_of(rollout_events(), now=at(20 * 86400)) == 300
    assert period_of(rollout_events(), now=at(100 * 86400)) == 3600


def test_long_rollouts_stay_within_one_call_of_datapoints() -> None:
    two_days = [event(1, 0, "started"), event(2, 2 * 86400 - 7, "promoted")]
    window = served_window(two_days, now=at(2 * 86400 + 60))
    assert window is not None
    assert window.period_seconds == 120
    assert window.points <= MAX_POINTS
    assert window.start.timestamp() % 120 == 0 and window.end.timestamp() % 120 == 0
    stale = served_window([event(1, 0, "started")], now=at(30 * 86400))
    assert stale is not None
    assert stale.end - stale.start <= timedelta(days=2, seconds=stale.period_seconds)
    assert stale.points <= MAX_POINTS


def test_a_sub_minute_read_can_fall_back_to_minutes() -> None:
    window = ServedWindow(start=T0, end=at(90), period_seconds=1)
    assert window.coarser() == ServedWindow(start=T0, end=at(120), period_seconds=60)
    assert ServedWindow(start=T0, end=at(120), period_seconds=60).coarser() is None


def test_minute_data_read_at_one_second_is_labelled_per_minute() -> None:
    assert resolution_of([at(0), at(60), at(180)], asked=1) == 60
    assert resolution_of([at(0), at(61)], asked=1) == 1
    assert resolution_of([at(0)], asked=1) == 1
    assert resolution_of([at(0), at(60)], asked=300) == 300


def period_of(events: list[ReportEvent], now: datetime) -> int:
    window = served_window(events, now=now)
    assert window is not None
    return window.period_seconds


# ------------------------------------------------------------------ the chart
def test_bars_stack_each_colours_requests_per_second_in_proportion() -> None:
    bars = rects(render_served(served(TRAFFIC), rollout_events()))
    blue4, green4 = bars["12:00:04 blue: 90 requests"], bars["12:00:04 green: 30 requests"]
    blue5, green5 = bars["12:00:05 blue: 60 requests"], bars["12:00:05 green: 60 requests"]
    height = {name: float(bar["height"]) for name, bar in
              (("blue4", blue4), ("green4", green4), ("blue5", blue5), ("green5", green5))}
    assert height["blue4"] == pytest.approx(3 * height["green4"], abs=0.2)
    assert height["blue5"] == pytest.approx(height["green5"], abs=0.2)
    assert float(green4["y"]) + height["green4"] == pytest.approx(float(blue4["y"]), abs=0.2)
    assert float(blue4["x"]) == float(green4["x"]) < float(blue5["x"])
    assert (blue4["fill"], green4["fill"]) == ("#2563eb", "#16a34a")
    errors = bars["12:00:05 green: 12 5xx responses"]
    assert errors["fill"] == "#dc2626"
    assert float(errors["height"]) == pytest.approx(height["green5"] / 5, abs=0.2)
    assert float(errors["y"]) + float(errors["height"]) == pytest.approx(
        float(green5["y"]) + height["green5"], abs=0.2)


def test_step_boundaries_line_up_with_the_seconds_they_happened_in() -> None:
    svg = render_served(served(TRAFFIC), rollout_events())
    lines = boundary_xs(svg)
    assert set(re.findall(r'data-boundary="(\w+)"', svg)) == {"started", "step", "rolled_back"}
    bars = rects(svg)
    step2 = lines["12:00:03 step 2/4: 50% to green (1.5.0)"]
    rollback = next(x for title, x in lines.items() if title.startswith("12:00:06 all traffic"))
    assert lines["12:00:00 rollout of 1.5.0 started: blue (1.4.2) → green (1.5.0)"] < step2
    assert step2 < float(bars["12:00:04 blue: 90 requests"]["x"]) < rollback
    seconds = float(bars["12:00:05 blue: 60 requests"]["x"]) - float(
        bars["12:00:04 blue: 90 requests"]["x"])
    assert rollback - step2 == pytest.approx(3 * seconds, abs=0.2)
    assert float(bars["12:00:04 blue: 90 requests"]["x"]) - step2 == pytest.approx(
        seconds, abs=1)


def test_gate_verdicts_are_marked_pass_and_fail_with_their_evidence() -> None:
    events = [*rollout_events()[:3], event(5, 4, "paused", "2 inconclusive checks: no data"),
              rollout_events()[3]]
    svg = render_served(served(TRAFFIC), events)
    verdicts = re.findall(r'<g class="verdict" data-verdict="(\w+)"[^>]*><title>([^<]*)</title>',
                          svg)
    assert [v for v, _ in verdicts] == ["pass", "paused", "fail"]
    assert verdicts[0][1].startswith("12:00:03 gates passed")
    assert "gate metric failed: error_rate_percent 23 &gt; threshold 5" in verdicts[2][1]


def test_no_datapoints_draws_the_marks_and_says_no_traffic_recorded() -> None:
    svg = render_served(served([]), rollout_events())
    assert "no traffic recorded" in svg
    assert '<rect class="served-bar' not in svg
    assert len(boundary_xs(svg)) == 4


def test_period_longer_than_a_second_is_named_on_the_axis() -> None:
    assert "requests per second" in render_served(served(TRAFFIC), rollout_events())
    minute = served([(0, "blue", 600, 0)], period=60, seconds=300)
    assert "requests per minute" in render_served(minute, rollout_events())


# ------------------------------------------------------------------ the page and --json
def report(cohort: CohortReport) -> ReportData:
    return ReportData(app="acme", generated_at=at(60), cohorts=[cohort], tenants=[])


def wave1(**fields: Any) -> CohortReport:
    return CohortReport(**{"cohort": "wave1", "versions": {"blue": "1.4.2", "green": "1.5.0"},
                           "weights": {"blue": 100, "green": 0}, "status": "rolled_back",
                           "state_line": "rolled back", "events": rollout_events(), **fields})


def test_page_charts_requests_under_the_weights_and_totals_them() -> None:
    page = render_page(report(wave1(served=served(TRAFFIC))))
    section = page.split('<section id="served">')[1].split("</section>")[0]
    assert 'data-served="wave1"' in section
    assert "12:00:05 green: 60 requests" in section
    assert "blue 150 · green 90 requests, 12 5xx" in section
    assert page.index('id="timeline"') < page.index('id="served"')


def test_page_says_why_traffic_is_missing_and_still_renders() -> None:
    page = render_page(report(wave1(served_error="AccessDenied <b>no</b>")))
    assert "traffic not available: AccessDenied &lt;b&gt;no&lt;/b&gt;" in page
    idle = render_page(report(wave1(events=[])))
    assert "wave1: no rollout to chart yet" in idle


def test_summary_carries_the_requests_each_colour_served() -> None:
    summary = summarize(report(wave1(served=served(TRAFFIC))), "/tmp/r.html")
    totals = summary.cohorts[0].served
    assert totals is not None
    assert (totals.period_seconds, totals.requests, totals.errors_5xx) == (
        1, {"blue": 150, "green": 90}, {"blue": 0, "green": 12})
    failed = summarize(report(wave1(served_error="AccessDenied")), "/tmp/r.html").cohorts[0]
    assert failed.served is None and failed.served_error == "AccessDenied"

