"""Deploy a cohort's stack through the moto-backed local engine (``--local``).

The same program, the same config override as the Automation API path (the
colour's version), so a pipeline can be rehearsed end to end against moto.
A test double of ``pulumi up``, like the local engine itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.local.engine import LocalEngine
from rollout.stacks.base import Engine, StackPreview
from rollout.vocabulary.colours import Colour


class LocalDeployer:
    """A :class:`~rollout.stacks.base.StackDeployer` over :class:`LocalEngine`."""

    engine: Engine = "local"

    def __init__(self, project_dir: Path, clients: AwsClients | None = None) -> None:
        self._engine = LocalEngine(project_dir, clients)

    def deploy_version(self, cohort: str, colour: Colour, version: str) -> dict[str, Any]:
        results = self._engine.up(cohort, overrides={"versions": {colour: version}})
        return dict(results[-1].outputs)

    def preview(self, cohort: str, colour: Colour, version: str) -> StackPreview:
        """From the local state: a version change retags that colour's target group only."""
        stack_file = self._engine.stack_file(cohort)
        state = self._engine.store(stack_file.config.stack.app).load(cohort)
        if state is None or not state.outputs:
            return StackPreview(cohort=cohort, colour=colour, version=version,
                                current_version=None, engine=self.engine,
                                note="not deployed yet: up creates the whole stack")
        current = state.outputs.get("versions", {}).get(colour)
        total = len(state.resources)
        changes = {"same": total} if current == version else {"update": 1, "same": total - 1}
        return StackPreview(cohort=cohort, colour=colour, version=version,
                            current_version=current, engine=self.engine, changes=changes)
