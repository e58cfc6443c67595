"""How the local deployer creates each resource type of the infra program in moto.

One small function per Pulumi type token, registered with :func:`handles`. A type
with no function here is refused with a clear error naming it.
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


@dataclass(frozen=True)
class ResourceType:
    """The create function of one type, how to retag it, and input changes it ignores."""

    create: Create
    retag: Retag | None = None
    ignored_changes: frozenset[str] = frozenset()


REGISTRY: dict[str, ResourceType] = {}


def handles(token: str, *, retag: Retag | None = None,
            ignore: tuple[str, ...] = ()) -> Callable[[Create], Create]:
    """Register ``create`` as the way to make resources of type ``token``."""

    def register(create: Create) -> Create:
        REGISTRY[token] = ResourceType(create, retag, frozenset(ignore))
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
        dynamodb,
        ec2,
        elbv2,
        iam,
        kms,
        s3,
        sns,
    )

    return REGISTRY
