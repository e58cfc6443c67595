"""The Pulumi program: reads and validates the stack config, then declares the stack.

``pulumi up`` runs it through ``infra/__main__.py``; the local engine and the unit
tests call :func:`declare` directly under ``pulumi.runtime.set_mocks``.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import ValidationError

from rollout.components.cohort_stack import CohortStack
from rollout.components.compute import ComputeFactory
from rollout.components.shared_stack import SharedStack
from rollout.model.stack import CohortStackConfig, StackConfigFile, parse_stack
from rollout.vocabulary.names import CONFIG_KEY, PROJECT
from rollout.vocabulary.problems import first_problem, more_problems


def read_config() -> StackConfigFile:
    """The stack's structured config, or a one-line :class:`pulumi.RunError` naming the field.

    A ``RunError`` makes ``pulumi up`` print just the message, without a traceback.
    """
    raw = pulumi.Config(PROJECT).require_object(CONFIG_KEY)
    try:
        return parse_stack(raw)
    except ValidationError as exc:
        location, message = first_problem(exc)
        field = ".".join([f"{PROJECT}:{CONFIG_KEY}", *(str(part) for part in location)])
        raise pulumi.RunError(f"{field}: {message}{more_problems(exc)}") from None


def declare(config: StackConfigFile, region: str,
            compute_factory: ComputeFactory | None = None) -> dict[str, Any]:
    """Declare the stack's resources and return its outputs.

    ``compute_factory`` replaces the compute kind a cohort's config names (see
    :class:`~rollout.components.cohort_stack.CohortStack`).
    """
    stack = config.stack
    if isinstance(stack, CohortStackConfig):
        shared = pulumi.StackReference(stack.shared_stack)
        cohort = CohortStack(stack.cohort, stack, region, shared,
                             compute_factory=compute_factory)
        return cohort.outputs
    return {"app": stack.app, **SharedStack("shared", stack, region).outputs()}


def main() -> None:
    """Entry point for ``pulumi up``."""
    config = read_config()
    region = pulumi.Config("aws").require("region")
    for key, value in declare(config, region).items():
        pulumi.export(key, value)
