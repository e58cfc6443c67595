"""``external`` compute: your own compute registers its targets in each colour's target group.

The colour slot makes an ``ip`` target group (port 8080, health check ``/health``);
nothing else is declared here. Deploying and scaling what runs a version, and
registering it, is yours (ECS, EC2, Kubernetes, anything that can register IPs).
"""

from __future__ import annotations

import pulumi

from rollout.components.compute.base import (
    CohortPlatform,
    ColourTarget,
    ComputeOutputs,
    TargetType,
)
from rollout.model.stack import Compute


class ExternalCompute:
    """Declares nothing: the colour's target group is all the toolkit provides."""

    target_type: TargetType = "ip"

    def deploy(self, name: str, target: ColourTarget,
               opts: pulumi.ResourceOptions) -> ComputeOutputs:
        return {}


def external_compute(settings: Compute, platform: CohortPlatform, name: str,
                     opts: pulumi.ResourceOptions) -> ExternalCompute:
    return ExternalCompute()
