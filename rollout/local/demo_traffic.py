"""The demo's tenants calling their app while their cohort rolls out, and what they got.

While a cohort's rollout runs, its tenants' requests go through the cohort's local
data plane to each colour's real code (:func:`~rollout.local.traffic.local_listener`),
so the gates judge the metrics those requests make. Afterwards the demo says, from
the answers alone (:mod:`rollout.local.observed_traffic`), what each step really split,
that pinned tenants never reached the new colour, that tenants' settings looked the same
on both colours, and, for a rollback, how long the bad code served after it began to
fail.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.local.observed_traffic import (
    Recording,
    first_failure,
    observed_split,
    served_after,
    settings_continuity,
    strays,
)
from rollout.local.traffic import Answer, local_listener, traffic_meanwhile
from rollout.rollouts.ledger import Event

RPS = 100
LONGEST = 120.0
"""Seconds of traffic at most: the rollout it accompanies ends well before."""
WRITE_EVENT = "before-call.elastic-load-balancing-v2.ModifyListener"


@dataclass
class TenantsCalling:
    """One cohort's traffic while it runs: the answers, and when the listener was written."""

    recording: Recording = field(default_factory=Recording)
    writes: list[float] = field(default_factory=list)
    """``time.time()`` as each ``ModifyListener`` the demo's clients made meanwhile was sent."""
    applied: list[float] = field(default_factory=list)
    """``time.time()`` when the local listener began routing by a changed listener."""
    started_at: float = 0.0
    ended_at: float = 0.0
    url: str = ""
    """The local listener's URL (what the demo's smoke test calls through the test route)."""


@contextmanager
def tenants_calling(clients: AwsClients, cohort: CohortResources) -> Iterator[TenantsCalling]:
    """Tenants' requests through ``cohort``'s local listener while the block runs."""
    calling = TenantsCalling()
    elbv2 = clients.for_region(cohort.region).client("elbv2")

    def written(**_: Any) -> None:
        calling.writes.append(time.time())

    elbv2.meta.events.register(WRITE_EVENT, written)
    try:
        with local_listener(clients, cohort, on_change=calling.applied.append) as url:
            calling.started_at, calling.url = time.time(), url
            try:
                with traffic_meanwhile(url, cohort.tenants, rps=RPS, duration=LONGEST,
                                       tally=calling.recording):
                    yield calling
            finally:
                calling.ended_at = time.time()
    finally:
        elbv2.meta.events.unregister(WRITE_EVENT, written)


class StepSplit(BaseModel):
    """One step as tenants saw it: the weight asked for and the share that got it."""

    step: int
    weight: int
    requests: int
    percent: float


class ObservedRollout(BaseModel):
    """What ``rollout demo --json`` says of a cohort's traffic during its rollout."""

    requests: int
    seconds: float
    per_tenant: dict[str, dict[str, int]]
    steps: list[StepSplit]
    strays: dict[str, int]
    """Per pinned tenant, its requests another colour served (goal: 0)."""
    same_settings: list[str]
    """Tenants whose first answer from the new colour showed the settings the old one had
    shown them last: their configuration came along."""
    different_settings: list[str]
    first_failure_to_write_ms: float | None = None
    """From the new colour's first 5xx to the rollback's ``ModifyListener``."""
    served_after_write: int | None = None
    """Requests sent after the rollback write that the new colour still served: those the
    listener had routed before it applied the write."""
    write_applied_ms: float | None = None
    """From the rollback write until the local listener routed by it."""
    served_after_applied: int | None = None
    """Requests sent after the listener applied the rollback that the new colour served
    (goal: 0)."""
    while_test_route: StepSplit | None = None
    """Tenants' requests from the test route's opening to step 1 (``weight`` 0), and the
    share the new colour served (goal: 0)."""


def test_route_split(answers: Sequence[Answer], events: Sequence[Event], new: str,
                     writes: Sequence[float]) -> StepSplit | None:
    """What tenants got while only the test route led to the new colour: before step 1.

    The span ends at step 1's weight write (the last ``ModifyListener`` before its
    ``step`` event, which is recorded once the write is done): requests after the write
    may rightly reach the new colour, however soon the event follows."""
    opened = next((e for e in events if e.kind == "test_route"
                   and str(e.data.get("key", "")).endswith(":test-route")), None)
    first = next((e for e in events if e.kind == "step"), None)
    if opened is None or first is None:
        return None
    start, stepped = opened.at.timestamp(), first.at.timestamp()
    end = max((moment for moment in writes if start <= moment <= stepped), default=stepped)
    split = observed_split(answers, new, start, end)
    return StepSplit(step=0, weight=0, requests=split.requests, percent=round(split.percent, 1))


def step_splits(answers: Sequence[Answer], ended_at: float, events: Sequence[Event],
                new: str, pinned: Sequence[str]) -> list[StepSplit]:
    """Each ``step`` event's span, up to the next event that moved traffic (or the end)."""
    moves = [e for e in events if e.kind in ("step", "rolled_back", "aborted", "promoted")]
    splits = []
    for index, event in enumerate(moves):
        if event.kind != "step":
            continue
        end = (moves[index + 1].at.timestamp() if index + 1 < len(moves)
               else ended_at)
        split = observed_split(answers, new, event.at.timestamp(), end, pinned)
        splits.append(StepSplit(step=int(event.data.get("step", 0)) + 1,
                                weight=int(event.data.get("weights", {}).get(new, 0)),
                                requests=split.requests, percent=round(split.percent, 1)))
    return splits


def observe(calling: TenantsCalling, events: Sequence[Event], old: str, new: str,
            pins: dict[str, str]) -> ObservedRollout:
    """What the cohort's tenants got during its rollout (``events``: this rollout's)."""
    answers = calling.recording.taken()
    alike, different = settings_continuity(answers, old, new)
    observed = ObservedRollout(
        requests=len(answers), seconds=round(calling.ended_at - calling.started_at, 1),
        per_tenant={t: dict(c) for t, c in sorted(calling.recording.per_tenant.items())},
        steps=step_splits(answers, calling.ended_at, events, new, list(pins)),
        strays=strays(answers, pins),
        same_settings=alike, different_settings=different,
        while_test_route=test_route_split(answers, events, new, calling.writes))
    failed = first_failure(answers, new)
    if any(e.kind == "rolled_back" for e in events) and failed and calling.writes:
        write = calling.writes[-1]
        observed.first_failure_to_write_ms = round(1000 * (write - failed.answered_at), 1)
        observed.served_after_write = len(served_after(answers, new, write))
        applied = [moment for moment in calling.applied if moment >= write]
        if applied:
            observed.write_applied_ms = round(1000 * (applied[0] - write), 1)
            observed.served_after_applied = len(served_after(answers, new, applied[0]))
    return observed


__all__ = ["ObservedRollout", "StepSplit", "TenantsCalling", "observe", "tenants_calling"]
