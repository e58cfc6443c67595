"""``ecs`` compute: a Fargate service per colour, in one cluster of the cohort.

Each colour's task definition runs the release's image pinned by digest
(``repo@sha256:...`` from the release manifest), so a moved tag never changes what a
colour runs. The service registers its tasks in the colour's ``ip`` target group,
runs ``desiredCount`` of them, and rolls back by itself when a deployment fails
(the deployment circuit breaker).

A colour with no artefact in the stack config (``artefacts.<colour>``, written by
``rollout stacks up`` from the release manifest) gets its target group only: there
is nothing to run yet, e.g. in a fresh stack whose colour was never deployed from a
release.
"""

from __future__ import annotations

import json
import re

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict

from rollout.components.compute.base import (
    CohortPlatform,
    ColourTarget,
    ComputeOutputs,
    TargetType,
    colour_role,
    config_read_statements,
)
from rollout.model.stack import Compute, EcsCompute
from rollout.vocabulary import resource_names
from rollout.vocabulary.tags import rollout_tags

CONTAINER_NAME = "app"
TASK_PRINCIPAL = "ecs-tasks.amazonaws.com"
ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
                       r"(?P<repository>[^@:]+)@")
"""An image in ECR, whose repository the execution role may then pull from (and no other)."""


class EcsServiceConfig(BaseModel):
    """The cohort's ECS settings and the image one colour runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: EcsCompute
    image: str


class EcsService(pulumi.ComponentResource):
    """A colour's task definition (its image by digest), its roles and its service."""

    outputs: ComputeOutputs

    def __init__(self, name: str, config: EcsServiceConfig, target: ColourTarget,
                 placement: EcsPlacement, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-rollout:index:EcsService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = config.settings
        task_role = colour_role(f"{name}-task", target, TASK_PRINCIPAL, "task",
                                config_read_statements(target), child)
        execution_role = colour_role(f"{name}-execution", target, TASK_PRINCIPAL, "execution",
                                     image_pull_statements(config.image), child)
        environment = target.environment(settings.environment)
        task = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=target.compute_name,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(settings.cpu),
            memory=str(settings.memory),
            task_role_arn=task_role.arn,
            execution_role_arn=execution_role.arn,
            container_definitions=json.dumps([{
                "name": CONTAINER_NAME, "image": config.image, "essential": True,
                "portMappings": [{"containerPort": settings.container_port, "protocol": "tcp"}],
                "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            }]),
            tags=target.tags,
            opts=child,
        )
        service = aws.ecs.Service(
            name,
            name=target.compute_name,
            cluster=placement.cluster_arn,
            task_definition=task.arn,
            desired_count=settings.desired_count,
            launch_type="FARGATE",
            deployment_circuit_breaker={"enable": True, "rollback": True},
            load_balancers=[{"target_group_arn": target.target_group_arn,
                             "container_name": CONTAINER_NAME,
                             "container_port": settings.container_port}],
            network_configuration={"subnets": list(target.platform.subnet_ids),
                                   "security_groups": [placement.security_group_id],
                                   "assign_public_ip": False},
            tags=target.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(target.serving),
                                        ignore_changes=["desiredCount"]),
        )
        self.outputs = {"service": service.name, "cluster": placement.cluster_arn,
                        "image": config.image, "taskDefinition": task.arn}
        self.register_outputs(self.outputs)


def image_pull_statements(image: str) -> list[dict[str, object]]:
    """Pull ``image`` from its ECR repository; nothing for an image outside ECR."""
    found = ECR_IMAGE.match(image)
    if found is None:
        return []
    repository = (f"arn:aws:ecr:{found['region']}:{found['account']}:repository/"
                  f"{found['repository']}")
    return [{"Sid": "ImageToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"],
             "Resource": "*"},
            {"Sid": "ImagePull", "Effect": "Allow",
             "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchCheckLayerAvailability"],
             "Resource": repository}]


class EcsPlacement:
    """The cohort's cluster, and the security group its tasks share (both colours)."""

    def __init__(self, name: str, settings: EcsCompute, platform: CohortPlatform,
                 opts: pulumi.ResourceOptions) -> None:
        tags = rollout_tags(platform.app, platform.cohort)
        cluster = aws.ecs.Cluster(
            f"{name}-cluster", name=resource_names.compute_cluster(platform.app, platform.cohort),
            tags=tags, opts=opts)
        group = aws.ec2.SecurityGroup(
            f"{name}-tasks",
            description=f"{platform.app} {platform.cohort} tasks",
            vpc_id=platform.vpc_id,
            ingress=[{"protocol": "tcp", "from_port": settings.container_port,
                      "to_port": settings.container_port, "cidr_blocks": ["10.0.0.0/8"]}],
            egress=[{"protocol": "tcp", "from_port": 443, "to_port": 443,
                     "cidr_blocks": ["0.0.0.0/0"]}],
            tags=tags,
            opts=opts,
        )
        self.cluster_arn: pulumi.Output[str] = cluster.arn
        self.security_group_id: pulumi.Output[str] = group.id


class EcsServices:
    """The ``ecs`` kind: one cluster per cohort, an :class:`EcsService` per colour with an image."""

    target_type: TargetType = "ip"

    def __init__(self, settings: EcsCompute, placement: EcsPlacement) -> None:
        self.settings = settings
        self.placement = placement

    def deploy(self, name: str, target: ColourTarget,
               opts: pulumi.ResourceOptions) -> ComputeOutputs:
        if target.artefact is None:
            return {}
        if target.artefact.image is None:
            raise pulumi.RunError(
                f"artefacts.{target.colour} of {target.artefact.version} has no image, and an "
                "ecs cohort runs one: publish the release with --image repo@sha256:...")
        config = EcsServiceConfig(settings=self.settings, image=target.artefact.image)
        return EcsService(f"{name}-service", config, target, self.placement, opts).outputs


def ecs_services(settings: Compute, platform: CohortPlatform, name: str,
                 opts: pulumi.ResourceOptions) -> EcsServices:
    if not isinstance(settings, EcsCompute):
        raise TypeError(f"the ecs kind was given {settings.kind} settings")
    return EcsServices(settings, EcsPlacement(name, settings, platform, opts))
