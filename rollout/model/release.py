"""``release.yaml``: what a release changes, why, when, what could go wrong and how to undo it.

Customers are told all of this before their upgrade, so every field is required
and must say something.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rollout.errors import BadInput
from rollout.userfile import line_of, load_model, read_yaml
from rollout.vocabulary.versions import Version


class ReleaseNotes(BaseModel):
    """The notes a release is published and announced with."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    version: Version
    title: str = Field(min_length=1)
    changes: list[str] = Field(min_length=1)
    benefits: list[str] = Field(min_length=1)
    risks: list[str] = Field(min_length=1)
    timeframe: str = Field(min_length=1)
    rollback_plan: str = Field(min_length=1, alias="rollbackPlan")


def load_release_notes(path: Path, version: str, option: str) -> ReleaseNotes:
    """The notes in ``path``, which must be those of ``version`` (given as ``option``).

    Notes written for another release would tell customers the wrong story, so a
    mismatch is bad input naming the line of ``version``.
    """
    notes = load_model(path, ReleaseNotes)
    if notes.version != version:
        _, lines = read_yaml(path)
        raise BadInput(f"{path}:{line_of(lines, ('version',)) or 1}: version: the notes are for "
                       f"{notes.version}, but {option} is {version}")
    return notes
