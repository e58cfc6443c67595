"""One colour (blue or green) of a cohort: a target group tagged with the version it runs."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from rollout.vocabulary.tags import rollout_tags


class ColourSlot(pulumi.ComponentResource):
    """A colour slot. Compute for the version registers its targets in ``target_group``."""

    target_group_arn: pulumi.Output[str]
    version: pulumi.Output[str]

    def __init__(self, name: str, *, app: str, cohort: str, colour: str, version: str,
                 vpc_id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-rollout:index:ColourSlot", name, None, opts)
        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            name=f"{app}-{cohort}-{colour}",
            port=8080,
            protocol="HTTP",
            target_type="ip",
            vpc_id=vpc_id,
            health_check={"path": "/health", "healthy_threshold": 2, "interval": 10},
            tags=rollout_tags(app, cohort, colour, version),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.target_group_arn = target_group.arn
        self.version = pulumi.Output.from_input(version)
        self.register_outputs({"targetGroupArn": self.target_group_arn, "version": version})
