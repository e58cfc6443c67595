"""``release prune --keep N`` as a plan: one step per release to delete, its objects listed.

Retention (:mod:`rollout.artefacts.retention`) decides which releases go; this
turns the decision into a :class:`~rollout.plans.Plan` whose steps already know
every key they will delete, so ``--dry-run`` displays exactly what the real run
then executes, object count included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rollout.artefacts.retention import RetentionPlan, plan_retention
from rollout.artefacts.store import ArtefactStore
from rollout.artefacts.usage import VersionUse
from rollout.plans import Plan

PRUNE_COMMAND = "release prune"


@dataclass(frozen=True)
class DeleteRelease:
    """Delete one release's objects, manifest last, leaving noncurrent versions behind."""

    store: ArtefactStore
    version: str
    keys: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def kind(self) -> str:
        return "delete-release"

    def describe(self) -> str:
        noun = "object" if len(self.keys) == 1 else "objects"
        return f"delete {self.version}: {'; '.join(self.reasons)} ({len(self.keys)} {noun})"

    def facts(self) -> Mapping[str, object]:
        return {"version": self.version, "objects": len(self.keys)}

    def apply(self) -> None:
        self.store.delete_release(self.version, self.keys)


@dataclass(frozen=True)
class Prune:
    """The retention decision and the plan that carries it out."""

    retention: RetentionPlan
    plan: Plan

    @property
    def deletions(self) -> list[DeleteRelease]:
        return [step for step in self.plan.steps if isinstance(step, DeleteRelease)]

    @property
    def objects(self) -> int:
        return sum(len(step.keys) for step in self.deletions)


def plan_prune(store: ArtefactStore, uses: Iterable[VersionUse], keep_newest: int) -> Prune:
    """What ``prune --keep keep_newest`` will delete, read from the store now, deleting nothing."""
    retention = plan_retention(store.versions(), uses, keep_newest)
    steps = tuple(DeleteRelease(store, decision.version,
                                tuple(store.release_keys(decision.version)),
                                tuple(decision.reasons))
                  for decision in retention.decisions if not decision.keep)
    return Prune(retention, Plan(PRUNE_COMMAND, steps))
