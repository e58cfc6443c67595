"""``ecs``: a colour's size is its Fargate service's desired count."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from rollout.capacity.base import CAPACITIES, TargetGroupCapacity
from rollout.routers.base import IamStatement
from rollout.vocabulary.colours import COLOURS, Colour


@CAPACITIES.register("ecs")
class EcsCapacity(TargetGroupCapacity):
    """Resized with ``UpdateService``; ready once as many targets are healthy as it runs tasks.

    The stack sets each service's desired count only when it creates it (``desiredCount``
    is in its ``ignore_changes``), so a count the rollout set survives the next deploy.
    """

    kind = "ecs"
    unit = "tasks"

    @cached_property
    def _ecs(self) -> Any:
        return self._clients.client("ecs")

    def _service(self, colour: Colour) -> tuple[str, str]:
        running = self.running(colour)
        if not running.cluster or not running.service:
            raise self.nothing_deployed(colour, "ECS service")
        return running.cluster, running.service

    def size(self, colour: Colour) -> int | None:
        if not self.running(colour).service:
            return 0
        cluster, service = self._service(colour)
        found = self._ecs.describe_services(cluster=cluster, services=[service])["services"]
        return int(found[0]["desiredCount"]) if found else 0

    def resize(self, colour: Colour, size: int) -> None:
        cluster, service = self._service(colour)
        self._ecs.update_service(cluster=cluster, service=service, desiredCount=size)

    def needed(self, colour: Colour) -> int:
        return self.size(colour) or 1

    def iam_statements(self, account: str) -> list[IamStatement]:
        services = [service_arn(running.cluster, running.service)
                    for colour in COLOURS
                    if (running := self.running(colour)).cluster and running.service]
        return [*super().iam_statements(account), *([IamStatement(
            sid="SizeTheColoursServices", resources=sorted(services),
            actions=["ecs:DescribeServices", "ecs:UpdateService"])] if services else [])]


def service_arn(cluster_arn: str | None, service: str | None) -> str:
    """``arn:aws:ecs:<region>:<account>:service/<cluster>/<service>`` from the cluster's ARN."""
    prefix, _, cluster = str(cluster_arn).partition(":cluster/")
    return f"{prefix}:service/{cluster}/{service}"
