"""``lambda`` compute: one function per colour, from the release's zip at an exact object version.

The code is referenced by bucket, key *and* S3 object version, so a later upload
under the same key never changes what a colour runs. The function is published;
the published version is registered in the colour's target group of type
``lambda``, which the load balancer may invoke (and nothing else may).

A colour with no artefact in the stack config (``artefacts.<colour>``, written by
``rollout stacks up`` from the release manifest) gets its target group only: there
is nothing to run yet, e.g. in a fresh stack whose colour was never deployed from a
release.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict

from rollout.components.compute.base import (
    CohortPlatform,
    ColourTarget,
    ComputeOutputs,
    TargetType,
    colour_role,
    config_read_statements,
)
from rollout.model.stack import Compute, LambdaCompute, ZipArtefact
from rollout.vocabulary.tags import TAG_PROVISIONED

LOAD_BALANCER_PRINCIPAL = "elasticloadbalancing.amazonaws.com"


class LambdaFunctionConfig(BaseModel):
    """The cohort's lambda settings and the zip one colour runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: LambdaCompute
    zip: ZipArtefact


class LambdaFunction(pulumi.ComponentResource):
    """A colour's function, its role, its load balancer permission and its registration."""

    outputs: ComputeOutputs

    def __init__(self, name: str, config: LambdaFunctionConfig, target: ColourTarget,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tenant-rollout:index:LambdaFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = config.settings
        role = colour_role(name, target, "lambda.amazonaws.com", "function",
                           [*_log_statements(target), *config_read_statements(target)], child)
        function = aws.lambda_.Function(
            name,
            name=target.compute_name,
            role=role.arn,
            handler=settings.handler,
            runtime=settings.runtime,
            memory_size=settings.memory,
            timeout=settings.timeout,
            architectures=[settings.architecture],
            s3_bucket=target.platform.artefact_bucket,
            s3_key=config.zip.key,
            s3_object_version=config.zip.object_version,
            publish=True,
            environment={"variables": target.environment(settings.environment)},
            tags={**target.tags, **({TAG_PROVISIONED: str(settings.provisioned_concurrency)}
                                    if settings.provisioned_concurrency else {})},
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-from-load-balancer",
            action="lambda:InvokeFunction",
            function=function.name,
            qualifier=function.version,
            principal=LOAD_BALANCER_PRINCIPAL,
            source_arn=target.target_group_arn,
            opts=child,
        )
        aws.lb.TargetGroupAttachment(
            f"{name}-registration",
            target_group_arn=target.target_group_arn,
            target_id=function.qualified_arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        if settings.provisioned_concurrency > 0:
            aws.lambda_.ProvisionedConcurrencyConfig(
                f"{name}-concurrency",
                function_name=function.name,
                qualifier=function.version,
                provisioned_concurrent_executions=settings.provisioned_concurrency,
                opts=child,
            )
        self.outputs = {"function": function.name, "functionVersion": function.version,
                        "codeKey": config.zip.key, "codeObjectVersion": config.zip.object_version,
                        "sha256": config.zip.sha256,
                        "provisionedConcurrency": settings.provisioned_concurrency}
        self.register_outputs(self.outputs)


def _log_statements(target: ColourTarget) -> list[dict[str, object]]:
    """Write the function's own log group only."""
    group = pulumi.Output.concat(
        "arn:aws:logs:", target.platform.region, ":", target.platform.account_id,
        ":log-group:/aws/lambda/", target.compute_name)
    return [{"Sid": "OwnLogs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [group, pulumi.Output.concat(group, ":*")]}]


class LambdaFunctions:
    """The ``lambda`` kind: a :class:`LambdaFunction` for each colour that has a zip."""

    target_type: TargetType = "lambda"

    def __init__(self, settings: LambdaCompute) -> None:
        self.settings = settings

    def deploy(self, name: str, target: ColourTarget,
               opts: pulumi.ResourceOptions) -> ComputeOutputs:
        if target.artefact is None:
            return {}
        if target.artefact.zip is None:
            raise pulumi.RunError(
                f"artefacts.{target.colour} of {target.artefact.version} has no zip, and a "
                "lambda cohort runs one: publish the release with its zip")
        config = LambdaFunctionConfig(settings=self.settings, zip=target.artefact.zip)
        return LambdaFunction(f"{name}-function", config, target, opts).outputs


def lambda_functions(settings: Compute, platform: CohortPlatform, name: str,
                     opts: pulumi.ResourceOptions) -> LambdaFunctions:
    if not isinstance(settings, LambdaCompute):
        raise TypeError(f"the lambda kind was given {settings.kind} settings")
    return LambdaFunctions(settings)
