"""The IAM policy that grants access to a cohort's tenant configuration namespace."""

from __future__ import annotations

from rollout.aws_clients import AwsClients
from rollout.local.resources import Created, Inputs, handles, tag_list


def _retag(clients: AwsClients, created: Created, tags: dict[str, str]) -> None:
    clients.client("iam").tag_policy(
        PolicyArn=created.id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


@handles("aws:iam/policy:Policy", retag=_retag)
def policy(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    made = clients.client("iam").create_policy(
        PolicyName=inputs["name"], PolicyDocument=inputs["policy"],
        Description=inputs.get("description", ""), Tags=tag_list(inputs),
    )["Policy"]
    return Created(made["Arn"], {"arn": made["Arn"], "policyId": made["PolicyId"]})
