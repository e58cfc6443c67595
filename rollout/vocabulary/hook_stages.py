"""The moments of a rollout at which a cohort's lifecycle hooks run (CodeDeploy's, in snake case).

Here rather than in :mod:`rollout.hooks.base`: ``tenants.yaml``'s model names them too,
and reading that file must not import what running a hook needs.
"""

from __future__ import annotations

from typing import Literal

HookStage = Literal["before_test_traffic", "after_test_traffic", "before_allow_traffic",
                    "after_allow_traffic", "after_promote"]
STAGES: tuple[HookStage, ...] = ("before_test_traffic", "after_test_traffic",
                                 "before_allow_traffic", "after_allow_traffic",
                                 "after_promote")
"""In the order a rollout reaches them."""
BEFORE_TRAFFIC: frozenset[HookStage] = frozenset(STAGES[:3])
"""Stages before any tenant's request reaches the new colour: a failure there blocks."""
