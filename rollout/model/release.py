"""``release.yaml``: what a release changes, why, when, what could go wrong and how to undo it.

Customers are told all of this before their upgrade, so every field is required
and must say something.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from infra.config import VERSION_PATTERN

NonEmpty = Field(min_length=1)


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
