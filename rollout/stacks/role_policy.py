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
  ``start`` refuses tenants whose notice period is not over. It reads the halts
  (``HALT#FLEET``, ``HALT#RELEASE``), which every forward move obeys, and may *add*
  halts to ``HALT#RELEASE`` (``PutItem`` only): a cohort that rolls a release back
  halts that release on the later waves. It cannot lift a halt, nor touch an
  operator's (``rollout halt``/``unhalt`` are the on-call operators', whose own
  identity needs ``PutItem`` and ``DeleteItem`` on both halt partitions). Alarm
  blockers are read with the ``DescribeAlarms`` the alarm gate already needs. It only
  reads the artefact store: a published release is write-once for it. It deploys and
  runs its own Step Functions workflow (``start --engine stepfunctions``), whose role it
  may create and give a policy only under the cohort's permissions boundary
  (:mod:`rollout.vocabulary.workflow_boundary`), so that role is never more than the cohort's.
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

Sizing each colour (an ECS service's desired count, a Lambda version's provisioned
concurrency) and reading its targets' health is the compute kind's
(:mod:`rollout.capacity`), asked the same way. What moves traffic is the cohort's
router's business: the policy asks the router
(:meth:`~rollout.routers.base.TrafficRouter.iam_statements`) for the statements on
the resources it touches (the listener and its rules, the weighted records, the
alias), so a DNS-split cohort's role gets no listener writes. Deploying a colour
(``stacks up``, ``rollback --to-version``) is Pulumi's job and needs the
deployment identity's permissions, which these policies do not grant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rollout.aws_clients import AwsClients
from rollout.capacity import for_cohort as capacity_for
from rollout.discovery import CohortResources, SharedResources
from rollout.routers import for_cohort
from rollout.routers.base import IamStatement, TrafficRouter, partition_and_region
from rollout.vocabulary import resource_names
from rollout.vocabulary.colours import COLOURS
from rollout.vocabulary.ledger_keys import (
    HALT_FLEET_PK,
    HALT_RELEASE_PK,
    cohort_pk,
    config_pk,
    notice_pk,
    stack_pk,
)
from rollout.vocabulary.workflow_boundary import boundary_arn

ARTEFACT_PREFIX = "releases/"
LEADING_KEYS = "dynamodb:LeadingKeys"
EVERY = "*"
UNSCOPED_READS = "ReadWithoutResourceLevelPermissions"

COHORT_UNSCOPED_READS = (
    "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeLoadBalancers",
    "ssm:DescribeParameters", "iam:ListPolicies", "tag:GetResources",
    "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics",
    "secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue",
    "states:ListStateMachines")
"""What a cohort role reads whatever its router: discovery and the security gate read
the cohort's load balancer and listeners, the gates read CloudWatch."""


class RolePolicy(BaseModel):
    """An IAM policy document, kept as statements until it is printed."""

    model_config = ConfigDict(frozen=True)

    statements: list[IamStatement] = Field(default_factory=list)

    def as_aws(self) -> dict[str, Any]:
        return {"Version": "2012-10-17",
                "Statement": [statement.as_aws() for statement in self.statements]}


def _shared_arn_parts(shared: SharedResources) -> tuple[str, str]:
    """Partition and region of the shared stack (ledger, bucket, topic): its topic's ARN."""
    parts = shared.notices_topic_arn.split(":")
    return parts[1], parts[3]


def _ledger_arn(shared: SharedResources, account: str) -> str:
    partition, region = _shared_arn_parts(shared)
    return f"arn:{partition}:dynamodb:{region}:{account}:table/{shared.ledger_table}"


def _leading_keys(operator: str, keys: list[str]) -> dict[str, dict[str, list[str]]]:
    return {f"ForAllValues:{operator}": {LEADING_KEYS: keys}}


def _with_unscoped_reads(reads: Sequence[str],
                         statements: Sequence[IamStatement]) -> list[IamStatement]:
    """``statements`` with every unconditional ``Resource: "*"`` grant folded into one
    statement with ``reads``, each action named once (so dropping one drops it)."""
    unscoped = [s for s in statements if s.resources == [EVERY] and not s.condition]
    actions = list(dict.fromkeys([*reads, *(a for s in unscoped for a in s.actions)]))
    return [IamStatement(sid=UNSCOPED_READS, resources=[EVERY], actions=actions),
            *(s for s in statements if s not in unscoped)]


