"""The least-privilege IAM policy for the role that rolls out one cohort.

Pure: built from the cohort's resources and the account id. Every action is
named in full (the security gate's own rule forbids wildcards) and is one the
rollout commands really call (``tests/integration/test_least_privilege.py`` runs
a whole rollout as a user holding only this policy, with IAM enforced, and shows
what dropping one action does); resources are the cohort's exact ARNs. Only
calls that AWS does not authorise per resource (``Describe*`` of whole services,
``tag:GetResources``, CloudWatch metric reads, ``iam:ListPolicies``) get
``Resource: "*"``, and they are read-only.

``s3:ListBucket`` on the artefact bucket carries no ``s3:prefix`` condition on
purpose: S3 answers a read of a missing key with 404 only to callers that may
list the bucket (to others it says 403), and the artefact store relies on that
404 to tell "not published yet" from "forbidden". A read has no ``s3:prefix``
in its request context, so a prefix-scoped listing grant cannot be relied on
for that check. The bucket belongs to the app and holds nothing but its releases.

The policy covers the ALB router (the default). Deploying a colour (``stacks up``,
``rollback --to-version``) is Pulumi's job and runs as the deployment identity,
not as this role.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rollout.discovery import CohortResources
from rollout.local.state import STATE_BUCKET

ARTEFACT_PREFIX = "releases/"


class Statement(BaseModel):
    model_config = ConfigDict(frozen=True)

    sid: str
    actions: list[str]
    resources: list[str]
    condition: dict[str, dict[str, list[str]]] | None = None

    def as_aws(self) -> dict[str, Any]:
        statement: dict[str, Any] = {"Sid": self.sid, "Effect": "Allow",
                                     "Action": sorted(self.actions),
                                     "Resource": self.resources}
        if self.condition:
            statement["Condition"] = self.condition
        return statement


class RolePolicy(BaseModel):
    """An IAM policy document, kept as statements until it is printed."""

    model_config = ConfigDict(frozen=True)

    statements: list[Statement] = Field(default_factory=list)

    def as_aws(self) -> dict[str, Any]:
        return {"Version": "2012-10-17",
                "Statement": [statement.as_aws() for statement in self.statements]}


def _arn_parts(cohort: CohortResources) -> tuple[str, str]:
    """Partition and region, taken from the listener ARN so GovCloud/China ARNs come out right."""
    parts = cohort.listener_arn.split(":")
    return parts[1], parts[3]


def listener_rule_arns(listener_arn: str) -> str:
    """ARN pattern of every rule of one listener (tenant pins are listener rules)."""
    return listener_arn.replace(":listener/", ":listener-rule/", 1) + "/*"


def rollout_role_policy(cohort: CohortResources, account: str,
                        config_policy_name: str) -> RolePolicy:
    """The policy a role needs to run every rollout command on ``cohort`` and nothing more."""
    partition, region = _arn_parts(cohort)
    bucket_arn = f"arn:{partition}:s3:::{cohort.artefact_bucket}"
    table_arn = f"arn:{partition}:dynamodb:{region}:{account}:table/{cohort.ledger_table}"
    parameters_arn = f"arn:{partition}:ssm:{region}:{account}:parameter{cohort.param_prefix}/*"
    policy_arn = f"arn:{partition}:iam::{account}:policy/{config_policy_name}"
    statements = [
        Statement(sid="ReadWithoutResourceLevelPermissions", resources=["*"], actions=[
            "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTags",
            "ssm:DescribeParameters", "iam:ListPolicies", "tag:GetResources",
            "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics"]),
        Statement(sid="ShiftTrafficOnTheCohortListener", resources=[cohort.listener_arn],
                  actions=["elasticloadbalancing:ModifyListener",
                           "elasticloadbalancing:CreateRule"]),
        Statement(sid="PinTenantsWithListenerRules",
                  resources=[listener_rule_arns(cohort.listener_arn)], actions=[
                      "elasticloadbalancing:ModifyRule", "elasticloadbalancing:DeleteRule",
                      "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]),
        Statement(sid="TenantConfiguration", resources=[parameters_arn], actions=[
            "ssm:GetParameters", "ssm:PutParameter", "ssm:DeleteParameter",
            "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource",
            "ssm:ListTagsForResource"]),
        Statement(sid="RolloutLedger", resources=[table_arn], actions=[
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
            "dynamodb:DeleteItem", "dynamodb:Query"]),
        Statement(sid="Notices", resources=[cohort.notices_topic_arn], actions=["sns:Publish"]),
        Statement(sid="ArtefactBucketChecks", resources=[bucket_arn], actions=[
            "s3:GetBucketVersioning", "s3:GetBucketPolicy",
            "s3:GetBucketPublicAccessBlock", "s3:GetBucketAcl"]),
        Statement(sid="ListReleaseArtefacts", resources=[bucket_arn], actions=["s3:ListBucket"]),
        Statement(sid="ReleaseArtefacts", resources=[f"{bucket_arn}/{ARTEFACT_PREFIX}*"],
                  actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                           "s3:AbortMultipartUpload"]),
        Statement(sid="CohortAlarms",
                  resources=[f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*"],
                  actions=["cloudwatch:DescribeAlarms"]),
        Statement(sid="SecurityGateReadsConfigPolicy", resources=[policy_arn],
                  actions=["iam:GetPolicy", "iam:GetPolicyVersion"]),
    ]
    if cohort.kms_key_arn:
        statements += [
            Statement(sid="SecurityGateDescribesKey", resources=[cohort.kms_key_arn],
                      actions=["kms:DescribeKey"]),
            Statement(sid="TenantConfigurationKey", resources=[cohort.kms_key_arn],
                      actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                      condition={"StringEquals": {
                          "kms:ViaService": [f"ssm.{region}.amazonaws.com"]}}),
        ]
    return RolePolicy(statements=statements)


def local_engine_state_policy(cohort: CohortResources) -> RolePolicy:
    """What a rollout against the local engine (moto) needs on top of :func:`rollout_role_policy`.

    Against a local endpoint, discovery first reads the app's stack outputs from
    the local engine's state bucket and lists the app's stacks there (see
    :mod:`rollout.local.state`), falling back to tags when there are none; on AWS
    it never looks there, so a real role must not get this.
    """
    partition, _ = _arn_parts(cohort)
    stacks = f"stacks/{cohort.app}/"
    bucket_arn = f"arn:{partition}:s3:::{STATE_BUCKET}"
    return RolePolicy(statements=[
        Statement(sid="LocalEngineStackOutputs", resources=[f"{bucket_arn}/{stacks}*"],
                  actions=["s3:GetObject"]),
        Statement(sid="LocalEngineStacks", resources=[bucket_arn], actions=["s3:ListBucket"]),
    ])
