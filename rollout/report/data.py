"""Gather what a report shows from AWS and the ledger, into a :class:`ReportData`.

The AWS edge of the report: versions, real weights and pins come from
:func:`rollout.rollouts.fleet_status.cohort_status` (what the listener routes now), the
rollout state and history from the ledger, notice times from the notice records
of each cohort's release, and what each colour served during the latest rollout from
CloudWatch (:mod:`.served`; a failed read is noted on the page, never fatal). Event
data is cut down to what the chart needs, so nothing a gate or a hook put into an
event can leak into a page that gets mailed around.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources, Discovery
from rollout.gates.cloudwatch_stats import CloudWatchUnavailable
from rollout.notify.records import NoticeBook
from rollout.report.model import (
    CohortReport,
    GateOutcome,
    ReportData,
    ReportEvent,
    ServedSeries,
    TenantRow,
)
from rollout.report.served import ServedReader
from rollout.report.served_window import served_window
from rollout.rollouts.executor import load_state
from rollout.rollouts.fleet_status import cohort_status
from rollout.rollouts.ledger import Event, Ledger
from rollout.rollouts.state import RolloutState
from rollout.routers.configured import CohortRouters
from rollout.schedule.notice import NoticeRecord
from rollout.vocabulary.clock import utc_now

CHART_DATA = ("weights", "new_colour", "old_colour", "release", "step", "failure")
"""The only event data keys a report keeps."""


def report_event(cohort: str, event: Event) -> ReportEvent:
    return ReportEvent(cohort=cohort, seq=event.seq, at=event.at, actor=event.actor,
                       kind=event.kind, message=event.message,
                       data={k: v for k, v in event.data.items() if k in CHART_DATA})


def pin_reasons(events: Iterable[Event]) -> dict[str, str]:
    """Tenant → why it was pinned, from ``pinned`` events (the latest reason wins)."""
    reasons: dict[str, str] = {}
    for event in events:
        tenants: Any = event.data.get("tenants")
        if event.kind == "pinned" and isinstance(tenants, dict):
            reasons.update({str(k): str(v) for k, v in tenants.items()})
    return reasons


def _outcome(result: Any) -> GateOutcome:
    return GateOutcome.model_validate(result.model_dump(mode="json"))


class ReportGatherer:
    """Reads one app's cohorts, caching notice records per release."""

    def __init__(self, clients: AwsClients, discovery: Discovery, ledger: Ledger,
                 routers: CohortRouters | None = None, now: datetime | None = None) -> None:
        self._now = now or utc_now()
        self._clients = clients
        self._discovery = discovery
        self._ledger = ledger
        self._routers = routers or CohortRouters()
        self._notices: dict[str, dict[str, NoticeRecord]] = {}

    def notices(self, release: str) -> dict[str, NoticeRecord]:
        if release not in self._notices:
            self._notices[release] = NoticeBook(self._ledger, release).records()
        return self._notices[release]

    def served(self, clients: AwsClients, resources: CohortResources,
               events: list[ReportEvent]) -> tuple[ServedSeries | None, str | None]:
        """What each colour served during the latest rollout, or why it could not be read."""
        window = served_window(events, self._now)
        if window is None:
            return None, None
        try:
            return ServedReader(clients, resources).read(window), None
        except CloudWatchUnavailable as exc:
            return None, str(exc)

    def cohort(self, name: str) -> tuple[CohortReport, list[TenantRow]]:
        resources = self._discovery.cohort(name)
        clients = self._clients.for_region(resources.region)
        status = cohort_status(clients, resources, self._ledger,
                               self._routers.router(clients, resources))
        state: RolloutState | None = load_state(self._ledger, name)
        events = self._ledger.events(name)
        report = CohortReport(
            cohort=name, versions=dict(status.versions), weights=dict(status.weights),
            status=status.status, state_line=status.state_line, release=status.release,
            old_colour=state.old_colour if state else None,
            new_colour=state.new_colour if state else None, reason=status.reason,
            gate_results=[_outcome(r) for r in state.last_gate_results] if state else [],
            failure=_outcome(state.failure) if state and state.failure else None,
            events=[report_event(name, e) for e in events])
        report.served, report.served_error = self.served(clients, resources, report.events)
        notices = self.notices(state.release) if state else {}
        reasons = pin_reasons(events)
        tenants = []
        for tenant in resources.tenants:
            notice = notices.get(tenant.id)
            confirmed = notice is not None and notice.confirmed
            pin = status.pins.get(tenant.id)
            tenants.append(TenantRow(
                tenant=tenant.id, cohort=name,
                version=status.tenant_versions.get(tenant.id, "unknown"),
                pin=pin, pin_reason=reasons.get(tenant.id) if pin else None,
                notice_sent_at=notice.sent_at if notice and confirmed else None,
                notice_channel=notice.channel if notice and confirmed else None))
        return report, tenants


def gather_report(clients: AwsClients, discovery: Discovery, ledger: Ledger, app: str,
                  cohorts: list[str], *, now: datetime | None = None,
                  routers: CohortRouters | None = None) -> ReportData:
    """Everything the report page shows about ``cohorts``, read now, each cohort's traffic
    through the router ``routers`` configures for it (by default the default router)."""
    now = now or utc_now()
    gatherer = ReportGatherer(clients, discovery, ledger, routers, now)
    reports: list[CohortReport] = []
    tenants: list[TenantRow] = []
    for name in cohorts:
        report, rows = gatherer.cohort(name)
        reports.append(report)
        tenants.extend(rows)
    return ReportData(app=app, generated_at=now, cohorts=reports, tenants=tenants)
