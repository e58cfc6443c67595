"""Build a cohort's lifecycle hooks from its ``hooks:`` settings, in the order they run.

The one place settings become hooks, and the one place a problem only building can
find (a URL the allow-list refuses, a host that does not resolve) becomes a
:class:`BadInput` naming the cohort and the field, before the rollout writes anything.
"""

from __future__ import annotations

from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.hooks.base import HOOKS, LifecycleHook
from rollout.hooks.settings import CohortHooks


def load_hooks(settings: CohortHooks, cohort: CohortResources) -> list[LifecycleHook]:
    """Every hook of the cohort: in stage order (:data:`~rollout.hooks.base.STAGES`), then
    in the order written; :class:`BadInput` like ``cohort canary:
    hooks.after_allow_traffic.0.url: ...`` for one that cannot be built."""
    hooks: list[LifecycleHook] = []
    for placed in settings.placed():
        factory = HOOKS.get(placed.settings.kind)
        try:
            hooks.append(factory(placed.settings, placed.name, placed.stage, cohort))
        except BadInput as exc:
            field = f"{placed.location}.{placed.settings.target_field}"
            raise BadInput(f"cohort {cohort.cohort}: {field}: {exc}") from None
    return hooks
