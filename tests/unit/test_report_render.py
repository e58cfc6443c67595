"""The report page from hand-made data: one series per cohort, markers, escaping, offline."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from rollout.report.html import render_page
from rollout.report.model import (
    CohortReport,
    GateOutcome,
    ReportData,
    ReportEvent,
    TenantRow,
    summarize,
)
from rollout.report.svg import render_chart, tick_label, tick_step, time_ticks
from rollout.report.timeline import MarkerKind, cohort_timeline, time_range

T0 = datetime(2026, 6, 3, 9, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script><img src="https://evil.example/x.png">'


def event(cohort: str, seq: int, seconds: float, kind: str, message: str = "",
          **data: Any) -> ReportEvent:
    return ReportEvent(cohort=cohort, seq=seq, at=T0 + timedelta(seconds=seconds),
                       actor="ci@runner", kind=kind, message=message or kind, data=data)


def started(cohort: str, seq: int, seconds: float, old: str = "blue",
            new: str = "green") -> ReportEvent:
    return event(cohort, seq, seconds, "started",
                 f"rollout of 1.5.0 started: {old} (1.4.2) → {new} (1.5.0), strategy linear",
                 release="1.5.0", old_colour=old, new_colour=new)


def step(cohort: str, seq: int, seconds: float, new: int, new_colour: str = "green"
         ) -> ReportEvent:
    old_colour = "blue" if new_colour == "green" else "green"
    return event(cohort, seq, seconds, "step", f"{new}% to {new_colour}",
                 weights={old_colour: 100 - new, new_colour: new})


FAILURE = GateOutcome(gate="alarm", verdict="fail", reason="alarm app-5xx is ALARM",
                      metric="HTTPCode_Target_5XX_Count", observed=42, threshold=10)


def promoted_events() -> list[ReportEvent]:
    return [started("canary", 1, 0), event("canary", 2, 0.1, "preflight", "security: clean"),
            step("canary", 3, 0.2, 25), step("canary", 4, 1.2, 50), step("canary", 5, 2.2, 100),
            event("canary", 6, 3.2, "promoted", "1.5.0 is live on green")]


def rolled_back_events() -> list[ReportEvent]:
    return [started("wave1", 1, 5), step("wave1", 2, 5.2, 25), step("wave1", 3, 6.2, 50),
            event("wave1", 4, 7, "rolled_back", "all traffic back on blue (1.4.2)",
                  weights={"blue": 100, "green": 0}, failure=FAILURE.model_dump())]


def report(**overrides: Any) -> ReportData:
    cohorts = [
        CohortReport(cohort="canary", versions={"blue": "1.4.2", "green": "1.5.0"},
                     weights={"blue": 0, "green": 100}, status="promoted",
                     state_line="promoted 1.5.0", release="1.5.0", old_colour="blue",
                     new_colour="green", events=promoted_events(),
                     gate_results=[GateOutcome(gate="alarm", verdict="pass", reason="OK")]),
        CohortReport(cohort="wave1", versions={"blue": "1.4.2", "green": "1.5.0"},
                     weights={"blue": 100, "green": 0}, status="rolled_back",
                     state_line="rolled_back 1.5.0", release="1.5.0", old_colour="blue",
                     new_colour="green", reason="gate alarm failed", failure=FAILURE,
                     events=rolled_back_events()),
        CohortReport(cohort="wave2", versions={"blue": "1.4.2", "green": "1.4.2"},
                     weights={"blue": 100, "green": 0}, status="idle",
                     state_line="no rollout yet"),
    ]
    tenants = [
        TenantRow(tenant="aurora", cohort="canary", version="1.5.0",
                  notice_sent_at=T0 - timedelta(days=14), notice_channel="sns"),
        TenantRow(tenant="ember", cohort="wave1", version="1.4.2", pin="blue",
                  pin_reason="opted out until 2099-01-01"),
        TenantRow(tenant="fig", cohort="wave2", version="1.4.2"),
    ]
    fields: dict[str, Any] = {"app": "acme", "generated_at": T0 + timedelta(minutes=1),
                              "cohorts": cohorts, "tenants": tenants, **overrides}
    return ReportData(**fields)


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order, and the page's text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def with_attr(self, name: str) -> list[tuple[str, dict[str, str | None]]]:
        return [(tag, attrs) for tag, attrs in self.tags if name in attrs]


def test_chart_has_one_series_and_one_legend_entry_per_cohort() -> None:
    page = Elements(render_page(report()))
    series = [attrs["data-series"] for _, attrs in page.with_attr("data-series")]
    legend = [attrs["data-legend"] for _, attrs in page.with_attr("data-legend")]
    assert series == ["canary", "wave1", "wave2"]
    assert legend == ["canary", "wave1", "wave2"]
    assert "wave2 (no rollout yet)" in "".join(page.text)


def test_series_follows_the_weights_and_marks_the_rollback_where_it_happened() -> None:
    canary = cohort_timeline("canary", promoted_events())
    wave1 = cohort_timeline("wave1", rolled_back_events())
    assert [p.percent for p in canary.segments[0]] == [0, 25, 50, 100]
    assert [p.percent for p in wave1.segments[0]] == [0, 25, 50, 0]
    rollback = [m for m in wave1.markers if m.kind == MarkerKind.ROLLED_BACK]
    assert len(rollback) == 1
    assert rollback[0].percent == 50
    assert rollback[0].detail == ("all traffic back on blue (1.4.2) "
                                  "(HTTPCode_Target_5XX_Count 42 > threshold 10)")
    assert [m.kind for m in canary.markers if m.kind != MarkerKind.STEP] == [
        MarkerKind.STARTED, MarkerKind.GATE, MarkerKind.PROMOTED]


def test_rollback_marker_carries_the_failed_gate_in_its_hover_text() -> None:
    svg = render_chart([cohort_timeline("wave1", rolled_back_events())])
    marker = re.search(r'<g class="marker" data-marker="rolled_back"[^>]*><title>([^<]*)</title>',
                       svg)
    assert marker is not None
    assert "all traffic back on blue (1.4.2)" in marker.group(1)
    assert "42 &gt; threshold 10" in marker.group(1)


def test_each_rollout_of_a_cohort_is_its_own_stroke_on_the_new_colour() -> None:
    events = [*promoted_events(),
              started("canary", 7, 10, old="green", new="blue"),
              step("canary", 8, 11, 50, new_colour="blue")]
    timeline = cohort_timeline("canary", events)
    assert [[p.percent for p in s] for s in timeline.segments] == [[0, 25, 50, 100], [0, 50]]
    path = re.search(r'data-series="canary".*?<path class="line"[^>]* d="([^"]*)"',
                     render_chart([timeline]))
    assert path is not None
    assert path.group(1).count("M") == 2


def test_started_events_without_colour_data_fall_back_to_their_message() -> None:
    legacy = event("canary", 1, 0, "started",
                   "rollout of 1.5.0 started: green (1.4.2) → blue (1.5.0), strategy x")
    timeline = cohort_timeline("canary", [legacy, step("canary", 2, 1, 25, new_colour="blue")])
    assert [p.percent for p in timeline.segments[0]] == [0, 25]


def test_every_text_is_escaped() -> None:
    data = report()
    data.cohorts[1].reason = HOSTILE
    data.cohorts[1].events[1].message = HOSTILE
    data.cohorts[1].events[1].actor = HOSTILE
    data.tenants[1].pin_reason = HOSTILE
    assert data.cohorts[1].failure is not None
    data.cohorts[1].failure.reason = HOSTILE
    page = render_page(data)
    assert "<script" not in page
    assert "<img" not in page
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") >= 5
    text = "".join(Elements(page).text)
    assert HOSTILE in text


def test_page_references_nothing_outside_itself() -> None:
    data = report()
    data.cohorts[0].events[1].message = "see https://status.example/incident/1 for details"
    page = render_page(data)
    elements = Elements(page)
    for tag, attrs in elements.tags:
        for name in ("src", "href", "xlink:href", "action", "data"):
            value = (attrs.get(name) or "").strip().lower()
            assert not re.match(r"(https?:)?//", value), (tag, name, value)
    assert not [tag for tag, _ in elements.tags if tag in ("script", "iframe", "object", "embed")]
    assert not re.search(r"url\(|@import", page)
    csp = [attrs for tag, attrs in elements.tags
           if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0].get("content") or "")


def test_tenants_table_shows_version_pin_and_notice_time() -> None:
    page = render_page(report())
    rows = dict(re.findall(r'<tr data-tenant="([a-z]+)">(.*?)</tr>', page))
    assert list(rows) == ["aurora", "ember", "fig"]
    assert "1.5.0" in rows["aurora"] and "2026-05-20 09:00:00 UTC" in rows["aurora"]
    assert "via sns" in rows["aurora"]
    assert "blue" in rows["ember"] and "opted out until 2099-01-01" in rows["ember"]
    assert "1.4.2" in rows["ember"]


def test_event_history_lists_every_cohort_oldest_first() -> None:
    page = render_page(report())
    kinds = re.findall(r'<tr data-kind="([a-z_]+)"><td class="time">([^<]+)</td>', page)
    times = [t for _, t in kinds]
    assert len(kinds) == len(promoted_events()) + len(rolled_back_events())
    assert times == sorted(times)
    assert kinds[-1][0] == "rolled_back"


def test_empty_fleet_still_renders_a_chart_with_a_series_per_cohort() -> None:
    data = report()
    for cohort in data.cohorts:
        cohort.events = []
    page = render_page(data)
    assert "no rollout recorded yet" in page
    assert len(Elements(page).with_attr("data-series")) == 3


def test_time_axis_labels_suit_the_span() -> None:
    seconds = time_range([cohort_timeline("canary", promoted_events())])
    assert seconds is not None
    assert tick_step(seconds.seconds) < 60
    assert re.fullmatch(r"\d\d:\d\d:\d\d", tick_label(time_ticks(seconds)[0], 1))
    weeks = [started("wave1", 1, 0), step("wave1", 2, 14 * 86400, 100)]
    span = time_range([cohort_timeline("wave1", weeks)])
    assert span is not None
    step_seconds = tick_step(span.seconds)
    assert step_seconds >= 86400
    assert 2 <= len(time_ticks(span)) <= 8
    assert re.fullmatch(r"\d\d [A-Z][a-z]{2}", tick_label(time_ticks(span)[0], step_seconds))


def test_summary_counts_rollbacks_and_pins() -> None:
    summary = summarize(report(), "/tmp/report.html")
    assert [(c.cohort, c.rollbacks) for c in summary.cohorts] == [
        ("canary", 0), ("wave1", 1), ("wave2", 0)]
    assert summary.pinned == ["ember"]
    assert summary.tenants_per_version == {"1.5.0": 1, "1.4.2": 2}


def test_rendering_does_not_import_boto3() -> None:
    code = ("import sys, rollout.report.html, rollout.report.svg, rollout.report.timeline, "
            "rollout.report.served_svg, rollout.report.served_window; "
            "print('boto3' in sys.modules or 'botocore' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
