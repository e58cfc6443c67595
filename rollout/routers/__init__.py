"""Traffic routers: one file per implementation, each registered in :data:`ROUTERS`.

:func:`for_cohort` is how everything gets a cohort's router: the one its
``router:`` entry in ``tenants.yaml`` names, never a particular class, so a
cohort split by DNS or a Lambda alias is read and moved by that router everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.routers.base import DEFAULT_ROUTER, ROUTERS, TrafficRouter


def for_cohort(clients: AwsClients, resources: CohortResources,
               router: Mapping[str, Any] | None = None) -> TrafficRouter:
    """The router ``router`` describes (``{"kind": ..., <its settings>}``, as a cohort's
    ``router:`` entry in ``tenants.yaml``); the ALB router when it names no kind.

    ``clients`` should be in the cohort's region. A kind no router registers, or a
    bad setting, is :class:`~rollout.errors.BadInput` naming it.
    """
    settings = dict(router or {})
    kind = str(settings.pop("kind", DEFAULT_ROUTER))
    return ROUTERS.get(kind)(clients, resources, settings)


__all__ = ["for_cohort"]
