"""The CrossGuard policy pack run as the Pulumi engine runs it, with no engine at hand.

The unit tests hand it crafted resources, the integration tests what the local
deployer really deployed; both collect the messages the same way, so a policy that
passes one and fails the other does so for what it was given, not how it was run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
"""Resource options as the engine passes them for a resource that sets none."""


def policy_resource(typ: str, name: str, props: Any, *, stack: str, project: str,
                    depends: Mapping[str, list[PolicyResource]] | None = None,
                    ) -> PolicyResource:
    """One resource of ``stack`` as a stack policy sees it (``props`` as given: plain or
    through pulumi_policy's unknown-checking proxy)."""
    return PolicyResource(typ, props, f"urn:pulumi:{stack}::{project}::{typ}::{name}", name,
                          OPTIONS, None, None, [], dict(depends or {}))


def violations(policies: Iterable[Policy], resources: Sequence[PolicyResource], *,
               skip_unknown: bool = False) -> list[str]:
    """Every message ``policies`` report on ``resources``, in order.

    With ``skip_unknown``, a resource policy that reads a value unknown during a preview
    is not judged on that resource, as the engine does.
    """
    found: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(message)

    for policy in policies:
        if isinstance(policy, StackValidationPolicy):
            policy.validate(StackValidationArgs(list(resources)), report)
            continue
        assert isinstance(policy, ResourceValidationPolicy)
        for item in resources:
            args = ResourceValidationArgs(item.resource_type, item.props, item.urn, item.name,
                                          OPTIONS, None)
            with contextlib.suppress(*((UnknownValueError,) if skip_unknown else ())):
                policy.validate(args, report)
    return found
