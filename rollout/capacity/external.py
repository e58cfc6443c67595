"""``external``: your own compute registers targets; we only read their health."""

from __future__ import annotations

from rollout.capacity.base import CAPACITIES, TargetGroupCapacity


@CAPACITIES.register("external")
class ExternalCapacity(TargetGroupCapacity):
    """Sizing is yours; a colour is ready when one of its targets is healthy."""

    kind = "external"
