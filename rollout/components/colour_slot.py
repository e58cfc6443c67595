"""One colour (blue or green) of a cohort: its target group, tagged with the version it runs,
and what runs that version there (see :mod:`rollout.components.compute`)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict

from rollout.components.compute import CohortPlatform, ColourCompute, ColourTarget, ComputeOutputs
from rollout.components.compute.base import TargetType
from rollout.model.stack import ColourArtefact
from rollout.vocabulary import resource_names
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.tags import rollout_tags
from rollout.vocabulary.versions import Version

TARGET_PORT = 8080


class ColourSlotConfig(BaseModel):
    """Which cohort and colour the slot is, the version it runs and that version's artefact."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    app: str
    cohort: str
    colour: Colour
    version: Version
    artefact: ColourArtefact | None = None
    target_type: TargetType = "ip"

    @property
    def target_group_name(self) -> str:
        """The name the rollout library finds the slot by (the stack config checks its length)."""
        return resource_names.target_group(self.app, self.cohort, self.colour)


class ColourSlot(pulumi.ComponentResource):
    """A colour slot: ``target_group`` now, its compute once :meth:`run` is called.

    An ``ip`` target group (port 8080, ``/health``) for compute that registers IPs;
    a ``lambda`` one (no port, protocol or VPC) for a function.
    """

    target_group_arn: pulumi.Output[str]
    version: pulumi.Output[str]

    def __init__(self, name: str, config: ColourSlotConfig, vpc_id: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-rollout:index:ColourSlot", name, None, opts)
        self._name = name
        self._config = config
        by_ip = config.target_type == "ip"
        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            name=config.target_group_name,
            port=TARGET_PORT if by_ip else None,
            protocol="HTTP" if by_ip else None,
            target_type=config.target_type,
            vpc_id=vpc_id if by_ip else None,
            health_check={"path": "/health", "healthy_threshold": 2, "interval": 10}
            if by_ip else None,
            tags=rollout_tags(config.app, config.cohort, config.colour, config.version),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.target_group_arn = target_group.arn
        self.version = pulumi.Output.from_input(config.version)
        self.register_outputs({"targetGroupArn": self.target_group_arn,
                               "version": config.version})

    def run(self, compute: ColourCompute, platform: CohortPlatform,
            serving: Sequence[pulumi.Resource] = ()) -> ComputeOutputs:
        """Declare the colour's compute as children of the slot; what it runs."""
        if compute.target_type != self._config.target_type:
            raise ValueError(f"{self._name}: the compute needs a {compute.target_type} target "
                             f"group, the slot has a {self._config.target_type} one")
        target = ColourTarget(platform=platform, colour=self._config.colour,
                              version=self._config.version, artefact=self._config.artefact,
                              target_group_arn=self.target_group_arn, serving=serving)
        return compute.deploy(self._name, target, pulumi.ResourceOptions(parent=self))
