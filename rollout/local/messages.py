"""What the local deployer and the processes that run its stacks send each other.

Kept free of Pulumi imports, so that the ``rollout`` command (which only starts
those processes) never pays for importing Pulumi itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rollout.errors import RolloutError


class LocalDeployError(RolloutError):
    """The local deployer cannot do what the program asks (exit 1)."""


@dataclass(frozen=True)
class StackRequest:
    """What a stack's process needs: the stack, its raw config, and the caller's environment.

    The environment travels with the request because a forked child inherits
    the environment of the fork server, which may be older than the caller's.
    """

    stack: str
    config: dict[str, Any]
    region: str
    overrides: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StackSummary:
    """What one stack deploy did: resources created and reused, and the stack outputs."""

    created: list[str]
    reused: list[str]
    outputs: dict[str, Any]


@dataclass(frozen=True)
class ChildFailure:
    """A deploy that failed in its process, as one line for the user."""

    message: str


Outcome = StackSummary | ChildFailure
