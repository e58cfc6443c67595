"""The ``StackDeployer`` protocol: put a version into one colour of a cohort's stack.

Deployers only deploy; choosing the colour (:mod:`rollout.stacks.target_colour`)
and recording the outputs (:mod:`rollout.stacks.outputs_record`) happen around
them, the same way for every engine.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from rollout.vocabulary.colours import Colour

Engine = Literal["pulumi", "local"]


class StackPreview(BaseModel):
    """What ``up`` would change, without changing anything."""

    model_config = ConfigDict(frozen=True)

    cohort: str
    colour: Colour
    version: str
    current_version: str | None
    engine: Engine
    changes: dict[str, int] = Field(default_factory=dict)
    note: str = ""


class StackDeployer(Protocol):
    """Deploys ``version`` into ``colour`` of ``cohort``'s stack; traffic is never touched."""

    engine: Engine

    def deploy_version(self, cohort: str, colour: Colour, version: str) -> dict[str, Any]:
        """Deploy and return the stack outputs (secret outputs masked)."""
        ...

    def preview(self, cohort: str, colour: Colour, version: str) -> StackPreview:
        """Say what :meth:`deploy_version` would change, changing nothing."""
        ...
