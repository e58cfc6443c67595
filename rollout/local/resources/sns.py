"""The notices topic."""

from __future__ import annotations

from rollout.aws_clients import AwsClients
from rollout.local.resources import Created, Inputs, handles, tag_list


def _retag(clients: AwsClients, created: Created, tags: dict[str, str]) -> None:
    clients.client("sns").tag_resource(
        ResourceArn=created.id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


@handles("aws:sns/topic:Topic", retag=_retag)
def topic(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    attributes = {}
    if inputs.get("kmsMasterKeyId"):
        attributes["KmsMasterKeyId"] = inputs["kmsMasterKeyId"]
    arn = clients.client("sns").create_topic(
        Name=inputs["name"], Attributes=attributes, Tags=tag_list(inputs))["TopicArn"]
    return Created(arn, {"arn": arn})
