"""The rollout ledger table."""

from __future__ import annotations

from rollout.aws_clients import AwsClients
from rollout.local.resources import Created, Inputs, handles, tag_list


def _retag(clients: AwsClients, created: Created, tags: dict[str, str]) -> None:
    clients.client("dynamodb").tag_resource(
        ResourceArn=created.outputs["arn"],
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


@handles("aws:dynamodb/table:Table", retag=_retag)
def table(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    dynamodb = clients.client("dynamodb")
    schema = [{"AttributeName": inputs["hashKey"], "KeyType": "HASH"}]
    if inputs.get("rangeKey"):
        schema.append({"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"})
    made = dynamodb.create_table(
        TableName=inputs["name"],
        KeySchema=schema,
        AttributeDefinitions=[{"AttributeName": a["name"], "AttributeType": a["type"]}
                              for a in inputs["attributes"]],
        BillingMode=inputs.get("billingMode", "PAY_PER_REQUEST"),
        SSESpecification={"Enabled": bool((inputs.get("serverSideEncryption") or {})
                                          .get("enabled"))},
        DeletionProtectionEnabled=bool(inputs.get("deletionProtectionEnabled")),
        Tags=tag_list(inputs),
    )["TableDescription"]
    if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
        dynamodb.update_continuous_backups(
            TableName=inputs["name"],
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    return Created(inputs["name"], {"arn": made["TableArn"], "name": inputs["name"]})
