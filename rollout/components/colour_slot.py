"""One colour (blue or green) of a cohort: a target group tagged with the version it runs."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict

from rollout.vocabulary import resource_names
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.tags import rollout_tags
from rollout.vocabulary.versions import Version

TARGET_PORT = 8080


class ColourSlotConfig(BaseModel):
    """Which cohort and colour the slot is, and the version it runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    app: str
    cohort: str
    colour: Colour
    version: Version

    @property
    def target_group_name(self) -> str:
        """The name the rollout library finds the slot by (the stack config checks its length)."""
        return resource_names.target_group(self.app, self.cohort, self.colour)


class ColourSlot(pulumi.ComponentResource):
    """A colour slot. Compute for the version registers its targets in ``target_group``."""

    target_group_arn: pulumi.Output[str]
    version: pulumi.Output[str]

    def __init__(self, name: str, config: ColourSlotConfig, vpc_id: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-rollout:index:ColourSlot", name, None, opts)
        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            name=config.target_group_name,
            port=TARGET_PORT,
            protocol="HTTP",
            target_type="ip",
            vpc_id=vpc_id,
            health_check={"path": "/health", "healthy_threshold": 2, "interval": 10},
            tags=rollout_tags(config.app, config.cohort, config.colour, config.version),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.target_group_arn = target_group.arn
        self.version = pulumi.Output.from_input(config.version)
        self.register_outputs({"targetGroupArn": self.target_group_arn,
                               "version": config.version})
