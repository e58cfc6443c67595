"""The workflow role's permissions boundary, read as IAM would: every call any compiled
definition makes is inside it, on the cohort's own resources, and nothing else is.

IAM's own evaluation is not at hand (moto does not evaluate conditions nor boundaries), so
the documents are checked structurally: a call is allowed when a statement names its
action, a resource pattern matches its ARN and, for the ledger, its partition key is among
the statement's ``dynamodb:LeadingKeys``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rollout.stepfunctions.definition import compile_definition
from rollout.stepfunctions.spec import AlarmGate, HaltPlacement, WeightStep
from rollout.vocabulary import workflow_paths as paths
from rollout.vocabulary.ledger_keys import HALT_RELEASE_PK, halt_keys_covering, halt_release_sk
from rollout.vocabulary.security_rules import policy_wildcard_findings
from rollout.vocabulary.workflow_actions import (
    TRANSACTION_ITEMS,
    definition_actions,
    iam_action,
    tasks,
)
from rollout.vocabulary.workflow_boundary import (
    TASK_SCOPES,
    boundary_arn,
    workflow_boundary_policy,
)
from tests.unit.test_sfn_definition import LISTENER, spec, write

ACCOUNT = "123456789012"
TOPIC = "arn:aws:sns:eu-west-1:1:notices"
TABLE_ARN = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/ledger"
OTHER_LISTENER = "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/lb/9/9"


@dataclass(frozen=True)
class Call:
    """One AWS call a task makes: its IAM action, the ARN it acts on, its partition key."""

    action: str
    arn: str
    pk: str | None = None


def boundary() -> dict[str, Any]:
    return workflow_boundary_policy("canary", LISTENER, "ledger", TOPIC, ACCOUNT)


def everything() -> dict[str, Any]:
    """A definition with every feature: alarm and SLA gates, an approval (manual gate),
    the three halts of a release, a blocker, notices and a rollback that halts the later
    waves."""
    steps = [WeightStep(weights={"green": share, "blue": 100 - share}, bake_seconds=60,
                        approval=share == 50, record=write(f"step{share}"),
                        paused=write(f"paused{share}", "paused"),
                        awaiting_approval=write(f"await{share}", "waiting") if share == 50
                        else None)
             for share in (10, 50, 100)]
    later = [HaltPlacement(cohort=wave, pk=HALT_RELEASE_PK,
                           sk=halt_release_sk("1.2.0", wave), doc="{}",
                           history_sk=f"HISTORY#2024#{wave}", history_doc="{}")
             for wave in ("wave1", "wave2")]
    gate = AlarmGate(name="api-5xx", alarms=["api-5xx"],
                     failed=write("rb-alarm", "rb").model_copy(update={"halts_placed": later}))
    return compile_definition(spec(steps=steps, alarm_gates=[gate],
                                   halts=halt_keys_covering("canary", "1.2.0")))


def _pk(key: dict[str, Any]) -> str:
    return str(key["pk"]["S"])


def calls(definition: dict[str, Any]) -> Iterator[Call]:
    """What each task of ``definition`` asks of AWS."""
    for state in tasks(definition["States"]):
        resource, parameters = state["Resource"], state.get("Parameters", {})
        action = iam_action(resource)
        if resource == paths.MODIFY_LISTENER:
            yield Call(action, parameters["ListenerArn"])
        elif resource in (paths.DESCRIBE_ALARMS, paths.GET_METRIC_DATA):
            yield Call(action, f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:any")
        elif resource == paths.PUBLISH:
            yield Call(action, parameters["TopicArn"])
        elif resource == paths.GET_ITEM:
            yield Call(action, TABLE_ARN, _pk(parameters["Key"]))
        elif resource == paths.PUT_ITEM_AND_WAIT:
            yield Call(action, TABLE_ARN, _pk(parameters["Item"]))
        else:
            for item in parameters["TransactItems"]:
                ((kind, body),) = item.items()
                yield Call(TRANSACTION_ITEMS[kind], TABLE_ARN, _pk(body.get("Key") or body["Item"]))


def allowed(policy: dict[str, Any], call: Call) -> bool:
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow" or call.action not in statement["Action"]:
            continue
        if not any(fnmatch.fnmatchcase(call.arn, pattern) for pattern in statement["Resource"]):
            continue
        condition = statement.get("Condition")
        if condition is None:
            return True
        ((operator, keys),) = condition.items()
        assert operator == "ForAllValues:StringEquals"
        if call.pk is not None and call.pk in keys["dynamodb:LeadingKeys"]:
            return True
    return False


def test_the_boundary_covers_every_task_resource_the_compiler_has() -> None:
    """A task resource added to the compiler's vocabulary without a scope here fails this."""
    emitted = {value for name, value in vars(paths).items()
               if name.isupper() and isinstance(value, str)
               and value.startswith("arn:aws:states:::") and value != paths.SDK}
    assert emitted == set(TASK_SCOPES)
    used = {state["Resource"] for state in tasks(everything()["States"])}
    assert used <= set(TASK_SCOPES)


