"""The least-privilege IAM policies of the two roles that run rollouts.

Pure: built from the app's resources and the account id. Every action is named
in full (the security gate's own rule forbids wildcards) and is one the rollout
commands really call (``tests/integration/test_least_privilege.py`` runs a whole
rollout as users holding only these policies, with IAM enforced, and shows what
dropping one action does); resources are exact ARNs. Only calls that AWS does
not authorise per resource (``Describe*`` of whole services, ``tag:GetResources``,
CloudWatch metric reads, ``iam:ListPolicies``, ``secretsmanager:ListSecrets`` and
``BatchGetSecretValue``, which needs ``GetSecretValue`` on each secret as well)
get ``Resource: "*"``, and they are read-only.

Two roles, because what one cohort may touch and what the app's releases need are
different trust levels:

- a **cohort role** (:func:`rollout_role_policy`, one per cohort, printed by
  ``rollout iam-policy --cohort C``) moves its own cohort: its listener, its
  tenants' configuration in both colours, and only its own ledger items
  (``COHORT#<cohort>``: state, lock, events, stop requests; ``CONFIG#<cohort>``:
  config-copy snapshots; ``STACK#<cohort>``: what ``stacks up`` deployed, for a
  pipeline that deploys under the same role). It *reads* every cohort's ledger
  items, because
  ``status``, ``report`` and the stage promotion (``promote --from canary --to
  wave1``) read other cohorts' state, and the release's notice records, because
  ``start`` refuses tenants whose notice period is not over. It only reads the
  artefact store: a published release is write-once for it.
- the **release role** (:func:`release_role_policy`, one per app) publishes,
  verifies and prunes releases and sends the notices (``notify`` claims
  ``NOTICE#<release>`` records); it reads cohort state, for retention, and
  nothing else of a cohort. Even it can only create objects in the store, never replace
  one (see :func:`release_role_policy`).

The ledger is scoped with ``dynamodb:LeadingKeys`` under ``ForAllValues:``: the
condition holds when every partition key a request touches is listed. Such a
condition is also true for a request with no partition key at all (``Scan``),
which is why only item and partition actions (``GetItem``, ``Query``,
``PutItem``, ``UpdateItem``, ``DeleteItem``, ``ConditionCheckItem``, the items
of a transaction) are ever granted.

``s3:ListBucket`` on the artefact bucket carries no ``s3:prefix`` condition on
purpose: S3 answers a read of a missing key with 404 only to callers that may
list the bucket (to others it says 403), and the artefact store relies on that
404 to tell "not published yet" from "forbidden". A read has no ``s3:prefix``
in its request context, so a prefix-scoped listing grant cannot be relied on
for that check. The bucket belongs to the app and holds nothing but its releases.

The policies cover the ALB router (the default). Deploying a colour (``stacks up``,
``rollback --to-version``) is Pulumi's job and needs the deployment identity's
permissions, which these policies do not grant.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rollout.configcopy.snapshot import config_pk
from rollout.discovery import CohortResources, SharedResources
from rollout.local.state import STATE_BUCKET
from rollout.rollouts.ledger import cohort_pk
from rollout.schedule.notice import notice_pk
from rollout.stacks.outputs_record import stack_pk
from rollout.vocabulary.colours import COLOURS

ARTEFACT_PREFIX = "releases/"
LEADING_KEYS = "dynamodb:LeadingKeys"
EVERY = "*"


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


def _shared_arn_parts(shared: SharedResources) -> tuple[str, str]:
    """Partition and region of the shared stack (ledger, bucket, topic): its topic's ARN."""
    parts = shared.notices_topic_arn.split(":")
    return parts[1], parts[3]


def listener_rule_arns(listener_arn: str) -> str:
    """ARN pattern of every rule of one listener (tenant pins are listener rules)."""
    return listener_arn.replace(":listener/", ":listener-rule/", 1) + "/*"


def _ledger_arn(shared: SharedResources, account: str) -> str:
    partition, region = _shared_arn_parts(shared)
    return f"arn:{partition}:dynamodb:{region}:{account}:table/{shared.ledger_table}"


def _leading_keys(operator: str, keys: list[str]) -> dict[str, dict[str, list[str]]]:
    return {f"ForAllValues:{operator}": {LEADING_KEYS: keys}}


