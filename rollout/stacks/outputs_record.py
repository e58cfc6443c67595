"""The ledger record of a stack deployment (``STACK#<cohort>`` / ``OUTPUTS``).

Later commands and CI jobs read where a cohort's resources are (including the
region they live in, which need not be the environment's) and which version each
colour runs from here, without needing Pulumi state or the Pulumi CLI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from rollout.discovery import region_of_arn
from rollout.rollouts.ledger import Event, Ledger, default_actor
from rollout.stacks.base import DeployerKind
from rollout.vocabulary.clock import utc_now
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.ledger_keys import OUTPUTS_SK, stack_pk


class StackOutputsRecord(BaseModel):
    """Which version went into which colour, by whom, and the stack outputs afterwards."""

    cohort: str
    colour: Colour
    version: str
    engine: DeployerKind
    outputs: dict[str, Any]
    deployed_at: datetime = Field(default_factory=utc_now)
    actor: str = Field(default_factory=default_actor)
    region: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _region_from_outputs(cls, data: Any) -> Any:
        """The stack's region, from its listener's ARN unless given."""
        if isinstance(data, dict) and data.get("region") is None:
            outputs = data.get("outputs")
            arn = outputs.get("listenerArn") if isinstance(outputs, dict) else None
            data = {**data, "region": region_of_arn(arn)}
        return data


def record_outputs(ledger: Ledger, record: StackOutputsRecord) -> None:
    """Store the record and append a ``stack-deployed`` event to the cohort's history."""
    ledger.put(stack_pk(record.cohort), OUTPUTS_SK, record)
    ledger.append_event(record.cohort, Event(
        kind="stack-deployed", actor=record.actor,
        message=f"deployed {record.version} into {record.colour} of {record.cohort} "
                f"({record.engine})",
        data={"colour": record.colour, "version": record.version, "engine": record.engine}))


def recorded_outputs(ledger: Ledger, cohort: str) -> StackOutputsRecord | None:
    return ledger.get(stack_pk(cohort), OUTPUTS_SK, StackOutputsRecord)


__all__ = ["OUTPUTS_SK", "StackOutputsRecord", "record_outputs", "recorded_outputs", "stack_pk"]
