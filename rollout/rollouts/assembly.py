"""Assemble a :class:`CohortRollout` from what is deployed and what the user wrote.

The CLI, the demo and the tests all build engines the same way: the cohort's
resources from discovery, its router and gates from ``tenants.yaml``, and the
preflight checks and rollback hooks every real rollout needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.configcopy.copier import ConfigCopier
from rollout.discovery import CohortResources
from rollout.errors import BadInput, Blocked, RolloutFailed
from rollout.gates.base import Gate
from rollout.gates.load import load_gates
from rollout.model.stack import TenantRef
from rollout.model.tenants import Cohort, TenantsFile, load_tenants
from rollout.rollouts.executor import (
    CarryBack,
    CohortRollout,
    EngineHooks,
    EngineSettings,
    Preflight,
)
from rollout.rollouts.ledger import Ledger, now_utc
from rollout.rollouts.preflight import NoticeCheck, SecurityCheck
from rollout.rollouts.state import RolloutState
from rollout.routers.base import ROUTERS, TrafficRouter
from rollout.schedule.freeze import CompanyFreeze
from rollout.schedule.pins import pins_at
from rollout.schedule.windows import WindowProfile, contains

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

    def router(self, clients: Any) -> TrafficRouter:
        router_settings = dict(self.settings.router)
        kind = str(router_settings.pop("kind", "alb"))
        router: TrafficRouter = ROUTERS.get(kind)(clients, self.resources, router_settings)
        return router

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

    def run(self, state: RolloutState) -> str:
        report = self._copier.copy(state.old_colour, state.new_colour)
        if report.conflicts:
            raise Blocked(
                f"{len(report.conflicts)} setting(s) on {state.new_colour} were changed there "
                f"since the toolkit last wrote them (first: {report.conflict_lines()[0]}); "
                f"review with `rollout config diff --cohort {state.cohort} --from "
                f"{state.old_colour} --to {state.new_colour}`, then `rollout config copy ... "
                "--force` to overwrite them")
        if not report.verified:
            raise RolloutFailed(f"tenant configuration on {state.new_colour} does not match "
                                f"{state.old_colour} after the copy: {report.summary()}")
        return report.summary()


def load_setup(tenants_file: Path, resources: CohortResources) -> CohortSetup:
    tenants = load_tenants(tenants_file)
    return CohortSetup(resources, tenants, tenants.cohort(resources.cohort))


def build_rollout(setup: CohortSetup, clients: Any, ledger: Ledger, *,
                  engine_settings: EngineSettings | None = None,
                  notice_override: str | None = None,
                  decided_at: datetime | None = None,
                  on_progress: Any = None,
                  on_event: list[Any] | None = None) -> CohortRollout:
    """A ready engine with every preflight check and rollback hook a real rollout needs.

    ``decided_at`` is the moment notice periods and freezes are judged at (default: now);
    the demo passes each cohort's planned slot to fast-forward the calendar.
    """
    copier = ConfigCopier(AwsClients(retry_mode="adaptive").for_region(setup.resources.region),
                          setup.resources, ledger)
    security = setup.settings.security
    preflight: list[Preflight] = [
        NoticeCheck(ledger, setup.tenants, decided_at or now_utc(), notice_override),
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

    calendar_shift = decided_at - now_utc() if decided_at else timedelta(0)
    hooks = EngineHooks(preflight=preflight,
                        blockers=[CompanyFreeze(setup.tenants, calendar_shift)],
                        on_rollback=[carry_back],
                        on_event=on_event or [], on_progress=on_progress)
    return CohortRollout(
        clients=clients, cohort=setup.resources, ledger=ledger, router=setup.router(clients),
        gates=setup.gates(), step_gates=setup.step_gates, hooks=hooks,
        settings=engine_settings or EngineSettings())


__all__ = ["CohortSetup", "build_rollout", "load_setup", "tenants_path"]