def test_every_action_of_a_full_definition_is_inside_the_boundary() -> None:
    definition = everything()
    granted = {action for s in boundary()["Statement"] for action in s["Action"]}
    assert set(definition_actions(definition)) <= granted
    assert granted == set(definition_actions(definition)), "nothing the compiler never uses"


def test_every_call_a_full_definition_makes_is_allowed_on_the_resource_it_names() -> None:
    made = list(calls(everything()))
    assert {call.pk for call in made} >= {"COHORT#canary", "HALT#FLEET", "HALT#RELEASE"}
    assert Call("dynamodb:PutItem", TABLE_ARN, "HALT#RELEASE") in made, "a later wave halted"
    refused = [call for call in made if not allowed(boundary(), call)]
    assert refused == []


def test_nothing_outside_the_cohort_s_own_resources_is_allowed() -> None:
    policy = boundary()
    others = [
        Call("elasticloadbalancing:ModifyListener", OTHER_LISTENER),
        Call("dynamodb:PutItem", TABLE_ARN, "COHORT#wave1"),
        Call("dynamodb:GetItem", TABLE_ARN, "COHORT#wave1"),
        Call("dynamodb:PutItem", TABLE_ARN, "HALT#FLEET"),
        Call("dynamodb:DeleteItem", TABLE_ARN, "HALT#RELEASE"),
        Call("dynamodb:UpdateItem", TABLE_ARN, "HALT#RELEASE"),
        Call("dynamodb:ConditionCheckItem", TABLE_ARN, "HALT#FLEET"),
        Call("dynamodb:GetItem", TABLE_ARN, None),
        Call("dynamodb:GetItem", f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/other",
             "COHORT#canary"),
        Call("sns:Publish", "arn:aws:sns:eu-west-1:1:another-topic"),
        Call("iam:PassRole", "arn:aws:iam::1:role/anything"),
        Call("dynamodb:Scan", TABLE_ARN),
    ]
    assert [call for call in others if allowed(policy, call)] == []


def test_only_the_cloudwatch_reads_are_on_every_resource_and_no_action_is_a_wildcard() -> None:
    policy = boundary()
    unscoped = {a for s in policy["Statement"] if "*" in s["Resource"] for a in s["Action"]}
    assert unscoped == {"cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"}
    assert policy_wildcard_findings("boundary", policy) == []


def test_the_ledger_table_is_named_in_the_shared_stack_s_partition_and_region() -> None:
    china = workflow_boundary_policy(
        "canary", "arn:aws-cn:elasticloadbalancing:cn-north-1:1:listener/app/lb/1/2", "ledger",
        "arn:aws-cn:sns:cn-northwest-1:1:notices", ACCOUNT)
    tables = {r for s in china["Statement"] for r in s["Resource"] if ":dynamodb:" in r}
    assert tables == {f"arn:aws-cn:dynamodb:cn-northwest-1:{ACCOUNT}:table/ledger"}


def test_the_boundary_s_arn_is_its_managed_policy_s() -> None:
    assert boundary_arn("aws", ACCOUNT, "acme", "canary") == (
        f"arn:aws:iam::{ACCOUNT}:policy/acme-canary-rollout-workflow-boundary")
