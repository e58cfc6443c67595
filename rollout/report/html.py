"""The report page: one self-contained HTML file, readable offline and safe to mail around.

Pure: :class:`~rollout.report.model.ReportData` in, a string out. Styles are
inline and the chart is inline SVG; a Content-Security-Policy forbids every
fetch, so the page cannot phone home even if a tenant id or an event message
smuggled markup in (and every text is escaped, so none can).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape

from rollout.report.model import (
    CohortReport,
    GateOutcome,
    ReportData,
    ReportEvent,
    ServedSeries,
    TenantRow,
)
from rollout.report.served_svg import period_text, render_served
from rollout.report.svg import colour_of, marker_key, render_chart
from rollout.report.timeline import CohortTimeline, cohort_timeline, failure_text

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

STYLE = """
:root{--ink:#111827;--muted:#6b7280;--line:#e5e7eb;--panel:#fff;--bg:#f3f4f6;
--blue:#2563eb;--green:#16a34a;--red:#dc2626;--amber:#d97706;--grey:#6b7280}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header{background:#111827;color:#f9fafb;padding:22px 32px}
header h1{margin:0;font-size:22px;font-weight:650;letter-spacing:-.01em}
header p{margin:4px 0 0;color:#d1d5db;font-size:13px}
main{max-width:1180px;margin:0 auto;padding:24px 32px 48px}
section{background:var(--panel);border:1px solid var(--line);border-radius:10px;
padding:18px 22px;margin:0 0 20px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
h2{font-size:16px;margin:0 0 12px;font-weight:650}
h2 small{font-weight:400;color:var(--muted);font-size:13px;margin-left:6px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:14px;
margin:0 0 20px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:14px 16px;
border-top:4px solid var(--swatch)}
.card h3{margin:0 0 6px;font-size:15px;display:flex;justify-content:space-between;
align-items:center;gap:8px}
.card dl{margin:8px 0 0;display:grid;grid-template-columns:auto 1fr;gap:2px 12px;font-size:13px}
.card dt{color:var(--muted)}.card dd{margin:0}
.card .why{margin:10px 0 0;font-size:12.5px;color:#374151;background:#fef2f2;
border-left:3px solid var(--red);padding:6px 8px;border-radius:4px;overflow-wrap:anywhere}
.bar{display:flex;height:8px;border-radius:4px;overflow:hidden;background:var(--line);
margin-top:10px}
.bar .blue{background:var(--blue)}.bar .green{background:var(--green)}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;
font-weight:600;white-space:nowrap;background:#e5e7eb;color:#374151}
.badge.promoted,.badge.pass{background:#dcfce7;color:#166534}
.badge.rolled_back,.badge.fail{background:#fee2e2;color:#991b1b}
.badge.shifting,.badge.preparing,.badge.step,.badge.started{background:#dbeafe;color:#1e40af}
.badge.paused,.badge.inconclusive{background:#fef3c7;color:#92400e}
.badge.aborted{background:#e5e7eb;color:#374151}
.colour{font-weight:600}.colour.blue{color:var(--blue)}.colour.green{color:var(--green)}
figure{margin:0}figure svg.chart,figure svg.served-chart{display:block;width:100%;height:auto}
figure.served{margin:0 0 18px}figure.served figcaption{margin:0 0 4px;color:var(--ink);
display:block}
.unavailable{color:#991b1b;background:#fef2f2;border-left:3px solid var(--red);
padding:6px 8px;border-radius:4px;overflow-wrap:anywhere}
figcaption{color:var(--muted);font-size:12.5px;margin-top:6px;display:flex;
justify-content:space-between;align-items:center;flex-wrap:wrap;gap:8px}
table{width:100%;border-collapse:collapse;font-size:13px}
th{text-align:left;color:var(--muted);font-weight:600;font-size:12px;text-transform:uppercase;
letter-spacing:.04em;border-bottom:1px solid var(--line);padding:6px 10px}
td{border-bottom:1px solid var(--line);padding:7px 10px;vertical-align:top}
tbody tr:nth-child(even){background:#f9fafb}
td.time,td.num,td.cohort{white-space:nowrap;font-variant-numeric:tabular-nums}
td.message{overflow-wrap:anywhere}
.muted{color:var(--muted)}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;
background:var(--swatch);vertical-align:baseline}
.empty{color:var(--muted);font-style:italic}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _time(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _badge(value: str, label: str | None = None) -> str:
    return f'<span class="badge {_e(value)}">{_e(label or value.replace("_", " "))}</span>'


def _colour(colour: str) -> str:
    return f'<span class="colour {_e(colour)}">{_e(colour)}</span>'


def _swatches(cohorts: Sequence[CohortReport]) -> dict[str, str]:
    return {c.cohort: colour_of(i) for i, c in enumerate(cohorts)}


def _card(cohort: CohortReport, swatch: str) -> str:
    total = sum(cohort.weights.values()) or 1
    bar = "".join(
        f'<span class="{_e(colour)}" style="width:{100 * weight / total:.1f}%" '
        f'title="{_e(colour)} {100 * weight / total:.0f}%"></span>'
        for colour, weight in sorted(cohort.weights.items()))
    weights = " · ".join(f"{_colour(c)} {round(100 * w / total)}%"
                         for c, w in sorted(cohort.weights.items()))
    versions = " · ".join(f"{_colour(c)} {_e(v)}" for c, v in sorted(cohort.versions.items()))
    rows = [("release", _e(cohort.release or "—")), ("versions", versions),
            ("traffic", weights), ("state", _e(cohort.state_line))]
    why = f'<p class="why">{_e(cohort.reason)}</p>' if cohort.reason else ""
    return (f'<div class="card" data-cohort="{_e(cohort.cohort)}" style="--swatch:{swatch}">'
            f"<h3>{_e(cohort.cohort)} {_badge(cohort.status)}</h3>"
            f'<div class="bar">{bar}</div><dl>'
            + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
            + f"</dl>{why}</div>")


def _table(headers: Iterable[str], rows: list[str], empty: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(rows) or f'<tr><td class="empty" colspan="99">{_e(empty)}</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _gate_row(cohort: str, when: str, gate: GateOutcome) -> str:
    return (f'<tr data-gate="{_e(gate.gate)}" data-verdict="{_e(gate.verdict)}">'
            f"<td>{_e(cohort)}</td><td>{_e(when)}</td>"
            f"<td>{_e(gate.gate)}{' (dry run: not obeyed)' if gate.dry_run else ''}</td>"
            f"<td>{_badge(gate.verdict)}</td><td>{_e(gate.metric or '—')}</td>"
            f'<td class="num">{_number(gate.observed)}</td>'
            f'<td class="num">{_number(gate.threshold)}</td>'
            f'<td class="message">{_e(gate.reason)}</td></tr>')


def _gates(cohorts: Sequence[CohortReport]) -> str:
    rows: list[str] = []
    for cohort in cohorts:
        if cohort.failure is not None:
            rows.append(_gate_row(cohort.cohort, "caused the rollback", cohort.failure))
        rows.extend(_gate_row(cohort.cohort, "last check", g) for g in cohort.gate_results)
    return _table(("cohort", "when", "gate", "verdict", "metric", "observed", "threshold",
                   "reason"), rows, "no gate has been checked yet")


def _tenant_row(tenant: TenantRow, swatch: str) -> str:
    pin = "—"
    if tenant.pin:
        pin = _colour(tenant.pin) + (f' <span class="muted">{_e(tenant.pin_reason)}</span>'
                                     if tenant.pin_reason else "")
    channel = (f' <span class="muted">via {_e(tenant.notice_channel)}</span>'
               if tenant.notice_sent_at and tenant.notice_channel else "")
    return (f'<tr data-tenant="{_e(tenant.tenant)}">'
            f"<td>{_e(tenant.tenant)}</td>"
            f'<td class="cohort"><span class="swatch" style="--swatch:{swatch}"></span>'
            f"{_e(tenant.cohort)}</td>"
            f'<td class="version">{_e(tenant.version)}</td><td class="pin">{pin}</td>'
            f'<td class="time">{_time(tenant.notice_sent_at)}{channel}</td></tr>')


def _event_row(event: ReportEvent, swatch: str) -> str:
    return (f'<tr data-kind="{_e(event.kind)}">'
            f'<td class="time">{_time(event.at)}</td>'
            f'<td class="cohort"><span class="swatch" style="--swatch:{swatch}"></span>'
            f"{_e(event.cohort)}</td>"
            f"<td>{_e(event.actor)}</td><td>{_badge(event.kind)}</td>"
            f'<td class="message">{_e(event.message)}</td></tr>')


def timelines_of(data: ReportData) -> list[CohortTimeline]:
    return [cohort_timeline(c.cohort, c.events, c.new_colour) for c in data.cohorts]


def _rollback_notes(cohorts: Sequence[CohortReport]) -> str:
    notes = [f"<li><strong>{_e(c.cohort)}</strong>: "
             f"{_e(failure_text(c.failure) if c.failure else c.reason or 'rolled back')}</li>"
             for c in cohorts if c.status == "rolled_back"]
    return f'<ul class="rollbacks">{"".join(notes)}</ul>' if notes else ""


def _served_caption(cohort: str, series: ServedSeries) -> str:
    """``wave1 · latest rollout · one bar per second · blue 150 · green 90 requests, 12 5xx``."""
    totals = series.totals()
    requests = " · ".join(f"{colour} {count}" for colour, count in totals.requests.items())
    errors = sum(totals.errors_5xx.values())
    return (f"<strong>{_e(cohort)}</strong> · latest rollout · one bar per "
            f"{_e(period_text(totals.period_seconds))} · {_e(requests)} requests, "
            f"{errors} 5xx")


def _served(cohort: CohortReport) -> str:
    """One cohort's requests chart, or a line saying why there is none."""
    name = _e(cohort.cohort)
    if cohort.served_error is not None:
        return (f'<p class="unavailable" data-served="{name}"><strong>{name}</strong>: '
                f"traffic not available: {_e(cohort.served_error)}</p>")
    if cohort.served is None:
        started = any(e.kind == "started" for e in cohort.events)
        return (f'<p class="empty" data-served="{name}">{name}: '
                f"{'traffic not read' if started else 'no rollout to chart yet'}</p>")
    return (f'<figure class="served" data-served="{name}">'
            f"<figcaption>{_served_caption(cohort.cohort, cohort.served)}</figcaption>"
            f"{render_served(cohort.served, cohort.events)}</figure>")


def render_page(data: ReportData) -> str:
    """The whole report as one HTML document."""
    swatches = _swatches(data.cohorts)
    events = sorted((e for c in data.cohorts for e in c.events),
                    key=lambda e: (e.at, e.cohort, e.seq))
    pinned = sum(1 for t in data.tenants if t.pin)
    title = f"Rollout report — {data.app}"
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
        f"<header><h1>{_e(title)}</h1><p>generated {_time(data.generated_at)} · "
        f"{len(data.cohorts)} cohort(s) · {len(data.tenants)} tenant(s) · "
        f"{len(events)} event(s)</p></header><main>",
        '<div class="cards">',
        *(_card(c, swatches[c.cohort]) for c in data.cohorts),
        "</div>",
        '<section id="timeline"><h2>Traffic on the new release'
        "<small>per cohort; steps, gates, pauses, promotions and rollbacks marked</small></h2>",
        f"<figure>{render_chart(timelines_of(data))}<figcaption>"
        f"<span>Hover a marker for its event.</span>{marker_key()}</figcaption></figure>",
        _rollback_notes(data.cohorts),
        "</section>",
        '<section id="served"><h2>Requests served<small>per colour during each cohort\'s '
        "latest rollout, from CloudWatch; step boundaries and gate verdicts marked</small></h2>",
        *(_served(c) for c in data.cohorts),
        "</section>",
        '<section id="gates"><h2>Gate results</h2>', _gates(data.cohorts), "</section>",
        f'<section id="tenants"><h2>Tenants<small>{len(data.tenants)} tenant(s), '
        f"{pinned} pinned</small></h2>",
        _table(("tenant", "cohort", "version", "pin", "notice sent"),
               [_tenant_row(t, swatches.get(t.cohort, "#9ca3af")) for t in data.tenants],
               "no tenants"),
        "</section>",
        '<section id="events"><h2>Event history<small>oldest first</small></h2>',
        _table(("time", "cohort", "actor", "kind", "message"),
               [_event_row(e, swatches.get(e.cohort, "#9ca3af")) for e in events],
               "no events recorded yet"),
        "</section></main></body></html>\n",
    ])
