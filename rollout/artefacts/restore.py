"""Redeploy a release from the store into a cohort's idle colour, after checking its hashes.

This is rollback after the old colour was scaled down: the bytes come back from
the store, so they are verified first and a tampered release is refused before
anything is deployed. Moving traffic back is the caller's next step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pydantic import BaseModel, ConfigDict

from rollout.artefacts.store import ArtefactStore
from rollout.discovery import CohortResources
from rollout.errors import Blocked, RolloutFailed
from rollout.rollouts.pinned_colours import refuse_redeploy_of_pinned
from rollout.routers.base import TrafficRouter
from rollout.vocabulary.colours import COLOURS, Colour

Deploy = Callable[[str, Colour, str], CohortResources]
"""``deploy(cohort name, colour, version)`` → the cohort's resources after the deploy."""


class RestoreReport(BaseModel):
    """What a restore did."""

    model_config = ConfigDict(frozen=True)

    cohort: str
    colour: Colour
    version: str
    replaced_version: str
    target_group_arn: str
    verified_files: list[str]


def idle_colour(router: TrafficRouter, cohort: CohortResources, version: str,
                ledger_pins: Mapping[str, Colour] | None = None) -> Colour:
    """The colour no request reaches through the cohort's ``router``: no weight, no pin.

    :class:`Blocked` while both colours carry weight (mid-shift), or while tenants
    are pinned to the idle one, by the router (a listener rule) or in the ledger
    (``ledger_pins``): replacing it would change their version unannounced.
    """
    weights = router.read_weights()
    idle = [colour for colour in COLOURS if weights[colour] == 0]
    if len(idle) != 1:
        shown = ", ".join(f"{colour} {weights[colour]}" for colour in COLOURS)
        raise Blocked(f"cohort {cohort.cohort} has no single idle colour (weights: {shown}); "
                      "finish or roll back the running rollout before restoring a version")
    refuse_redeploy_of_pinned(cohort.cohort, idle[0], cohort.versions, router.pins(),
                              ledger_pins or {}, doing=f"restoring {version} into {idle[0]}")
    return idle[0]


def restore_version(store: ArtefactStore, cohort: CohortResources, version: str,
                    deploy: Deploy, *, router: TrafficRouter,
                    ledger_pins: Mapping[str, Colour] | None = None) -> RestoreReport:
    """Verify release ``version``, then deploy it into the idle colour of ``cohort``.

    :class:`BadInput` if the version is not in the store, :class:`RolloutFailed`
    (nothing deployed) if any file's sha256 does not match the manifest,
    :class:`Blocked` while no colour is idle. The idle colour is read from the
    cohort's ``router``, not the ledger: AWS routing says which colour is safe to
    replace. Pins count from both: the router's and ``ledger_pins`` (the rollout
    state's ``pinned``), so a tenant the ledger promised a colour keeps it.
    """
    manifest = store.require(version)
    store.verify(version).raise_if_failed()
    target = idle_colour(router, cohort, version, ledger_pins)
    replaced = cohort.versions[target]
    deployed = deploy(cohort.cohort, target, version)
    if deployed.versions.get(target) != version:
        raise RolloutFailed(
            f"cohort {cohort.cohort}: deployed {version} into {target}, but {target} reports "
            f"version {deployed.versions.get(target)}; check the stack, then retry the rollback")
    return RestoreReport(cohort=cohort.cohort, colour=target, version=version,
                         replaced_version=replaced,
                         target_group_arn=deployed.target_group_arns[target],
                         verified_files=[f.name for f in manifest.files])
