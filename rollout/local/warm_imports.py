"""Importing this module loads everything a stack deploy needs, so forked children start warm.

The fork server of :mod:`rollout.local.child_process` imports it once. pulumi_aws
loads its service modules lazily, on first attribute access, and those are most
of the cost (``pulumi_aws.ec2`` alone is ~0.4 s), so every resource class the
local engine supports is touched here, found from the resource registry.
"""

from __future__ import annotations

import importlib

import rollout.local.program_run  # noqa: F401 - pulumi, the infra program, the mocks
from rollout.local.resources import load_all


def load_resource_classes() -> int:
    """Load the pulumi_aws class of every supported type token; return how many."""
    loaded = 0
    for token in load_all():
        package, module_path, class_name = token.split(":")
        module = importlib.import_module(f"pulumi_{package}.{module_path.split('/')[0]}")
        getattr(module, class_name)
        loaded += 1
    return loaded


load_resource_classes()
