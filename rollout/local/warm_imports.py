"""Importing this module loads everything a stack deploy needs, so forked children start warm.

The fork server of :mod:`rollout.local.child_process` imports it once. pulumi_aws
loads its service modules lazily, on first attribute access, and those are most
of the cost (``pulumi_aws.ec2`` alone is ~0.4 s), so every resource class the
local deployer supports is touched here, found from the resource registry. The
botocore models of the services the deployer uses are loaded too (EC2's alone
takes a few hundred milliseconds), into the loader every session shares.
"""

from __future__ import annotations

import importlib
import keyword
from typing import Any, cast

import rollout.local.program_run  # noqa: F401 - pulumi, the infra program, the mocks
from rollout.aws_clients import new_session
from rollout.local.endpoint import DEPLOYER_SERVICES
from rollout.local.resources import load_all


def load_resource_classes() -> int:
    """Load the pulumi_aws class of every supported type token; return how many."""
    loaded = 0
    for token in load_all():
        package, module_path, class_name = token.split(":")
        service = module_path.split("/")[0]
        # Python keywords get a trailing underscore as module names: pulumi_aws.lambda_.
        module = importlib.import_module(
            f"pulumi_{package}.{service}{'_' if keyword.iskeyword(service) else ''}")
        getattr(module, class_name)
        loaded += 1
    return loaded


def load_service_models() -> int:
    """Load the botocore models of :data:`DEPLOYER_SERVICES`; return how many.

    Creating a client loads its model, endpoint rules and retry settings and
    sends nothing; these clients are dropped before any child is forked.
    """
    session = cast(Any, new_session(region_name="us-east-1", aws_access_key_id="warm",
                                    aws_secret_access_key="warm"))
    for service in DEPLOYER_SERVICES:
        session.client(service, endpoint_url="http://127.0.0.1:9")
    return len(DEPLOYER_SERVICES)


load_resource_classes()
load_service_models()
