"""The least-privilege IAM policy for the role that rolls out one cohort.

Pure: built from the cohort's resources and the account id. Every action is
named in full (the security gate's own rule forbids wildcards); resources are
the cohort's exact ARNs. Only calls that AWS does not authorise per resource
(``Describe*``/``List*`` of whole services, CloudWatch metric reads) get
``Resource: "*"``, and they are read-only.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rollout.discovery import CohortResources

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
    rules_arn = listener_rule_arns(cohort.listener_arn)
    statements = [
        Statement(sid="ReadWithoutResourceLevelPermissions", resources=["*"], actions=[
            "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTags",
            "elasticloadbalancing:DescribeTargetHealth",
            "ssm:DescribeParameters", "dynamodb:ListTables", "sns:ListTopics",
            "s3:ListAllMyBuckets", "iam:ListPolicies",
            "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics",
            "cloudwatch:ListMetrics"]),
        Statement(sid="ShiftTrafficOnTheCohortListener", resources=[cohort.listener_arn],
                  actions=["elasticloadbalancing:ModifyListener",
                           "elasticloadbalancing:CreateRule"]),
        Statement(sid="PinTenantsWithListenerRules", resources=[rules_arn], actions=[
            "elasticloadbalancing:CreateRule", "elasticloadbalancing:ModifyRule",
            "elasticloadbalancing:DeleteRule", "elasticloadbalancing:SetRulePriorities",
            "elasticloadbalancing:AddTags"]),
        Statement(sid="TenantConfiguration", resources=[parameters_arn], actions=[
            "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath",
            "ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters",
            "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource",
            "ssm:ListTagsForResource"]),
        Statement(sid="RolloutLedger", resources=[table_arn], actions=[
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
            "dynamodb:DeleteItem", "dynamodb:Query"]),
        Statement(sid="Notices", resources=[cohort.notices_topic_arn], actions=["sns:Publish"]),
        Statement(sid="ArtefactBucketChecks", resources=[bucket_arn], actions=[
            "s3:GetBucketTagging", "s3:GetBucketVersioning", "s3:GetBucketPolicy",
            "s3:GetBucketPublicAccessBlock", "s3:GetBucketAcl"]),
        Statement(sid="ListReleaseArtefacts", resources=[bucket_arn],
                  actions=["s3:ListBucket", "s3:ListBucketVersions"],
                  condition={"StringLike": {"s3:prefix": [ARTEFACT_PREFIX,
                                                          f"{ARTEFACT_PREFIX}*"]}}),
        Statement(sid="ReleaseArtefacts", resources=[f"{bucket_arn}/{ARTEFACT_PREFIX}*"],
                  actions=["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject",
                           "s3:DeleteObject"]),
        Statement(sid="CohortAlarms",
                  resources=[f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*"],
                  actions=["cloudwatch:DescribeAlarms"]),
        Statement(sid="SecurityGateReadsConfigPolicy", resources=[policy_arn],
                  actions=["iam:GetPolicy", "iam:GetPolicyVersion"]),
    ]
    if cohort.kms_key_arn:
        statements.append(Statement(sid="TenantConfigurationKey", resources=[cohort.kms_key_arn],
                                    actions=["kms:DescribeKey", "kms:Decrypt", "kms:Encrypt",
                                             "kms:GenerateDataKey"]))
    return RolePolicy(statements=statements)
