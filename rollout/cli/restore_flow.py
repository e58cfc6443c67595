"""``rollout rollback --to-version V``: redeploy V from the artefact store, then shift back.

Used when the old colour was already scaled down: the artefacts are verified
against their manifest first, V is deployed into the idle colour (the local
engine with ``--local``, otherwise Pulumi), and only then does traffic move, in
one router write, recorded like any rollback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollout.artefacts.restore import restore_version
from rollout.artefacts.store import ArtefactStore
from rollout.cli import context
from rollout.cli.output import console, emit
from rollout.discovery import CohortResources
from rollout.errors import Blocked
from rollout.rollouts.assembly import build_rollout, load_setup, tenants_path
from rollout.stacks.automation import AutomationDeployer
from rollout.stacks.base import StackDeployer
from rollout.stacks.local import LocalDeployer
from rollout.vocabulary.colours import Colour


def rollback_to_version(cohort: str, version: str, tenants: Path | None, local: bool,
                        as_json: bool) -> None:
    ctx = context.current()
    setup = load_setup(tenants_path(tenants, ctx.project_dir), ctx.cohort(cohort))
    engine = build_rollout(setup, ctx.clients_for(setup.resources), ctx.ledger)
    state = engine.state()
    if state is None:
        raise Blocked(f"cohort {cohort} has no rollout to roll back; deploy {version} with "
                      f"`rollout stacks up --cohort {cohort} --version {version}` instead")
    deployer: StackDeployer = (LocalDeployer(ctx.project_dir, ctx.clients) if local
                               else AutomationDeployer(ctx.project_dir))

    def deploy(name: str, colour: Colour, wanted: str) -> CohortResources:
        if colour != state.old_colour:
            raise Blocked(f"cohort {name}: the idle colour is {colour}, but the rollout's old "
                          f"colour is {state.old_colour}; nothing to roll back to")
        deployer.deploy_version(name, colour, wanted)
        return ctx.discovery.cohort(name)

    with engine.lease():
        held = engine.state() or state  # pins as they are now that nobody else can move them
        store = ArtefactStore.of(ctx.clients_for(ctx.shared), ctx.shared)
        report = restore_version(store, setup.resources, version, deploy,
                                 ledger_pins=held.pinned)
        final = engine.rollback(f"redeployed {version} from the artefact store into "
                                f"{report.colour} and rolled back", restored_version=version)
    data: dict[str, Any] = {"restore": report.model_dump(mode="json"),
                            "state": final.model_dump(mode="json"),
                            "live_weights": engine.router.read_weights()}
    emit(data, as_json, lambda d: console.print(
        f"{cohort}: {version} verified ({len(report.verified_files)} files), deployed into "
        f"{report.colour}, all traffic on {report.colour} now"))
