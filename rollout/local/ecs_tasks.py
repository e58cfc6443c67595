"""A stand-in for what ECS does and moto does not: register a service's tasks as targets.

On AWS, each running task of a service behind a load balancer is registered in the
service's target groups (and deregistered when it stops); the target group's health
checks then make it ``healthy``. moto runs no tasks and registers nothing, so a
rollout of an ``ecs`` cohort would find every colour empty. Installed into the
embedded moto server (:func:`install`), this keeps each service's target groups
holding one IP target per desired task, which moto reports healthy: scaling a
colour down to 0 empties its target group, scaling it up fills it again, as on AWS
once the tasks pass their health checks.
"""

from __future__ import annotations

import hashlib
from typing import Any

INSTALLED = "_rollout_registers_tasks"


def task_ip(service_arn: str, index: int) -> str:
    """A stable private address for task ``index`` of a service (10.x.y.z)."""
    digest = hashlib.sha256(service_arn.encode()).digest()
    return f"10.{digest[0]}.{digest[1]}.{index + 10}"


def _sync_targets(backend: Any, service: Any) -> None:
    from moto.elbv2.models import elbv2_backends

    groups = elbv2_backends[backend.account_id][backend.region_name].target_groups
    for attachment in service.load_balancers:
        group = groups.get(attachment.get("targetGroupArn"))
        if group is None:
            continue
        port = int(attachment.get("containerPort", group.port or 80))
        wanted = {task_ip(service.arn, index) for index in range(int(service.desired_count))}
        gone = [{"Id": target} for target in group.targets if target not in wanted]
        if gone:
            group.deregister(gone)
        group.register([{"Id": target, "Port": port} for target in sorted(wanted)
                        if target not in group.targets])


def install() -> None:
    """Make moto's ECS register and deregister task targets as services are created and
    resized; idempotent."""
    from moto.ecs.models import EC2ContainerServiceBackend as Backend

    if getattr(Backend, INSTALLED, False):
        return
    create, update = Backend.create_service, Backend.update_service

    def create_service(self: Any, *args: Any, **kwargs: Any) -> Any:
        service = create(self, *args, **kwargs)
        _sync_targets(self, service)
        return service

    def update_service(self: Any, *args: Any, **kwargs: Any) -> Any:
        service = update(self, *args, **kwargs)
        _sync_targets(self, service)
        return service

    Backend.create_service = create_service  # type: ignore[method-assign]
    Backend.update_service = update_service  # type: ignore[method-assign]
    setattr(Backend, INSTALLED, True)