def _configuration_statements(cohort: CohortResources, account: str) -> list[IamStatement]:
    """The tenants' settings and secrets in both colours, and the key that encrypts them."""
    partition, region = partition_and_region(cohort)
    parameters = [f"arn:{partition}:ssm:{region}:{account}:parameter"
                  f"{resource_names.colour_parameters(cohort.param_prefix, c)}/*" for c in COLOURS]
    secrets = [f"arn:{partition}:secretsmanager:{region}:{account}:secret:"
               f"{resource_names.colour_secrets(cohort.param_prefix, c)}/*" for c in COLOURS]
    statements = [
        IamStatement(sid="TenantConfiguration", resources=parameters, actions=[
            "ssm:GetParameters", "ssm:PutParameter", "ssm:DeleteParameter",
            "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource",
            "ssm:ListTagsForResource"]),
        IamStatement(sid="TenantSecrets", resources=secrets, actions=[
            "secretsmanager:GetSecretValue", "secretsmanager:CreateSecret",
            "secretsmanager:UpdateSecret", "secretsmanager:PutSecretValue",
            "secretsmanager:DeleteSecret", "secretsmanager:TagResource",
            "secretsmanager:UntagResource"]),
    ]
    if cohort.kms_key_arn:
        statements.append(IamStatement(
            sid="TenantConfigurationKey", resources=[cohort.kms_key_arn],
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            condition={"StringEquals": {"kms:ViaService": [
                f"ssm.{region}.amazonaws.com", f"secretsmanager.{region}.amazonaws.com"]}}))
    return statements


def _ledger_statements(cohort: CohortResources, account: str) -> list[IamStatement]:
    """Its own ledger items read and written; other cohorts' state, notices and the halts
    read; the automatic halts of later waves added."""
    table_arn = _ledger_arn(cohort, account)
    return [
        IamStatement(sid="RolloutLedger", resources=[table_arn], actions=[
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
            "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"],
            condition=_leading_keys("StringEquals", [cohort_pk(cohort.cohort),
                                                     config_pk(cohort.cohort),
                                                     stack_pk(cohort.cohort)])),
        IamStatement(sid="ReadOtherCohortsNoticesAndHalts", resources=[table_arn],
                     actions=["dynamodb:GetItem", "dynamodb:Query"],
                     condition=_leading_keys("StringLike", [cohort_pk(EVERY),
                                                            notice_pk(EVERY),
                                                            HALT_FLEET_PK, HALT_RELEASE_PK])),
        IamStatement(sid="HaltLaterWavesOfAReleaseRolledBack", resources=[table_arn],
                     actions=["dynamodb:PutItem"],
                     condition=_leading_keys("StringEquals", [HALT_RELEASE_PK])),
    ]


