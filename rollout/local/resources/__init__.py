"""How the local deployer creates each resource type of the infra program in moto.

One small function per Pulumi type token, registered with :func:`handles`. A type
with no function here is refused with a clear error naming it. A type whose inputs
may change between deploys (a function's code, a service's task definition) also
registers how to apply a change (``update``); any other change is refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rollout.aws_clients import AwsClients

Inputs = dict[str, Any]
Outputs = dict[str, Any]


@dataclass
class Created:
    """What a handler returns: the physical id and the outputs beyond the inputs."""

    id: str
    outputs: Outputs = field(default_factory=dict)


Create = Callable[[AwsClients, str, Inputs], Created]
Retag = Callable[[AwsClients, Created, dict[str, str]], None]
Update = Callable[[AwsClients, Created, Inputs, Inputs], Created]
"""``update(clients, existing, old inputs, new inputs)``: the resource as it is afterwards."""


@dataclass(frozen=True)
class ResourceType:
    """The create function of one type, how to retag and update it, and changes it ignores."""

    create: Create
    retag: Retag | None = None
    ignored_changes: frozenset[str] = frozenset()
    update: Update | None = None


REGISTRY: dict[str, ResourceType] = {}


def handles(token: str, *, retag: Retag | None = None, ignore: tuple[str, ...] = (),
            update: Update | None = None) -> Callable[[Create], Create]:
    """Register ``create`` as the way to make resources of type ``token``."""

    def register(create: Create) -> Create:
        REGISTRY[token] = ResourceType(create, retag, frozenset(ignore), update)
        return create

    return register


def autoname(logical_name: str, limit: int = 63) -> str:
    """A physical name like Pulumi's auto-naming: the logical name plus a random suffix."""
    return f"{logical_name[: limit - 8]}-{secrets.token_hex(3)}"


def tag_list(inputs: Inputs) -> list[dict[str, str]]:
    """Pulumi's ``tags`` map as the ``[{Key, Value}]`` list most AWS APIs take."""
    return [{"Key": k, "Value": v} for k, v in (inputs.get("tags") or {}).items()]


def load_all() -> dict[str, ResourceType]:
    """Import every service module so their handlers register, then return the registry."""
    from rollout.local.resources import (  # noqa: F401
        awslambda,
        dynamodb,
        ec2,
        ecs,
        elbv2,
        iam,
        kms,
        s3,
        sns,
    )

    return REGISTRY
