"""Each colour's serving capacity at run time: one file per compute kind, in :data:`CAPACITIES`.

:func:`for_cohort` gives a cohort's kind as its stack says (``computeKind``); the
Pulumi side of the same kinds is :mod:`rollout.components.compute`.
"""

from __future__ import annotations

from rollout.aws_clients import AwsClients
from rollout.capacity.base import CAPACITIES, ColourCapacity, TargetStates
from rollout.discovery import CohortResources


def for_cohort(clients: AwsClients, cohort: CohortResources) -> ColourCapacity:
    """The capacity of ``cohort``'s compute kind; a kind nothing registers is BadInput."""
    return CAPACITIES.get(cohort.compute_kind)(clients, cohort)


__all__ = ["ColourCapacity", "TargetStates", "for_cohort"]
