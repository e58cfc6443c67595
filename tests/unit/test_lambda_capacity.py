"""A lambda colour with provisioned concurrency: sized, scaled to 0 and back, and scoped.

moto has no provisioned-concurrency API, so the calls are checked against botocore's
own service model with its Stubber: the exact requests a real account would receive,
and what the capacity makes of the answers.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from rollout.aws_clients import AwsClients
from rollout.capacity.lambda_function import LambdaCapacity
from rollout.discovery import RunningCompute
from tests.rollout_doubles import cohort_resources

QUALIFIED = {"FunctionName": "shop-canary-blue", "Qualifier": "7"}


def stubbed(provisioned: int) -> tuple[LambdaCapacity, Stubber]:
    cohort = cohort_resources().model_copy(update={
        "compute_kind": "lambda", "region": "eu-west-1",
        "compute": {"blue": RunningCompute(function="shop-canary-blue", function_version="7",
                                           provisioned_concurrency=provisioned)}})
    capacity = LambdaCapacity(AwsClients(), cohort)
    client: Any = boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="x",
                               aws_secret_access_key="x")
    capacity.__dict__["_lambda"] = client
    return capacity, Stubber(client)


def test_a_configured_colour_is_sized_by_its_version_s_provisioned_concurrency() -> None:
    capacity, stub = stubbed(provisioned=5)
    stub.add_response("get_provisioned_concurrency_config",
                      {"RequestedProvisionedConcurrentExecutions": 5}, QUALIFIED)
    stub.add_response("delete_provisioned_concurrency_config", {}, QUALIFIED)
    stub.add_client_error("get_provisioned_concurrency_config",
                          "ProvisionedConcurrencyConfigNotFoundException", http_status_code=404,
                          expected_params=QUALIFIED)
    stub.add_response("put_provisioned_concurrency_config",
                      {"RequestedProvisionedConcurrentExecutions": 5},
                      {**QUALIFIED, "ProvisionedConcurrentExecutions": 5})
    with stub:
        assert capacity.size("blue") == 5
        capacity.resize("blue", 0)
        assert capacity.size("blue") == 0
        capacity.resize("blue", 5)
    stub.assert_no_pending_responses()


def test_on_demand_there_is_no_size_and_no_call() -> None:
    capacity, stub = stubbed(provisioned=0)
    with stub:
        assert capacity.size("blue") is None
        capacity.resize("blue", 0)


@pytest.mark.parametrize(("provisioned", "granted"), [(0, set()), (5, {
    "lambda:GetProvisionedConcurrencyConfig", "lambda:PutProvisionedConcurrencyConfig",
    "lambda:DeleteProvisionedConcurrencyConfig"})])
def test_provisioned_concurrency_actions_are_granted_only_where_configured(
        provisioned: int, granted: set[str]) -> None:
    capacity, _ = stubbed(provisioned)
    statements = [s for s in capacity.iam_statements("123456789012")
                  if s.sid == "SizeTheColoursProvisionedConcurrency"]
    assert {a for s in statements for a in s.actions} == granted
    if granted:
        assert statements[0].resources == [
            "arn:aws:lambda:eu-west-1:123456789012:function:shop-canary-blue:*"]
