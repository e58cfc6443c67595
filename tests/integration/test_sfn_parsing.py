"""The embedded moto server parses a definition once, and each execution still runs on its own.

:mod:`rollout.local.stepfunctions_parsing` keeps a definition's parse tree and each parsed
JSONPath. What a user must never notice: a definition that does not parse is refused
every time it is sent, and executions of one definition (or of two machines with the
same one) each read their own input and write their own output, however many ran before.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rollout.aws_clients import AwsClients

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/parsing-test"
DEFINITION = json.dumps({
    "StartAt": "Pick",
    "States": {
        "Pick": {"Type": "Pass", "InputPath": "$.order",
                 "Parameters": {"id.$": "$.id", "label.$": "States.Format('#{}', $.id)"},
                 "ResultPath": "$.picked", "Next": "Done"},
        "Done": {"Type": "Pass", "OutputPath": "$.picked", "End": True},
    },
})
"""Each kind of path an execution evaluates: input, parameters, an intrinsic, result, output."""


def finished_output(sfn: Any, execution: str) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            assert described["status"] == "SUCCEEDED", described
            return json.loads(described["output"])
        time.sleep(0.1)
    raise AssertionError(f"{execution} still running")


def test_a_definition_that_does_not_parse_is_refused_each_time(aws: AwsClients) -> None:
    sfn = aws.client("stepfunctions")
    broken = DEFINITION.replace('"Type": "Pass", "OutputPath"', '"Type": "Nope", "OutputPath"')
    for name in ("broken-1", "broken-2"):
        with pytest.raises(ClientError) as refused:
            sfn.create_state_machine(name=name, definition=broken, roleArn=ROLE)
        error = refused.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "mismatched input '\"Nope\"'" in error["Error"]["Message"], error
    assert not [m for m in sfn.list_state_machines()["stateMachines"]
                if m["name"].startswith("broken-")]


def test_executions_of_one_definition_each_get_their_own_output(aws: AwsClients) -> None:
    sfn = aws.client("stepfunctions")
    machines = [sfn.create_state_machine(name=f"parsed-once-{n}", definition=DEFINITION,
                                         roleArn=ROLE)["stateMachineArn"] for n in (1, 2)]
    started = {order: sfn.start_execution(
        stateMachineArn=machines[order % 2], name=f"order-{order}",
        input=json.dumps({"order": {"id": f"o-{order}", "noise": order}}))["executionArn"]
        for order in range(4)}
    assert {order: finished_output(sfn, arn) for order, arn in started.items()} == {
        order: {"id": f"o-{order}", "label": f"#o-{order}"} for order in range(4)}
