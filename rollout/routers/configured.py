"""Which router each cohort uses, as ``tenants.yaml`` says.

Commands that look at many cohorts (``status``, ``report``, ``release list``)
do not otherwise need the tenants file; they still must read each cohort's
traffic through its own router, or a DNS-split cohort would be reported by its
listener's weights, which nothing moves. Without a tenants file every cohort
uses the default router, as a cohort with no ``router:`` entry does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.model.tenants import TenantsFile, load_tenants
from rollout.routers import for_cohort
from rollout.routers.base import TrafficRouter


class CohortRouters:
    """Cohort name → its ``router:`` entry; a cohort without one gets the default router."""

    def __init__(self, entries: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._entries = {cohort: dict(entry) for cohort, entry in (entries or {}).items()}

    @classmethod
    def of(cls, tenants: TenantsFile) -> CohortRouters:
        return cls({cohort.name: cohort.router for cohort in tenants.cohorts})

    @classmethod
    def from_file(cls, path: Path | None) -> CohortRouters:
        """The routers ``path`` configures; none (all default) when there is no file."""
        return cls() if path is None else cls.of(load_tenants(path))

    @classmethod
    def in_project(cls, project_dir: Path) -> CohortRouters:
        """The routers of the tenants file a command would use (``$ROLLOUT_TENANTS``, else
        ``tenants.yaml`` in the project), or none when the project has none."""
        from rollout.rollouts.assembly import tenants_path  # the CLI's rule for finding it

        try:
            path = tenants_path(None, project_dir)
        except BadInput:
            return cls()
        return cls.from_file(path)

    def settings(self, cohort: str) -> dict[str, Any]:
        """The cohort's ``router:`` entry (with its ``kind``), empty for the default router."""
        return dict(self._entries.get(cohort, {}))

    def router(self, clients: AwsClients, resources: CohortResources) -> TrafficRouter:
        """``resources``' router, its clients in the cohort's region."""
        return for_cohort(clients.for_region(resources.region), resources,
                          self._entries.get(resources.cohort))
