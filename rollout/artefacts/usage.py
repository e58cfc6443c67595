"""Which cohorts, colours and pinned tenants run which version, and what each could roll back to.

Facts come from two places: the deployed stacks (each colour's ``rollout:version``,
through :class:`~rollout.discovery.Discovery`) and the ledger's
:class:`~rollout.rollouts.state.RolloutState` (pinned tenants, the version a cohort
ran before its current one, its last known-good version). Retention keeps every
version named here; the listing shows them next to each release.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from rollout.discovery import CohortResources, Discovery
from rollout.rollouts.executor import load_state
from rollout.rollouts.ledger import Ledger
from rollout.rollouts.pinned_colours import pins_serving
from rollout.rollouts.state import RolloutState
from rollout.vocabulary.colours import COLOURS, Colour


class UseKind(StrEnum):
    COLOUR = "colour"
    PINNED = "pinned"
    ROLLBACK_TARGET = "rollback_target"
    LAST_KNOWN_GOOD = "last_known_good"


class VersionUse(BaseModel):
    """One reason a version must stay restorable."""

    model_config = ConfigDict(frozen=True)

    version: str
    cohort: str
    kind: UseKind
    colour: Colour | None = None
    tenant: str | None = None

    def describe(self) -> str:
        """The reason as a person reads it, e.g. ``tenant fern pinned to wave2/blue``."""
        if self.kind is UseKind.COLOUR:
            return f"{self.cohort}/{self.colour} runs it"
        if self.kind is UseKind.PINNED:
            return f"tenant {self.tenant} pinned to {self.cohort}/{self.colour}"
        if self.kind is UseKind.ROLLBACK_TARGET:
            return f"rollback target of {self.cohort}"
        return f"last known-good of {self.cohort}"


PinReader = Callable[[CohortResources], dict[str, Colour]]
"""Tenant id → pinned colour as the cohort's router routes them now."""


def cohort_uses(cohort: CohortResources, state: RolloutState | None,
                live_pins: dict[str, Colour] | None = None) -> list[VersionUse]:
    """Every version ``cohort`` runs or may need to return to.

    Colours come from the deployed stack (what really runs); pins from the
    router (``live_pins``) and from the ledger, a tenant counting on each colour
    either source pins it to (as :mod:`rollout.rollouts.pinned_colours` guards redeploys);
    the rollback target (``old_version``) and the last known-good version from the
    ledger.
    """
    name = cohort.cohort
    uses = [VersionUse(version=cohort.versions[colour], cohort=name, kind=UseKind.COLOUR,
                       colour=colour) for colour in COLOURS if colour in cohort.versions]
    pins = sorted((pin for colour in COLOURS for pin in pins_serving(
        colour, live_pins or {}, state.pinned if state else {})),
        key=lambda pin: (pin.tenant, pin.colour))
    for pin in pins:
        version = (cohort.versions.get(pin.colour)
                   or (state.versions.get(pin.colour) if state else None))
        if version:
            uses.append(VersionUse(version=version, cohort=name, kind=UseKind.PINNED,
                                   colour=pin.colour, tenant=pin.tenant))
    if state is None:
        return uses
    uses.append(VersionUse(version=state.old_version, cohort=name,
                           kind=UseKind.ROLLBACK_TARGET))
    uses.append(VersionUse(version=state.last_known_good, cohort=name,
                           kind=UseKind.LAST_KNOWN_GOOD))
    return uses


def fleet_uses(discovery: Discovery, ledger: Ledger,
               pins: PinReader | None = None) -> list[VersionUse]:
    """Uses across every deployed cohort of the app.

    A cohort that cannot be read raises rather than being skipped: retention must
    never delete a version because a lookup failed.
    """
    uses: list[VersionUse] = []
    for name in discovery.cohorts():
        cohort = discovery.cohort(name)
        state = load_state(ledger, name)
        uses.extend(cohort_uses(cohort, state, pins(cohort) if pins else None))
    return uses


def uses_by_version(uses: list[VersionUse]) -> dict[str, list[VersionUse]]:
    found: dict[str, list[VersionUse]] = {}
    for use in uses:
        found.setdefault(use.version, []).append(use)
    return found
