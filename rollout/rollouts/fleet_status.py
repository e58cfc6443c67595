"""The fleet at a glance: per cohort, versions, real weights, rollout state and tenants.

Weights and pins are read from the cohort's own router (what AWS routes now:
the listener, the weighted records, the alias), not from the ledger, so
``status`` shows the truth even while a rollout is interrupted. The halts covering
each cohort (:mod:`rollout.rollouts.halts`) are read once for the whole fleet, and so
are the tenants' recorded choices about each release a cohort rolls out
(:class:`rollout.choices.book.ChoiceBook`, read through the caller's ``choices_of``):
the pins a row shows are what ``start`` made of them, and the choices say why.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, Field, SerializationInfo, field_serializer

from rollout.aws_clients import AwsClients
from rollout.choices.model import TenantChoice
from rollout.discovery import CohortResources, Discovery
from rollout.rollouts.executor import load_state
from rollout.rollouts.halts import Halt, standing_halts
from rollout.rollouts.ledger import LedgerUnreadable, RolloutLedger
from rollout.rollouts.state import RolloutState
from rollout.routers.base import TrafficRouter
from rollout.routers.configured import CohortRouters
from rollout.vocabulary.colours import Colour

ChoicesOf = Callable[[str], Sequence[TenantChoice]]
"""Every tenant's recorded choice about a release (``ChoiceBook(...).choices``)."""


class CohortStatus(BaseModel):
    """One row of ``rollout status``."""

    cohort: str
    versions: dict[Colour, str]
    weights: dict[Colour, int]
    status: str
    state_line: str
    release: str | None = None
    reason: str | None = None
    last_known_good: str | None = None
    warm_until: str | None = None
    scaled_down_at: str | None = None
    pins: dict[str, Colour]
    tenant_versions: dict[str, str]
    tenants_per_version: dict[str, int]
    engine: str = "process"
    """Who moves the rollout's traffic: ``process`` (our commands) or ``stepfunctions``."""
    execution: str | None = None
    """The Step Functions execution's ARN, when ``engine`` is ``stepfunctions``."""
    halts: list[Halt] = Field(default_factory=list)
    """The halts that stop this cohort's next start or step (of its rollout's release, or
    of any release when none is in progress)."""
    choices: list[TenantChoice] = Field(default_factory=list)
    """What this cohort's tenants chose about ``release``, in tenant order."""

    @field_serializer("choices")
    def _choices_as_shown(self, choices: list[TenantChoice],
                          info: SerializationInfo) -> list[dict[str, Any]]:
        """Each choice without its link's nonce, which only the ledger needs (to spend the
        link once), and without its release, which is the row's."""
        return [choice.model_dump(mode=info.mode, exclude={"nonce", "release"})
                for choice in choices]


def _state_line(state: RolloutState | None) -> str:
    if state is None:
        return "no rollout yet"
    step = f" step {state.step_index + 1}/{len(state.steps)}" if state.status.active else ""
    return f"{state.status.value} {state.release}{step}"


def tenant_versions(resources: CohortResources, weights: dict[Colour, int],
                    pins: dict[str, Colour]) -> dict[str, str]:
    """Which version each tenant gets: its pin's colour, else the colour with most weight.

    While traffic is split, an unpinned tenant's requests go to both colours; it is
    shown as ``old→new (N%)``.
    """
    live: Colour = "blue" if weights.get("blue", 0) >= weights.get("green", 0) else "green"
    idle: Colour = "green" if live == "blue" else "blue"
    total = sum(weights.values()) or 1
    share = round(100 * weights.get(idle, 0) / total)
    result: dict[str, str] = {}
    for tenant in resources.tenants:
        if tenant.id in pins:
            result[tenant.id] = resources.versions[pins[tenant.id]]
        elif share and resources.versions[idle] != resources.versions[live]:
            result[tenant.id] = (f"{resources.versions[live]}→{resources.versions[idle]} "
                                 f"({share}%)")
        else:
            result[tenant.id] = resources.versions[live]
    return result


def cohort_status(clients: AwsClients, resources: CohortResources, ledger: RolloutLedger,
                  router: TrafficRouter | None = None,
                  halts: Sequence[Halt] = (),
                  choices_of: ChoicesOf | None = None) -> CohortStatus:
    """One cohort's row; ``router`` is the cohort's (by default: the default router);
    ``halts`` every halt standing, of which the row names those covering the cohort;
    ``choices_of`` where the choices about the cohort's release are read (none without)."""
    router = router or CohortRouters().router(clients, resources)
    weights = router.read_weights()
    pins = router.pins()
    versions_by_tenant = tenant_versions(resources, weights, pins)
    unreadable: LedgerUnreadable | None = None
    try:
        state = load_state(ledger, resources.cohort)
    except LedgerUnreadable as gone:
        state, unreadable = None, gone
    choices = [choice for choice in choices_of(state.release)
               if choice.tenant in versions_by_tenant] if state and choices_of else []
    return CohortStatus(
        cohort=resources.cohort, versions=resources.versions, weights=weights,
        status="unknown" if unreadable else state.status.value if state else "idle",
        state_line="ledger unreadable" if unreadable else _state_line(state),
        release=state.release if state else None,
        reason=str(unreadable) if unreadable else state.reason if state else None,
        last_known_good=state.last_known_good if state else None,
        warm_until=state.warm_ends.isoformat() if state and state.warm_ends else None,
        scaled_down_at=(state.scaled_down_at.isoformat()
                        if state and state.scaled_down_at else None),
        engine=state.engine if state else "process",
        execution=state.execution if state else None,
        pins=pins, tenant_versions=versions_by_tenant,
        tenants_per_version=dict(Counter(versions_by_tenant.values())),
        halts=[halt for halt in halts if halt.covers(
            resources.cohort, state.release if state and state.status.active else None)],
        choices=choices)


def fleet_status(clients: AwsClients, discovery: Discovery, ledger: RolloutLedger,
                 cohorts: list[str], routers: CohortRouters | None = None,
                 choices_of: ChoicesOf | None = None) -> list[CohortStatus]:
    """A row per cohort, each read through the router ``routers`` configures for it, with
    its tenants' choices from ``choices_of`` (read once per release: cohorts share one)."""
    configured = routers or CohortRouters()
    once_per_release = functools.cache(choices_of) if choices_of else None
    try:
        halts = standing_halts(ledger)
    except LedgerUnreadable:
        halts = []  # each row says the ledger is unreadable
    rows: list[CohortStatus] = []
    for name in cohorts:
        resources = discovery.cohort(name)
        rows.append(cohort_status(clients, resources, ledger,
                                  configured.router(clients, resources), halts,
                                  once_per_release))
    return rows
