"""Stack outputs from Pulumi's own state (``pulumi stack output``), through the Automation API.

An :class:`~rollout.discovery.OutputsSource` for an environment deployed with
``pulumi up``: each stack's outputs as Pulumi recorded them, secret ones masked
(they are never needed to find resources). A stack Pulumi does not know is None,
so discovery falls back to tags. Needs the Pulumi CLI and access to the state
backend; without the CLI it refuses up front, as ``stacks up`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pulumi import automation as auto
from pulumi.automation.errors import StackNotFoundError

from rollout.stacks.automation import plain_outputs, pulumi_call, require_pulumi_cli
from rollout.vocabulary.tags import SHARED


class PulumiStackOutputs:
    """The outputs of the stacks of the Pulumi project in ``project_dir``."""

    def __init__(self, project_dir: Path) -> None:
        require_pulumi_cli()
        self._project_dir = project_dir

    def stack_outputs(self, stack: str) -> dict[str, Any] | None:
        if not (self._project_dir / f"Pulumi.{stack}.yaml").exists():
            return None

        def select() -> auto.Stack | None:
            try:
                return auto.select_stack(stack_name=stack, work_dir=str(self._project_dir))
            except StackNotFoundError:
                return None

        selected = pulumi_call(f"selecting stack {stack}", select)
        if selected is None:
            return None
        outputs = pulumi_call(f"reading the outputs of stack {stack}", selected.outputs)
        return plain_outputs(outputs) or None

    def cohorts(self) -> list[str]:
        workspace = auto.LocalWorkspace(work_dir=str(self._project_dir))
        stacks = pulumi_call("listing the stacks", workspace.list_stacks)
        return sorted({summary.name.rsplit("/", 1)[-1] for summary in stacks} - {SHARED})