def _gate_statements(cohort: CohortResources, account: str,
                     config_policy_name: str) -> list[IamStatement]:
    """What the security and alarm gates read: the bucket's settings, alarms, policy, key."""
    partition, region = partition_and_region(cohort)
    bucket_arn = f"arn:{partition}:s3:::{cohort.artefact_bucket}"
    statements = [
        IamStatement(sid="ArtefactBucketChecks", resources=[bucket_arn], actions=[
            "s3:GetBucketVersioning", "s3:GetBucketPolicy",
            "s3:GetBucketPublicAccessBlock", "s3:GetBucketAcl"]),
        IamStatement(sid="ListReleaseArtefacts", resources=[bucket_arn],
                     actions=["s3:ListBucket"]),
        IamStatement(sid="ReleaseArtefacts", resources=[f"{bucket_arn}/{ARTEFACT_PREFIX}*"],
                     actions=["s3:GetObject"]),
        IamStatement(sid="CohortAlarms",
                     resources=[f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*"],
                     actions=["cloudwatch:DescribeAlarms"]),
        IamStatement(sid="SecurityGateReadsConfigPolicy",
                     resources=[f"arn:{partition}:iam::{account}:policy/{config_policy_name}"],
                     actions=["iam:GetPolicy", "iam:GetPolicyVersion"]),
    ]
    if cohort.kms_key_arn:
        statements.append(IamStatement(sid="SecurityGateDescribesKey",
                                       resources=[cohort.kms_key_arn],
                                       actions=["kms:DescribeKey"]))
    return statements


def _workflow_statements(cohort: CohortResources, account: str) -> list[IamStatement]:
    """``start --engine stepfunctions``: the cohort's own state machine deployed and run, its
    own workflow role created, given the definition's actions and passed to Step Functions
    only; ``promote`` sends a waiting execution its token back (tokens have no ARN).

    The role may be created and given a policy only with the cohort's permissions boundary
    on it (:mod:`rollout.vocabulary.workflow_boundary`), which ``start`` reads first: the
    cohort role cannot make the workflow role more than the compiler's vocabulary on the
    cohort's own resources. Nothing here may change or remove a boundary
    (``PutRolePermissionsBoundary``, ``DeleteRolePermissionsBoundary``) or attach a
    managed policy (``AttachRolePolicy``)."""
    partition, region = partition_and_region(cohort)
    machine = resource_names.rollout_workflow(cohort.app, cohort.cohort)
    role = (f"arn:{partition}:iam::{account}:role/"
            f"{resource_names.workflow_role(cohort.app, cohort.cohort)}")
    boundary = boundary_arn(partition, account, cohort.app, cohort.cohort)
    states = f"arn:{partition}:states:{region}:{account}"
    return [
        IamStatement(sid="CohortWorkflowStateMachine",
                     resources=[f"{states}:stateMachine:{machine}"],
                     actions=["states:CreateStateMachine", "states:UpdateStateMachine",
                              "states:StartExecution", "states:TagResource"]),
        IamStatement(sid="CohortWorkflowExecutions",
                     resources=[f"{states}:execution:{machine}:*"],
                     actions=["states:DescribeExecution", "states:StopExecution"]),
        IamStatement(sid="ReadTheCohortWorkflowRole", resources=[role],
                     actions=["iam:GetRole"]),
        IamStatement(sid="CohortWorkflowRole", resources=[role],
                     actions=["iam:CreateRole", "iam:PutRolePolicy"],
                     condition={"StringEquals": {"iam:PermissionsBoundary": [boundary]}}),
        IamStatement(sid="ReadTheWorkflowBoundary", resources=[boundary],
                     actions=["iam:GetPolicy"]),
        IamStatement(sid="PassTheWorkflowRoleToStepFunctions", resources=[role],
                     actions=["iam:PassRole"],
                     condition={"StringEquals": {"iam:PassedToService": [
                         "states.amazonaws.com"]}}),
        IamStatement(sid="ApproveAWaitingWorkflow", resources=[EVERY],
                     actions=["states:SendTaskSuccess"],
                     condition={"StringEquals": {"aws:RequestedRegion": [region]}}),
    ]


def rollout_role_policy(cohort: CohortResources, account: str, config_policy_name: str,
                        router: TrafficRouter | None = None) -> RolePolicy:
    """The policy a role needs to run every rollout command on ``cohort`` and nothing more.

    What sizes the colours and reads their targets' health is asked of the cohort's
    compute kind (:meth:`~rollout.capacity.base.ColourCapacity.iam_statements`).

    ``router`` is the cohort's (:func:`rollout.routers.for_cohort` with its
    ``tenants.yaml`` entry); without one, the default router's. Publishing
    releases and sending notices are the release role's (:func:`release_role_policy`).
    """
    clients = AwsClients().for_region(cohort.region)
    moves_traffic = router or for_cohort(clients, cohort)
    return RolePolicy(statements=_with_unscoped_reads(COHORT_UNSCOPED_READS, [
        *moves_traffic.iam_statements(account),
        *capacity_for(clients, cohort).iam_statements(account),
        *_configuration_statements(cohort, account),
        *_ledger_statements(cohort, account),
        *_gate_statements(cohort, account, config_policy_name),
        *_workflow_statements(cohort, account),
    ]))


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
    partition, region = _shared_arn_parts(shared)
    bucket_arn = f"arn:{partition}:s3:::{shared.artefact_bucket}"
    releases = f"{bucket_arn}/{ARTEFACT_PREFIX}{shared.app}/*"
    table_arn = _ledger_arn(shared, account)
    link_key = (f"arn:{partition}:ssm:{region}:{account}:parameter"
                f"{resource_names.link_key_parameter(shared.app)}")
    return RolePolicy(statements=[
        IamStatement(sid=UNSCOPED_READS, resources=[EVERY], actions=[
            "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTags",
            "tag:GetResources"]),
        IamStatement(sid="ListReleaseArtefacts", resources=[bucket_arn],
                     actions=["s3:ListBucket"]),
        IamStatement(sid="ReadAndPruneReleases", resources=[releases],
                     actions=["s3:GetObject", "s3:AbortMultipartUpload", "s3:DeleteObject"]),
        IamStatement(sid="PublishNewObjectsOnly", resources=[releases],
                     actions=["s3:PutObject"],
                     condition={"Null": {"s3:if-none-match": ["false"]}}),
        IamStatement(sid="UploadPartsOfNewObjects", resources=[releases],
                     actions=["s3:PutObject"],
                     condition={"Bool": {"s3:ObjectCreationOperation": ["false"]}}),
        IamStatement(sid="NoticeRecords", resources=[table_arn], actions=[
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"],
            condition=_leading_keys("StringLike", [notice_pk(EVERY)])),
        IamStatement(sid="ReadCohortStates", resources=[table_arn],
                     actions=["dynamodb:GetItem", "dynamodb:Query"],
                     condition=_leading_keys("StringLike", [cohort_pk(EVERY)])),
        IamStatement(sid="Notices", resources=[shared.notices_topic_arn],
                     actions=["sns:Publish"]),
        IamStatement(sid="SignTheChoiceLinksOfNotices", resources=[link_key],
                     actions=["ssm:GetParameter", "ssm:PutParameter"]),
    ])


__all__ = ["RolePolicy", "release_role_policy", "rollout_role_policy"]
