"""The state machine role's actions, derived from the compiled definition itself."""

from __future__ import annotations

import pytest

from rollout.stepfunctions.definition import compile_definition
from rollout.vocabulary.workflow_actions import definition_actions, iam_action
from tests.unit.test_sfn_definition import spec


def test_a_full_definition_needs_exactly_these_actions() -> None:
    assert definition_actions(compile_definition(spec())) == [
        "cloudwatch:DescribeAlarms",
        "cloudwatch:GetMetricData",
        "dynamodb:ConditionCheckItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "elasticloadbalancing:ModifyListener",
        "sns:Publish",
    ]


def test_a_definition_without_gates_blockers_or_notices_needs_no_cloudwatch_or_sns() -> None:
    bare = spec(alarm_gates=[], sla_gates=[], blockers=[], notices_topic_arn=None)
    assert definition_actions(compile_definition(bare)) == [
        "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem",
        "elasticloadbalancing:ModifyListener"]


@pytest.mark.parametrize(("resource", "action"), [
    ("arn:aws:states:::aws-sdk:elasticloadbalancingv2:modifyListener",
     "elasticloadbalancing:ModifyListener"),
    ("arn:aws:states:::aws-sdk:cloudwatch:getMetricData", "cloudwatch:GetMetricData"),
    ("arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken", "dynamodb:PutItem"),
    ("arn:aws:states:::dynamodb:getItem", "dynamodb:GetItem"),
    ("arn:aws:states:::sns:publish", "sns:Publish"),
])
def test_a_task_resource_is_named_as_iam_names_it(resource: str, action: str) -> None:
    assert iam_action(resource) == action


def test_a_resource_that_is_no_service_integration_is_refused() -> None:
    with pytest.raises(ValueError, match="not an AWS service integration"):
        iam_action("arn:aws:lambda:eu-west-1:1:function:f")
