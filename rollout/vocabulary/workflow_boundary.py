"""The permissions boundary of a cohort's workflow role, so holding the cohort role is no
way to more power.

``start --engine stepfunctions`` creates the workflow role and writes its policy itself
(:mod:`rollout.stepfunctions.engine`), so the cohort role must be allowed
``iam:CreateRole`` and ``iam:PutRolePolicy`` on it: on their own, whoever holds the cohort
role could put any policy on the workflow role and run it through a state machine. The
cohort role may do both only with this boundary on the role (``iam:PermissionsBoundary``,
:mod:`rollout.stacks.role_policy`), and the cohort's stack provisions it (the Pulumi
program, :mod:`rollout.components.cohort_stack`), so what the workflow role can do is the
intersection of its policy and this document: at most the compiler's whole vocabulary on
the cohort's own resources, whatever policy it is given.

The vocabulary is the task resources the compiler can emit (:data:`TASK_SCOPES`, the
constants of :mod:`rollout.vocabulary.workflow_paths`), turned into IAM actions the way the
workflow role's policy is (:func:`rollout.vocabulary.workflow_actions.iam_action`); a
``TransactWriteItems`` needs its items' actions instead (:data:`TRANSACTION_ITEM_KINDS`,
the kinds the ledger's transactions hold). Each is allowed on the cohort's own resources
only: its listener, its own ledger partition (``COHORT#<cohort>``), the halts it obeys
(read), the automatic halts of the release's later waves its rollback places (``PutItem``
on ``HALT#RELEASE`` only, as the cohort role may: never an operator's halt, never a
lifting), the notices topic. CloudWatch's ``DescribeAlarms`` and ``GetMetricData`` get
``Resource: "*"``: metric reads are not authorised per resource, and the gates name alarms
by name. Pure: no boto3, so the program and the tests build it alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from rollout.vocabulary import resource_names
from rollout.vocabulary import workflow_paths as paths
from rollout.vocabulary.ledger_keys import HALT_FLEET_PK, HALT_RELEASE_PK, cohort_pk
from rollout.vocabulary.workflow_actions import TRANSACTION_ITEMS, TRANSACTIONS, iam_action

LISTENER: Final = "ShiftTrafficOnTheCohortListener"
COHORT_LEDGER: Final = "CohortLedgerItems"
HALTS: Final = "ReadTheHaltsItObeys"
LATER_WAVES: Final = "HaltLaterWavesOfAReleaseRolledBack"
NOTICES: Final = "AnnounceOnTheNoticesTopic"
CLOUDWATCH_READS: Final = "ReadAlarmsAndMetrics"

TASK_SCOPES: Final[dict[str, tuple[str, ...]]] = {
    paths.MODIFY_LISTENER: (LISTENER,),
    paths.DESCRIBE_ALARMS: (CLOUDWATCH_READS,),
    paths.GET_METRIC_DATA: (CLOUDWATCH_READS,),
    paths.TRANSACT_WRITE: (COHORT_LEDGER, LATER_WAVES),
    paths.GET_ITEM: (COHORT_LEDGER, HALTS),
    paths.PUT_ITEM_AND_WAIT: (COHORT_LEDGER,),
    paths.PUBLISH: (NOTICES,),
}
"""Every task resource the compiler can emit → the statements (by ``Sid``) whose resources
it may act on: ``GetItem`` reads the cohort's own items (stop fence, event claims) and the
halts; a transaction records a transition or places a later wave's halt."""
SCOPE_LIMITS: Final[dict[str, frozenset[str]]] = {
    HALTS: frozenset({"dynamodb:GetItem"}),
    LATER_WAVES: frozenset({"dynamodb:PutItem"}),
}
"""What a statement allows of the actions its tasks need: the halts are read, and a later
wave's halt is only ever added."""
TRANSACTION_ITEM_KINDS: Final = ("ConditionCheck", "Put")
"""What a ledger transaction holds (:func:`rollout.stepfunctions.records.transaction`)."""
STATEMENT_ORDER: Final = (LISTENER, COHORT_LEDGER, HALTS, LATER_WAVES, NOTICES,
                          CLOUDWATCH_READS)


def boundary_arn(partition: str, account: str, app: str, cohort: str) -> str:
    """The boundary's ARN, known from its name: a customer managed policy at the root path."""
    return f"arn:{partition}:iam::{account}:policy/{resource_names.workflow_boundary(app, cohort)}"


def task_resource_actions(resource: str) -> list[str]:
    """The IAM actions one task resource of the compiler needs, as the workflow role's
    policy names them."""
    action = iam_action(resource)
    if action in TRANSACTIONS:
        return [TRANSACTION_ITEMS[kind] for kind in TRANSACTION_ITEM_KINDS]
    return [action]


def _actions_by_scope(resources: Iterable[str]) -> dict[str, list[str]]:
    found: dict[str, set[str]] = {}
    for resource in resources:
        for scope in TASK_SCOPES[resource]:
            found.setdefault(scope, set()).update(task_resource_actions(resource))
    return {scope: sorted(actions & SCOPE_LIMITS.get(scope, actions))
            for scope, actions in found.items()}


def _leading_keys(keys: list[str]) -> dict[str, dict[str, list[str]]]:
    """The same scoping as the cohort role's (:mod:`rollout.stacks.role_policy`): every
    partition a request touches is listed; only item actions are granted, so a ``Scan``
    (no partition key, which the condition lets through) is never allowed."""
    return {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": keys}}


def workflow_boundary_policy(cohort: str, listener_arn: str, ledger_table: str,
                             notices_topic_arn: str, account: str) -> dict[str, Any]:
    """The boundary document of ``cohort``'s workflow role.

    The ledger table lives where the notices topic does (the shared stack): its ARN is
    built from the topic's partition and region, as the cohort role's is."""
    parts = notices_topic_arn.split(":")
    partition, region = parts[1], parts[3]
    table_arn = f"arn:{partition}:dynamodb:{region}:{account}:table/{ledger_table}"
    scopes: dict[str, tuple[list[str], dict[str, Any] | None]] = {
        LISTENER: ([listener_arn], None),
        COHORT_LEDGER: ([table_arn], _leading_keys([cohort_pk(cohort)])),
        HALTS: ([table_arn], _leading_keys([HALT_FLEET_PK, HALT_RELEASE_PK])),
        LATER_WAVES: ([table_arn], _leading_keys([HALT_RELEASE_PK])),
        NOTICES: ([notices_topic_arn], None),
        CLOUDWATCH_READS: (["*"], None),
    }
    actions = _actions_by_scope(TASK_SCOPES)
    statements: list[dict[str, Any]] = []
    for sid in STATEMENT_ORDER:
        resources, condition = scopes[sid]
        statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions[sid],
                                     "Resource": resources}
        if condition is not None:
            statement["Condition"] = condition
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


__all__ = ["TASK_SCOPES", "boundary_arn", "task_resource_actions", "workflow_boundary_policy"]
