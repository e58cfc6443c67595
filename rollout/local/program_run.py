"""Run the infra program for one stack under :class:`MotoMocks`, in a process of its own.

``set_mocks`` configures Pulumi's runtime for the whole process, so each stack
runs in a fresh process (started by :mod:`rollout.local.child_process`), which
calls :func:`deploy` with a :class:`StackRequest` and returns its
:class:`StackSummary`. :func:`run_under_mocks` is the part that knows how to
drive a Pulumi program without the Pulumi engine; the unit tests of the
program use it too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from rollout.components.program import declare
from rollout.local.endpoint import local_deployer_clients
from rollout.local.messages import StackRequest, StackSummary
from rollout.local.mocks import MotoMocks
from rollout.local.state import LocalStateStore
from rollout.model.stack import parse_stack
from rollout.vocabulary.names import CONFIG_KEY, PROJECT


def stack_config_values(raw_config: dict[str, Any], region: str) -> dict[str, str]:
    """The stack's config as the Pulumi runtime holds it: ``namespace:key`` → JSON text."""
    return {f"{PROJECT}:{CONFIG_KEY}": json.dumps(raw_config), "aws:region": region}


def run_under_mocks(mocks: pulumi.runtime.Mocks, *, stack: str, config: dict[str, str],
                    program: Callable[[], Any], monitor: MockMonitor | None = None) -> Any:
    """Run ``program`` as stack ``stack`` under ``mocks``; return its result with outputs resolved.

    ``run_in_stack`` would wait for an engine that never comes, so this waits for
    the registrations itself, on the loop ``set_mocks`` bound the root stack to.
    """
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False,
                             monitor=monitor)
    pulumi.runtime.set_all_config(config)
    result: dict[str, Any] = {}

    def body() -> None:
        declared = program()
        result["value"] = _sync_await(pulumi.Output.from_input(declared).future())

    _sync_await(run_pulumi_func(body))
    return result.get("value")


def deploy(request: StackRequest) -> StackSummary:
    """Deploy one stack into moto. Call only in a process of its own (see module doc).

    The state is saved at the end, and on failure too, so what was reconciled
    before the failure is kept; created resources were saved as they were made.
    """
    os.environ.clear()
    os.environ.update(request.environment)
    clients = local_deployer_clients(request.region)
    store = LocalStateStore(clients, str(request.config["app"]))
    mocks = MotoMocks(clients, store, request.stack)
    config = parse_stack(request.config)
    try:
        outputs = run_under_mocks(
            mocks, stack=request.stack,
            config=stack_config_values(request.config, request.region),
            program=lambda: declare(config, request.region))
    except Exception as exc:
        store.save(request.stack, mocks.state)
        raise RuntimeError(mocks.errors[0] if mocks.errors else f"{type(exc).__name__}: {exc}")\
            from None
    if mocks.errors:
        store.save(request.stack, mocks.state)
        raise RuntimeError(mocks.errors[0])
    state = mocks.state
    state.outputs = dict(outputs or {})
    state.overrides = request.overrides
    store.save(request.stack, state)
    return StackSummary(mocks.created, mocks.reused, state.outputs)
