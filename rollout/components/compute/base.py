"""What every compute kind is given for one colour, and what it must provide.

A compute kind (``external``, ``lambda``, ``ecs``, or a user's own) is built once per
cohort by a :data:`ComputeFactory` and then asked, colour by colour, to declare what
that colour runs (:meth:`ColourCompute.deploy`). It says which target group type its
targets need (:attr:`ColourCompute.target_type`), so the colour slot makes the right one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import pulumi
import pulumi_aws as aws

from rollout.components.service_role import service_role
from rollout.model.stack import ColourArtefact, Compute
from rollout.vocabulary import resource_names
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.tags import rollout_tags
from rollout.vocabulary.versions import Version

TargetType = Literal["ip", "lambda"]
ComputeOutputs = dict[str, pulumi.Input[object]]

TENANT_HOSTS_VARIABLE = "ROLLOUT_TENANT_HOSTS"
CONFIG_PATH_VARIABLE = "ROLLOUT_CONFIG_PATH"
COLOUR_VARIABLE = "ROLLOUT_COLOUR"
VERSION_VARIABLE = "ROLLOUT_VERSION"


@dataclass(frozen=True)
class CohortPlatform:
    """What a cohort lends the compute of both its colours (network, artefacts, key)."""

    app: str
    cohort: str
    region: str
    account_id: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    artefact_bucket: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    tenant_hosts: dict[str, str] = field(default_factory=dict)
    """Host → tenant id of the cohort's tenants: how the code names a request's tenant."""


@dataclass(frozen=True)
class ColourTarget:
    """One colour as its compute sees it: what to run and where to register it.

    ``serving`` are the resources that must exist before targets are registered (the
    listener: ECS refuses a target group no load balancer uses yet).
    """

    platform: CohortPlatform
    colour: Colour
    version: Version
    artefact: ColourArtefact | None
    target_group_arn: pulumi.Input[str]
    serving: Sequence[pulumi.Resource] = field(default_factory=tuple)

    @property
    def compute_name(self) -> str:
        """The name of what the colour runs (function, service, task family, role)."""
        return resource_names.colour_compute(self.platform.app, self.platform.cohort, self.colour)

    @property
    def parameters_path(self) -> str:
        """The colour's own tenant-config namespace, ``/<app>/<cohort>/<colour>``."""
        namespace = resource_names.parameter_namespace(self.platform.app, self.platform.cohort)
        return resource_names.colour_parameters(namespace, self.colour)

    @property
    def tags(self) -> dict[str, str]:
        return rollout_tags(self.platform.app, self.platform.cohort, self.colour, self.version)

    def environment(self, extra: dict[str, str]) -> dict[str, str]:
        """``extra`` plus the variables naming the colour, its version, its settings and
        (when the cohort lists tenants with hosts) which host is which tenant."""
        hosts = ({TENANT_HOSTS_VARIABLE: json.dumps(self.platform.tenant_hosts, sort_keys=True)}
                 if self.platform.tenant_hosts else {})
        return {**extra, **hosts, CONFIG_PATH_VARIABLE: self.parameters_path,
                COLOUR_VARIABLE: self.colour, VERSION_VARIABLE: self.version}


class ColourCompute(Protocol):
    """One cohort's compute kind: declares, colour by colour, what that colour runs."""

    target_type: TargetType

    def deploy(self, name: str, target: ColourTarget,
               opts: pulumi.ResourceOptions) -> ComputeOutputs:
        """Declare the colour's compute (children of ``opts.parent``); what it runs."""
        ...


ComputeFactory = Callable[[Compute, CohortPlatform, str, pulumi.ResourceOptions], ColourCompute]
"""``factory(compute settings, cohort platform, resource name prefix, options)``, once per
cohort: resources both colours share (an ECS cluster) are declared here."""


def config_read_statements(target: ColourTarget) -> list[dict[str, object]]:
    """Read the colour's own settings (never the other colour's) and decrypt them via SSM."""
    path_arn = pulumi.Output.concat(
        "arn:aws:ssm:", target.platform.region, ":", target.platform.account_id,
        ":parameter", target.parameters_path)
    return [{
        "Sid": "ColourSettingsRead",
        "Effect": "Allow",
        "Action": ["ssm:GetParameter", "ssm:GetParametersByPath"],
        "Resource": [path_arn, pulumi.Output.concat(path_arn, "/*")],
    }, {
        "Sid": "ColourSettingsKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": target.platform.key_arn,
        "Condition": {"StringEquals": {
            "kms:ViaService": f"ssm.{target.platform.region}.amazonaws.com"}},
    }]


def colour_role(name: str, target: ColourTarget, service: str, purpose: str,
                statements: list[dict[str, object]], opts: pulumi.ResourceOptions,
                ) -> aws.iam.Role:
    """A role only ``service`` may assume, allowed exactly ``statements``, named
    ``<compute name>-<purpose>``: one colour's roles never share a name."""
    return service_role(name, f"{target.compute_name}-{purpose}", service, statements,
                        target.tags, opts)
