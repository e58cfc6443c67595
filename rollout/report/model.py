"""What a rollout report shows, as plain data: no boto3, so rendering stays pure.

:mod:`rollout.report.data` fills these from AWS and the ledger; the renderers
(:mod:`~rollout.report.timeline`, :mod:`~rollout.report.svg`,
:mod:`~rollout.report.html`) only ever see these models, so tests can hand-make
them. Nothing here holds a parameter value: events carry their messages, which
the executor writes without secrets, and only the structured data the chart needs.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from rollout.vocabulary.colours import COLOURS


class ReportEvent(BaseModel):
    """One entry of a cohort's history, as the ledger recorded it."""

    cohort: str
    seq: int
    at: datetime
    actor: str
    kind: str
    message: str
    data: dict[str, Any] = Field(default_factory=dict)


class GateOutcome(BaseModel):
    """One gate check's verdict and the evidence behind it."""

    gate: str
    verdict: str
    reason: str
    metric: str | None = None
    observed: float | None = None
    threshold: float | None = None
    dry_run: bool = False


class ServedPoint(BaseModel):
    """What one colour's target group served in the period starting ``at`` (CloudWatch's Sums)."""

    at: datetime
    colour: str
    requests: float
    errors_5xx: float = 0.0


class ServedTotals(BaseModel):
    """Requests and target 5xx per colour over a whole series: what ``--json`` carries."""

    period_seconds: int
    requests: dict[str, int]
    errors_5xx: dict[str, int]


class ServedSeries(BaseModel):
    """Requests per colour per period over ``[start, end)``, the span of a cohort's latest
    rollout, as CloudWatch's ``AWS/ApplicationELB`` metrics hold them.

    ALB publishes nothing for a period without requests, so a missing point is zero.
    """

    period_seconds: int
    start: datetime
    end: datetime
    points: list[ServedPoint] = Field(default_factory=list)

    def totals(self) -> ServedTotals:
        requests: dict[str, float] = dict.fromkeys(COLOURS, 0.0)
        errors: dict[str, float] = dict.fromkeys(COLOURS, 0.0)
        for point in self.points:
            requests[point.colour] = requests.get(point.colour, 0.0) + point.requests
            errors[point.colour] = errors.get(point.colour, 0.0) + point.errors_5xx
        return ServedTotals(period_seconds=self.period_seconds,
                            requests={c: round(n) for c, n in requests.items()},
                            errors_5xx={c: round(n) for c, n in errors.items()})


class CohortReport(BaseModel):
    """One cohort: what it runs and routes now, its rollout state and its history."""

    cohort: str
    versions: dict[str, str]
    weights: dict[str, int]
    """What the listener routes now (read from AWS, not from the ledger)."""
    status: str
    state_line: str
    release: str | None = None
    old_colour: str | None = None
    new_colour: str | None = None
    reason: str | None = None
    gate_results: list[GateOutcome] = Field(default_factory=list)
    failure: GateOutcome | None = None
    events: list[ReportEvent] = Field(default_factory=list)
    served: ServedSeries | None = None
    """Requests per colour during the latest rollout; None when not read (no rollout, or
    CloudWatch failed: then ``served_error`` says why)."""
    served_error: str | None = None


class TenantRow(BaseModel):
    """One tenant: where it runs, whether it is pinned, and when it was told."""

    tenant: str
    cohort: str
    version: str
    pin: str | None = None
    pin_reason: str | None = None
    notice_sent_at: datetime | None = None
    notice_channel: str | None = None


class ReportData(BaseModel):
    """Everything one report page shows."""

    app: str
    generated_at: datetime
    cohorts: list[CohortReport]
    tenants: list[TenantRow]


class CohortSummary(BaseModel):
    """One cohort in ``rollout report --json``."""

    cohort: str
    status: str
    release: str | None
    versions: dict[str, str]
    weights: dict[str, int]
    events: int
    rollbacks: int
    served: ServedTotals | None = None
    """What each colour served during the latest rollout; None when it was not read."""
    served_error: str | None = None


class ReportSummary(BaseModel):
    """What ``rollout report --json`` prints: where the page is and what it covers."""

    path: str
    app: str
    generated_at: datetime
    cohorts: list[CohortSummary]
    tenants: int
    tenants_per_version: dict[str, int]
    pinned: list[str]


def summarize(data: ReportData, path: str) -> ReportSummary:
    return ReportSummary(
        path=path, app=data.app, generated_at=data.generated_at,
        cohorts=[CohortSummary(
            cohort=c.cohort, status=c.status, release=c.release, versions=c.versions,
            weights=c.weights, events=len(c.events),
            rollbacks=sum(1 for e in c.events if e.kind == "rolled_back"),
            served=c.served.totals() if c.served else None, served_error=c.served_error)
            for c in data.cohorts],
        tenants=len(data.tenants),
        tenants_per_version=dict(Counter(t.version for t in data.tenants)),
        pinned=[t.tenant for t in data.tenants if t.pin])
