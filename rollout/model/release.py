"""``release.yaml``: what a release changes, why, when, what could go wrong and how to undo it.

Customers are told all of this before their upgrade, so every field is required
and must say something.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from rollout.errors import BadInput
from rollout.vocabulary.versions import VERSION_PATTERN


def checked_version(value: str, option: str) -> str:
    """``value`` when it is a version like 1.5.0; bad input naming ``option`` when not."""
    if not re.fullmatch(VERSION_PATTERN, value):
        raise BadInput(f"{option} {value!r} is not a version like 1.5.0")
    return value


class ReleaseNotes(BaseModel):
    """The notes a release is published and announced with."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    version: str = Field(pattern=VERSION_PATTERN)
    title: str = Field(min_length=1)
    changes: list[str] = Field(min_length=1)
    benefits: list[str] = Field(min_length=1)
    risks: list[str] = Field(min_length=1)
    timeframe: str = Field(min_length=1)
    rollback_plan: str = Field(min_length=1, alias="rollbackPlan")
