"""``rollout rollback --to-version V``: redeploy V from the artefact store, then shift back.

Used when the old colour was already scaled down: the artefacts are verified
against their manifest first, V is deployed into the idle colour by whichever
deployer the caller chose (Pulumi, or the local stand-in), and only then does
traffic move, in one write of the cohort's own router, recorded like any rollback.
All of it happens under the cohort's lease, so the pins it checks cannot move
while it deploys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rollout.artefacts.restore import RestoreReport, restore_version
from rollout.artefacts.store import ArtefactStore
from rollout.discovery import CohortResources
from rollout.errors import Blocked
from rollout.rollouts.executor import CohortRollout
from rollout.rollouts.state import RolloutState
from rollout.routers.base import Weights
from rollout.stacks.base import StackDeployer
from rollout.vocabulary.colours import Colour

Redeployed = Callable[[str], CohortResources]
"""``redeployed(cohort name)`` → the cohort's resources as discovery finds them after a deploy."""


@dataclass(frozen=True)
class RolledBackToVersion:
    """What the rollback did: the restore, the rollout's final state, the weights AWS routes by."""

    restore: RestoreReport
    state: RolloutState
    live_weights: Weights

    def as_json(self) -> dict[str, Any]:
        return {"restore": self.restore.model_dump(mode="json"),
                "state": self.state.model_dump(mode="json"),
                "live_weights": dict(self.live_weights)}

    def summary(self) -> str:
        report = self.restore
        return (f"{report.cohort}: {report.version} verified ({len(report.verified_files)} "
                f"files), deployed into {report.colour}, all traffic on {report.colour} now")


def rollback_to_version(rollout: CohortRollout, store: ArtefactStore, deployer: StackDeployer,
                        redeployed: Redeployed, version: str) -> RolledBackToVersion:
    """Verify ``version`` in ``store``, deploy it into the rollout's old colour, roll back to it.

    :class:`Blocked` when the cohort has no rollout (deploy the version instead) or
    when the idle colour is not the rollout's old colour; everything
    :func:`~rollout.artefacts.restore.restore_version` refuses, it refuses too.
    """
    cohort = rollout.cohort.cohort
    state = rollout.state()
    if state is None:
        raise Blocked(f"cohort {cohort} has no rollout to roll back; deploy {version} with "
                      f"`rollout stacks up --cohort {cohort} --version {version}` instead")
    old_colour = state.old_colour

    def deploy(name: str, colour: Colour, wanted: str) -> CohortResources:
        if colour != old_colour:
            raise Blocked(f"cohort {name}: the idle colour is {colour}, but the rollout's old "
                          f"colour is {old_colour}; nothing to roll back to")
        deployer.deploy_version(name, colour, wanted)
        return redeployed(name)

    with rollout.lease():
        held = rollout.state() or state  # pins as they are now that nobody else can move them
        report = restore_version(store, rollout.cohort, version, deploy, router=rollout.router,
                                 ledger_pins=held.pinned)
        final = rollout.rollback(f"redeployed {version} from the artefact store into "
                                 f"{report.colour} and rolled back", restored_version=version)
    return RolledBackToVersion(report, final, rollout.router.read_weights())