def rollout_role_policy(cohort: CohortResources, account: str,
                        config_policy_name: str) -> RolePolicy:
    """The policy a role needs to run every rollout command on ``cohort`` and nothing more.

    Publishing releases and sending notices are the release role's
    (:func:`release_role_policy`).
    """
    partition, region = _arn_parts(cohort)
    bucket_arn = f"arn:{partition}:s3:::{cohort.artefact_bucket}"
    table_arn = _ledger_arn(cohort, account)
    parameters = [f"arn:{partition}:ssm:{region}:{account}:parameter{cohort.colour_prefix(c)}/*"
                  for c in COLOURS]
    secret_names = cohort.param_prefix.strip("/")
    secrets = [f"arn:{partition}:secretsmanager:{region}:{account}:secret:{secret_names}/{c}/*"
               for c in COLOURS]
    policy_arn = f"arn:{partition}:iam::{account}:policy/{config_policy_name}"
    statements = [
        Statement(sid="ReadWithoutResourceLevelPermissions", resources=[EVERY], actions=[
            "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTags",
            "ssm:DescribeParameters", "iam:ListPolicies", "tag:GetResources",
            "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics",
            "secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue"]),
        Statement(sid="ShiftTrafficOnTheCohortListener", resources=[cohort.listener_arn],
                  actions=["elasticloadbalancing:ModifyListener",
                           "elasticloadbalancing:CreateRule"]),
        Statement(sid="PinTenantsWithListenerRules",
                  resources=[listener_rule_arns(cohort.listener_arn)], actions=[
                      "elasticloadbalancing:ModifyRule", "elasticloadbalancing:DeleteRule",
                      "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]),
        Statement(sid="TenantConfiguration", resources=parameters, actions=[
            "ssm:GetParameters", "ssm:PutParameter", "ssm:DeleteParameter",
            "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource",
            "ssm:ListTagsForResource"]),
        Statement(sid="TenantSecrets", resources=secrets, actions=[
            "secretsmanager:GetSecretValue", "secretsmanager:CreateSecret",
            "secretsmanager:UpdateSecret", "secretsmanager:PutSecretValue",
            "secretsmanager:DeleteSecret", "secretsmanager:TagResource",
            "secretsmanager:UntagResource"]),
        Statement(sid="RolloutLedger", resources=[table_arn], actions=[
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
            "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"],
            condition=_leading_keys("StringEquals", [cohort_pk(cohort.cohort),
                                                     config_pk(cohort.cohort),
                                                     stack_pk(cohort.cohort)])),
        Statement(sid="ReadOtherCohortsAndNotices", resources=[table_arn],
                  actions=["dynamodb:GetItem", "dynamodb:Query"],
                  condition=_leading_keys("StringLike", [cohort_pk(EVERY),
                                                         notice_pk(EVERY)])),
        Statement(sid="ArtefactBucketChecks", resources=[bucket_arn], actions=[
            "s3:GetBucketVersioning", "s3:GetBucketPolicy",
            "s3:GetBucketPublicAccessBlock", "s3:GetBucketAcl"]),
        Statement(sid="ListReleaseArtefacts", resources=[bucket_arn], actions=["s3:ListBucket"]),
        Statement(sid="ReleaseArtefacts", resources=[f"{bucket_arn}/{ARTEFACT_PREFIX}*"],
                  actions=["s3:GetObject"]),
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
                      condition={"StringEquals": {"kms:ViaService": [
                          f"ssm.{region}.amazonaws.com",
                          f"secretsmanager.{region}.amazonaws.com"]}}),
        ]
    return RolePolicy(statements=statements)


def release_role_policy(shared: SharedResources, account: str) -> RolePolicy:
    """What ``release publish|list|verify|prune``, ``plan`` and ``notify`` need, for one app.

    It may delete releases (``prune``), so it is the store's owner: give it to the
    release pipeline, not to a cohort's. Discovery (the tagging API, the listeners
    and rules that pin tenants) is read-only; of the ledger it reads cohort state
    (what retention must keep) and writes only notice records.

    Even this role cannot replace a published object: it may write one only
    with ``If-None-Match`` (``s3:if-none-match`` present), which S3 refuses for
    a key that exists. ``CreateMultipartUpload`` and ``UploadPart`` carry no
    such header and create nothing (``s3:ObjectCreationOperation`` false): the
    ``CompleteMultipartUpload`` that creates the object needs it. ``prune``
    deletes old releases with ``DeleteObject`` (delete markers); without
    ``DeleteObjectVersion`` the published bytes stay as noncurrent versions.
    """
    partition, _ = _shared_arn_parts(shared)
    bucket_arn = f"arn:{partition}:s3:::{shared.artefact_bucket}"
    releases = f"{bucket_arn}/{ARTEFACT_PREFIX}{shared.app}/*"
    table_arn = _ledger_arn(shared, account)
    return RolePolicy(statements=[
        Statement(sid="ReadWithoutResourceLevelPermissions", resources=[EVERY], actions=[
            "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTags",
            "tag:GetResources"]),
        Statement(sid="ListReleaseArtefacts", resources=[bucket_arn], actions=["s3:ListBucket"]),
        Statement(sid="ReadAndPruneReleases", resources=[releases],
                  actions=["s3:GetObject", "s3:AbortMultipartUpload", "s3:DeleteObject"]),
        Statement(sid="PublishNewObjectsOnly", resources=[releases], actions=["s3:PutObject"],
                  condition={"Null": {"s3:if-none-match": ["false"]}}),
        Statement(sid="UploadPartsOfNewObjects", resources=[releases], actions=["s3:PutObject"],
                  condition={"Bool": {"s3:ObjectCreationOperation": ["false"]}}),
        Statement(sid="NoticeRecords", resources=[table_arn], actions=[
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"],
            condition=_leading_keys("StringLike", [notice_pk(EVERY)])),
        Statement(sid="ReadCohortStates", resources=[table_arn],
                  actions=["dynamodb:GetItem", "dynamodb:Query"],
                  condition=_leading_keys("StringLike", [cohort_pk(EVERY)])),
        Statement(sid="Notices", resources=[shared.notices_topic_arn], actions=["sns:Publish"]),
    ])


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
