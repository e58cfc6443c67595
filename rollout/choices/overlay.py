"""Tenants' recorded choices laid over ``tenants.yaml``, so every command plans from one file.

``plan``, ``notify``, ``start`` and ``status`` honour a choice exactly as they honour
what the provider wrote, because they all read the overlaid file: a window choice
becomes the tenant's only window, an opt-out its opt-out (replacing one written in the
file: the customer said so later), a confirmation changes nothing. A choice of a
tenant no longer in the file is dropped; the file stays the list of who exists.
"""

from __future__ import annotations

from collections.abc import Iterable

from rollout.choices.model import TenantChoice
from rollout.model.tenants import OptOut, Tenant, TenantsFile, Window


def chosen_reason(choice: TenantChoice) -> str:
    """Why the tenant is opted out, as ``plan`` and the pins show it."""
    return f"chose on the preferences page on {choice.at.date().isoformat()}"


def _as_chosen(tenant: Tenant, choice: TenantChoice) -> Tenant:
    if choice.action == "window" and choice.window is not None:
        return tenant.model_copy(update={"windows": (Window.model_validate(choice.window),)})
    if choice.action == "opt_out" and choice.until is not None:
        return tenant.model_copy(update={
            "opt_out": OptOut(until=choice.until, reason=chosen_reason(choice))})
    return tenant


def with_choices(tenants: TenantsFile, choices: Iterable[TenantChoice]) -> TenantsFile:
    """``tenants`` with each tenant's choice applied (the latest, if one has several)."""
    latest: dict[str, TenantChoice] = {}
    for choice in choices:
        known = latest.get(choice.tenant)
        if known is None or choice.at >= known.at:
            latest[choice.tenant] = choice
    if not any(choice.action != "confirm" for choice in latest.values()):
        return tenants
    changed = [_as_chosen(tenant, latest[tenant.id]) if tenant.id in latest else tenant
               for tenant in tenants.tenants]
    return tenants.model_copy(update={"tenants": changed})
