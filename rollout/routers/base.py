"""The ``TrafficRouter`` protocol: read weights, set weights, pin a tenant to a colour.

Weights are per colour. The router validates them itself (moto does not): integers
from 0 to 999 as ALB allows, at least one non-zero. ``set_weights`` is exactly
one write to AWS, which is what makes rollback instant.
"""

from __future__ import annotations

from typing import Any, Protocol

from rollout.errors import BadInput
from rollout.model.stack import TenantRef
from rollout.plugins import Registry
from rollout.vocabulary.colours import COLOURS, Colour

Weights = dict[Colour, int]
MAX_WEIGHT = 999


def validate_weights(weights: dict[str, int]) -> Weights:
    """Check ``weights`` before any write; :class:`BadInput` says what is wrong."""
    unknown = set(weights) - set(COLOURS)
    if unknown:
        raise BadInput(f"unknown colour {sorted(unknown)[0]!r} (colours: blue, green)")
    checked: Weights = {}
    for colour in COLOURS:
        value = weights.get(colour, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadInput(f"weight of {colour} must be a whole number, got {value!r}")
        if not 0 <= value <= MAX_WEIGHT:
            raise BadInput(f"weight of {colour} must be between 0 and {MAX_WEIGHT}, got {value}")
        checked[colour] = value
    if not any(checked.values()):
        raise BadInput("at least one colour needs a non-zero weight")
    return checked


def percentages(weights: Weights) -> Weights:
    """Weights as whole percentages of the total (for display)."""
    total = sum(weights.values()) or 1
    return {colour: round(100 * weights.get(colour, 0) / total) for colour in COLOURS}


class TrafficRouter(Protocol):
    """Moves a cohort's traffic between its colours and pins tenants to one colour."""

    def read_weights(self) -> Weights:
        """The weights AWS currently routes by."""
        ...

    def set_weights(self, weights: Weights) -> None:
        """Validate, then route by ``weights`` in exactly one AWS write."""
        ...

    def pin(self, tenants: list[TenantRef], colour: Colour) -> None:
        """Send these tenants' requests to ``colour`` whatever the weights say."""
        ...

    def unpin(self, tenant_ids: list[str]) -> None:
        """Remove pins; the tenants follow the weights again."""
        ...

    def pins(self) -> dict[str, Colour]:
        """Tenant id → pinned colour, as AWS currently routes them."""
        ...


# name → factory(clients, cohort resources, router settings) -> TrafficRouter
RouterFactory = Any
ROUTERS: Registry[RouterFactory] = Registry("router", "rollout.routers")
