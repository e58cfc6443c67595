"""Compute kinds: what runs a colour's version. One file per kind, each in :data:`COMPUTE_KINDS`.

``external`` (your own compute registers targets), ``lambda`` (a function per colour
from the release zip) and ``ecs`` (a Fargate service per colour from the release
image). A stack config's ``compute.kind`` picks one; a user's own program may pass a
:data:`~rollout.components.compute.base.ComputeFactory` of its own instead
(``examples/pulumi_program``).
"""

from __future__ import annotations

import pulumi

from rollout.components.compute.base import (
    CohortPlatform,
    ColourCompute,
    ColourTarget,
    ComputeFactory,
    ComputeOutputs,
    TargetType,
)
from rollout.components.compute.ecs_service import ecs_services
from rollout.components.compute.external import external_compute
from rollout.components.compute.lambda_function import lambda_functions
from rollout.model.stack import Compute

COMPUTE_KINDS: dict[str, ComputeFactory] = {
    "external": external_compute,
    "lambda": lambda_functions,
    "ecs": ecs_services,
}


def compute_for(settings: Compute, platform: CohortPlatform, name: str,
                opts: pulumi.ResourceOptions) -> ColourCompute:
    """The cohort's compute kind, as its ``compute.kind`` names it."""
    return COMPUTE_KINDS[settings.kind](settings, platform, name, opts)


__all__ = ["COMPUTE_KINDS", "CohortPlatform", "ColourCompute", "ColourTarget", "ComputeFactory",
           "ComputeOutputs", "TargetType", "compute_for"]
