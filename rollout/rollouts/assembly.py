"""Assemble a :class:`CohortRollout` from what is deployed and what the user wrote.

The CLI, the demo and the tests all build a rollout the same way, with
:func:`build_rollout`: the cohort's resources from discovery, its router and gates
from ``tenants.yaml``, the preflight checks and rollback hooks every real rollout
needs, and the rule of which tenants a rollout leaves on the old colour.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.capacity import for_cohort as capacity_for
from rollout.capacity.readiness import WaitProgress
from rollout.choices.model import TenantChoice
from rollout.choices.overlay import with_choices
from rollout.configcopy.copier import ConfigCopier
from rollout.configcopy.report import conflicts_left_alone
from rollout.discovery import CohortResources
from rollout.errors import BadInput, Blocked, RolloutFailed
from rollout.gates.base import Gate
from rollout.gates.load import load_gates
from rollout.hooks.load import load_hooks
from rollout.model.stack import TenantRef
from rollout.model.tenants import Cohort, TenantsFile, load_tenants
from rollout.rollouts.executor import (
    Blocker,
    CarryBack,
    CohortRollout,
    Preflight,
    RolloutHooks,
    RolloutSettings,
    TickReport,
)
from rollout.rollouts.halts import AlarmBlockers, FleetHalts, halt_later_waves
from rollout.rollouts.ledger import Event, Ledger, RolloutLedger
from rollout.rollouts.preflight import NoticeCheck, SecurityCheck
from rollout.rollouts.state import RolloutState
from rollout.routers import for_cohort
from rollout.routers.base import TrafficRouter
from rollout.schedule.freeze import CompanyFreeze
from rollout.schedule.pins import pins_at
from rollout.schedule.windows import WindowProfile, contains
from rollout.stepfunctions.control import StepFunctionsControl
from rollout.vocabulary.clock import utc_now

TENANTS_ENV = "ROLLOUT_TENANTS"


def tenants_path(given: Path | None, project_dir: Path) -> Path:
    """``--tenants``, else $ROLLOUT_TENANTS, else ``tenants.yaml`` in the project."""
    if given is not None:
        return given
    if os.environ.get(TENANTS_ENV):
        return Path(os.environ[TENANTS_ENV])
    path = project_dir / "tenants.yaml"
    if not path.exists():
        raise BadInput(f"no tenants file: pass --tenants FILE or set {TENANTS_ENV} "
                       f"({path} does not exist)")
    return path


@dataclass
class CohortSetup:
    """A cohort's settings from ``tenants.yaml`` joined with its deployed resources."""

    resources: CohortResources
    tenants: TenantsFile
    settings: Cohort

    def gate_settings(self, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """SLA gates without a target use the cohort's ``sla_target``."""
        return [{**gate, "target": self.settings.sla_target}
                if gate.get("kind") == "sla" and "target" not in gate else gate
                for gate in raw]

    def gates(self) -> list[Gate]:
        return load_gates(self.gate_settings(self.settings.gates),
                          source=f"tenants file, cohort {self.settings.name}",
                          location=("cohorts", self.settings.name, "gates"))

    def step_gates(self, raw: list[dict[str, Any]]) -> list[Gate]:
        return load_gates(self.gate_settings(raw), source="strategy steps")

    def later_waves(self) -> list[str]:
        """The cohorts after this one (higher ``order``): what its rollback halts."""
        return [cohort.name for cohort in self.tenants.ordered_cohorts()
                if cohort.order > self.settings.order]

    def blockers(self, clients: AwsClients, ledger: RolloutLedger,
                 calendar_shift: timedelta) -> list[Blocker]:
        """What forbids moving this cohort forward: its halts in the ledger, the alarm
        blockers of ``tenants.yaml`` (read with ``clients``, in the cohort's region) and
        the company freezes."""
        alarms = [blocker.alarm for blocker in self.tenants.blockers]
        return [FleetHalts(ledger, self.settings.name),
                *([AlarmBlockers(clients, alarms)] if alarms else []),
                CompanyFreeze(self.tenants, calendar_shift)]

    def router(self, clients: AwsClients) -> TrafficRouter:
        """The router the cohort's ``router:`` entry names; ``clients`` in its region."""
        return for_cohort(clients, self.resources, self.settings.router)

    def tenant_ref(self, tenant_id: str) -> TenantRef:
        """The tenant's host from the stack outputs, else from ``tenants.yaml``."""
        for ref in self.resources.tenants:
            if ref.id == tenant_id:
                return ref
        return TenantRef(id=tenant_id, host=self.tenants.tenant(tenant_id).host)

    def pins_now(self, moment: datetime, length: timedelta) -> list[tuple[TenantRef, str]]:
        """Tenants that stay on the old colour for a rollout of ``length`` from ``moment``.

        Opted-out tenants and tenants in their busy season, as the plan says, and every
        tenant whose own upgrade window does not cover the rollout. When that is every
        tenant, the rollout is refused: it would upgrade no one.
        """
        name = self.settings.name
        pins = [(self.tenant_ref(pin.tenant), pin.reason)
                for pin in pins_at(self.tenants, name, moment, length)]
        pinned = {ref.id for ref, _ in pins}
        members = self.tenants.members(name)
        for tenant in members:
            windows = self.tenants.windows_of(tenant)
            if tenant.id in pinned or contains(WindowProfile(tenant.timezone, windows),
                                               moment, moment + length):
                continue
            shown = ", ".join(str(window) for window in windows)
            pins.append((self.tenant_ref(tenant.id),
                         f"outside its upgrade window ({shown}, {tenant.timezone})"))
        if members and len(pins) == len(members):
            raise Blocked(f"no tenant of cohort {name} may be upgraded at "
                          f"{moment:%Y-%m-%d %H:%M} UTC (opted out, busy or outside their "
                          "windows); see `rollout plan` for the cohort's slot")
        return pins


class ConfigCopyCheck:
    """Tenant configuration copied from the old colour to the new one, and verified."""

    name = "config copy"

    def __init__(self, copier: ConfigCopier) -> None:
        self._copier = copier

    def plan(self, state: RolloutState) -> str:
        return (f"copy the tenant configuration of {state.old_colour} to {state.new_colour}, "
                f"then verify it (a setting someone changed on {state.new_colour} refuses the "
                "rollout)")

    def run(self, state: RolloutState) -> str:
        report = self._copier.copy(state.old_colour, state.new_colour)
        refused = conflicts_left_alone(report)
        if refused is not None:
            raise refused
        if not report.verified:
            raise RolloutFailed(f"tenant configuration on {state.new_colour} does not match "
                                f"{state.old_colour} after the copy: {report.summary()}")
        return report.summary()


def load_setup(tenants_file: Path, resources: CohortResources,
               choices: Sequence[TenantChoice] = ()) -> CohortSetup:
    """The cohort's setup from ``tenants_file`` with the tenants' recorded ``choices`` about
    the release laid over it, so ``start`` pins a tenant that opted out on the preferences
    page (and checks notices) exactly as if ``tenants.yaml`` said so."""
    tenants = with_choices(load_tenants(tenants_file), choices)
    return CohortSetup(resources, tenants, tenants.cohort(resources.cohort))


@dataclass(frozen=True)
class RolloutOptions:
    """What a command decides about the rollout it builds; the rest comes from the setup.

    ``decided_at`` is the moment notice periods, freezes and pins are judged at (default:
    now); the demo passes each cohort's planned slot to fast-forward the calendar.
    """

    settings: RolloutSettings = field(default_factory=RolloutSettings)
    notice_override: str | None = None
    decided_at: datetime | None = None
    on_progress: Callable[[TickReport], None] | None = None
    on_event: list[Callable[[str, Event], None]] = field(default_factory=list)
    on_waiting: WaitProgress | None = None


def build_rollout(setup: CohortSetup, clients: AwsClients, ledger: Ledger,
                  options: RolloutOptions | None = None) -> CohortRollout:
    """A ready rollout with every preflight check and rollback hook a real rollout needs.

    ``clients`` are in the cohort's region.
    """
    chosen = options or RolloutOptions()
    copier = ConfigCopier(AwsClients(retry_mode="adaptive").for_region(setup.resources.region),
                          setup.resources, ledger)
    security = setup.settings.security
    decided_at = chosen.decided_at
    preflight: list[Preflight] = [
        NoticeCheck(ledger, setup.tenants, decided_at or utc_now(), chosen.notice_override),
        ConfigCopyCheck(copier),
        SecurityCheck(clients, setup.resources, security.command if security else None,
                      security.timeout if security else None,
                      extra_env=security.env if security else ()),
    ]

    def carry_back(state: RolloutState) -> CarryBack:
        try:
            report = copier.carry_back(state.new_colour, state.old_colour)
        except Blocked as nothing_copied:
            return CarryBack(f"no configuration carried back: {nothing_copied}")
        except RolloutFailed as unread:
            return CarryBack(f"configuration NOT carried back: {unread}", done=False)
        return CarryBack(report.summary(), report.left_alone)

    def pins(moment: datetime, length: timedelta) -> list[tuple[TenantRef, str]]:
        return setup.pins_now(decided_at or moment, length)

    def halt_later_waves_of(state: RolloutState) -> None:
        halt_later_waves(ledger, state, setup.later_waves(), actor=chosen.settings.actor,
                         at=utc_now())

    calendar_shift = decided_at - utc_now() if decided_at else timedelta(0)
    hooks = RolloutHooks(preflight=preflight,
                         blockers=setup.blockers(clients, ledger, calendar_shift),
                         on_rollback=[carry_back], on_rolled_back=[halt_later_waves_of],
                         on_event=list(chosen.on_event),
                         on_progress=chosen.on_progress, step_gates=setup.step_gates,
                         pins=pins, capacity=capacity_for(clients, setup.resources),
                         on_waiting=chosen.on_waiting, workflow=StepFunctionsControl(
                             clients, AwsClients().for_region(setup.resources.shared_region),
                             setup.resources),
                         lifecycle=load_hooks(setup.settings.hooks, setup.resources))
    return CohortRollout(
        clients=clients, cohort=setup.resources, ledger=ledger, router=setup.router(clients),
        gates=setup.gates(), hooks=hooks, settings=chosen.settings)


__all__ = ["CohortSetup", "RolloutOptions", "build_rollout", "load_setup", "tenants_path"]
