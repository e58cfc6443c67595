"""Run the infra program for one stack under :class:`MotoMocks`, in a fresh process.

``set_mocks`` configures Pulumi's runtime for the whole process and must come
before the program is imported, so each stack runs in a process of its own
(started by :class:`rollout.local.engine.LocalEngine`). Input is a JSON request
on stdin; output is a JSON summary on stdout, or one error line on stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.config import CONFIG_KEY, PROJECT, StackConfigFile
from rollout.aws_clients import AwsClients
from rollout.local.mocks import MotoMocks
from rollout.local.state import LocalStateStore


def run(stack: str, raw_config: dict[str, Any], region: str,
        overrides: dict[str, Any]) -> dict[str, Any]:
    """Deploy ``stack`` into moto and return what was created, reused and output."""
    clients = AwsClients()
    store = LocalStateStore(clients, str(raw_config["app"]))
    mocks = MotoMocks(clients, store, stack)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config({f"{PROJECT}:{CONFIG_KEY}": json.dumps(raw_config),
                                   "aws:region": region})
    from infra.program import declare  # after set_mocks, as Pulumi requires

    config = StackConfigFile.model_validate({"stack": raw_config})
    outputs: dict[str, Any] = {}

    def program() -> None:
        declared = declare(config, region)
        resolved: Any = _sync_await(pulumi.Output.from_input(declared).future())
        outputs.update(resolved or {})

    try:
        _sync_await(run_pulumi_func(program))
    except Exception as exc:
        raise RuntimeError(mocks.errors[0] if mocks.errors else f"{type(exc).__name__}: {exc}")\
            from None
    if mocks.errors:
        raise RuntimeError(mocks.errors[0])
    state = mocks.state
    state.outputs = outputs
    state.overrides = overrides
    store.save(stack, state)
    return {"created": mocks.created, "reused": mocks.reused, "outputs": outputs}


def main() -> int:
    request = json.load(sys.stdin)
    try:
        summary = run(request["stack"], request["config"], request["region"],
                      request.get("overrides", {}))
    except Exception as exc:
        print(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, file=sys.stderr)
        return 1
    json.dump(summary, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
