"""The embedded moto server finds the service of a request without the disk.

For every request, moto's dispatcher asks whether the host names one of its services
by listing its own package folder and checking each entry is a folder (some 150 calls
to the file system), then tries its URL patterns in turn; a rehearsal makes thousands
of requests to a handful of hosts. The answer for a host never changes while the
server runs, so :func:`install` keeps it once found.
"""

from __future__ import annotations

import functools
from typing import Any

INSTALLED = "_rollout_remembers_hosts"


def install() -> None:
    """Remember moto's backend for each host it was asked about; idempotent."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication, INSTALLED, False):
        return
    look_up = DomainDispatcherApplication.get_backend_for_host
    found: dict[str | None, Any] = {}

    @functools.wraps(look_up)
    def remembered(self: Any, host: str | None) -> Any:
        if host not in found:
            found[host] = look_up(self, host)
        return found[host]

    DomainDispatcherApplication.get_backend_for_host = remembered  # type: ignore[method-assign]
    setattr(DomainDispatcherApplication, INSTALLED, True)
