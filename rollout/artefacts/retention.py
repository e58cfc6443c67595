"""Which releases to keep and why: the newest N, plus everything a rollback could need.

Pure and boto3-free, so the rule that matters most (never delete a version in
use, pinned, or a cohort's rollback target) is tested exhaustively without AWS.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from rollout.artefacts.usage import VersionUse, uses_by_version
from rollout.errors import BadInput
from rollout.vocabulary.versions import newest_first


class Decision(BaseModel):
    """Keep or delete one published release, with every reason."""

    model_config = ConfigDict(frozen=True)

    version: str
    keep: bool
    reasons: list[str]


class RetentionPlan(BaseModel):
    """What ``release prune --keep N`` does, newest release first."""

    model_config = ConfigDict(frozen=True)

    keep_newest: int
    decisions: list[Decision]
    not_in_store: list[VersionUse]

    @property
    def kept(self) -> list[str]:
        return [d.version for d in self.decisions if d.keep]

    @property
    def deleted(self) -> list[str]:
        return [d.version for d in self.decisions if not d.keep]


def plan_retention(published: Iterable[str], uses: Iterable[VersionUse],
                   keep_newest: int) -> RetentionPlan:
    """Keep the newest ``keep_newest`` releases and every release named by ``uses``.

    ``not_in_store`` lists uses of versions that are not published at all: a
    rollback to them cannot be restored from the store, which a user should know.
    """
    if keep_newest < 1:
        raise BadInput(f"--keep must be at least 1, got {keep_newest}")
    by_version = uses_by_version(list(uses))
    ordered = newest_first(list(dict.fromkeys(published)))
    decisions: list[Decision] = []
    for rank, version in enumerate(ordered):
        reasons = [f"one of the newest {keep_newest}"] if rank < keep_newest else []
        reasons.extend(dict.fromkeys(use.describe() for use in by_version.get(version, [])))
        if reasons:
            decisions.append(Decision(version=version, keep=True, reasons=reasons))
        else:
            decisions.append(Decision(version=version, keep=False, reasons=[
                f"older than the newest {keep_newest} and not in use"]))
    in_store = set(ordered)
    missing = [use for version, found in by_version.items() if version not in in_store
               for use in found]
    return RetentionPlan(keep_newest=keep_newest, decisions=decisions, not_in_store=missing)
