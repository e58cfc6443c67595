"""Your own Pulumi program, built on the toolkit's components instead of ``infra/``.

The components install with the toolkit (``pip install tenant-rollout``) under its own
package name, ``rollout.components``, so nothing here shadows a package of yours.
Point your ``Pulumi.yaml`` at this folder (``main: pulumi_program/``) and keep one
``Pulumi.<stack>.yaml`` per cohort and one for ``shared``, as for ``infra/``
(``tenant-rollout:stack``, see ``Pulumi.canary.yaml``): the same model validates them,
so ``rollout`` finds what you deploy.

:func:`~rollout.components.program.declare` declares the ``SharedStack`` or the
cohort's ``CohortStack``; ``compute_factory`` is where your own compute goes in place
of the kind the config names. Here, your own Fargate service per colour (a bigger
task, a container named ``web`` listening on 8000, three copies), running the
colour's release image by digest (``artefacts.<colour>.image``, which
``rollout stacks up`` writes), registered in the colour's ``ip`` target group.
A colour with no artefact yet gets its target group only.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from rollout.components.compute import CohortPlatform, ColourTarget, ComputeOutputs, TargetType
from rollout.components.program import declare, read_config
from rollout.model.stack import Compute

WEB_PORT = 8000


class WebService:
    """One Fargate service per colour, in a cluster this program makes for the cohort."""

    target_type: TargetType = "ip"

    def __init__(self, platform: CohortPlatform, name: str,
                 opts: pulumi.ResourceOptions) -> None:
        self.cluster = aws.ecs.Cluster(f"{name}-web", opts=opts)

    def deploy(self, name: str, target: ColourTarget,
               opts: pulumi.ResourceOptions) -> ComputeOutputs:
        if target.artefact is None or target.artefact.image is None:
            return {}
        task = aws.ecs.TaskDefinition(
            f"{name}-web",
            family=f"{target.compute_name}-web",
            requires_compatibilities=["FARGATE"], network_mode="awsvpc",
            cpu="512", memory="1024",
            container_definitions=json.dumps([{
                "name": "web", "image": target.artefact.image, "essential": True,
                "portMappings": [{"containerPort": WEB_PORT}],
                "environment": [{"name": k, "value": v}
                                for k, v in sorted(target.environment({}).items())],
            }]),
            tags=target.tags, opts=opts)
        service = aws.ecs.Service(
            f"{name}-web",
            cluster=self.cluster.arn, task_definition=task.arn, desired_count=3,
            launch_type="FARGATE",
            deployment_circuit_breaker={"enable": True, "rollback": True},
            load_balancers=[{"target_group_arn": target.target_group_arn,
                             "container_name": "web", "container_port": WEB_PORT}],
            network_configuration={"subnets": list(target.platform.subnet_ids)},
            tags=target.tags,
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=list(target.serving))))
        return {"service": service.name, "image": target.artefact.image}


def web_service(settings: Compute, platform: CohortPlatform, name: str,
                opts: pulumi.ResourceOptions) -> WebService:
    return WebService(platform, name, opts)


config = read_config()
outputs = declare(config, pulumi.Config("aws").require("region"), compute_factory=web_service)
for key, value in outputs.items():
    pulumi.export(key, value)
