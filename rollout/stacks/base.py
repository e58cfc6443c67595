"""The ``StackDeployer`` protocol: put a version into one colour of a cohort's stack (or the
preferences page's zip into the shared stack).

Deployers only deploy; choosing the colour (:mod:`rollout.stacks.target_colour`),
the pinned-colour guard and recording the outputs (:mod:`rollout.stacks.deploy`)
happen around them, the same way for every deployer. Deployers are looked up by
name (:mod:`rollout.stacks.providers`): ``pulumi`` (the Automation API) ships with
the product, ``local`` (into moto) with the local stand-ins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from rollout.vocabulary.colours import Colour

if TYPE_CHECKING:
    from rollout.model.stack import ColourArtefact, ZipArtefact

DeployerKind = Literal["pulumi", "local"]


class StackPreview(BaseModel):
    """What ``up`` would change, without changing anything.

    ``engine`` names the deployer (the key ``--json`` has always printed).
    """

    model_config = ConfigDict(frozen=True)

    cohort: str
    colour: Colour
    version: str
    current_version: str | None
    engine: DeployerKind
    changes: dict[str, int] = Field(default_factory=dict)
    note: str = ""


class StackDeployer(Protocol):
    """Deploys ``version`` into ``colour`` of ``cohort``'s stack; traffic is never touched."""

    kind: DeployerKind

    def deploy_version(self, cohort: str, colour: Colour, version: str, *,
                       artefact: ColourArtefact | None = None) -> dict[str, Any]:
        """Deploy and return the stack outputs (secret outputs masked).

        ``artefact`` (the release's zip and/or image, from its manifest) goes into the
        stack config as ``artefacts.<colour>`` next to ``versions.<colour>``: the
        program deploys exactly that. Without it the colour keeps no artefact.
        """
        ...

    def preview(self, cohort: str, colour: Colour, version: str, *,
                artefact: ColourArtefact | None = None) -> StackPreview:
        """Say what :meth:`deploy_version` would change, changing nothing."""
        ...

    def deploy_portal(self, stack_name: str, portal_zip: ZipArtefact) -> dict[str, Any]:
        """Deploy the shared stack ``stack_name`` with the preferences page running
        ``portal_zip`` (``portal.zip`` in its config); return the stack outputs."""
        ...
