"""The IAM policy that grants access to a cohort's tenant configuration namespace, and the
roles (with their inline policies) that a colour's function or tasks run as."""

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


def _retag_role(clients: AwsClients, created: Created, tags: dict[str, str]) -> None:
    clients.client("iam").tag_role(
        RoleName=created.id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


@handles("aws:iam/role:Role", retag=_retag_role)
def role(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    made = clients.client("iam").create_role(
        RoleName=inputs["name"], AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
        Tags=tag_list(inputs))["Role"]
    return Created(made["RoleName"], {"arn": made["Arn"], "name": made["RoleName"],
                                      "uniqueId": made["RoleId"]})


def _put_role_policy(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    clients.client("iam").put_role_policy(RoleName=inputs["role"], PolicyName=name,
                                          PolicyDocument=inputs["policy"])
    return Created(f"{inputs['role']}:{name}", {"name": name})


def _replace_role_policy(clients: AwsClients, created: Created, old: Inputs,
                         inputs: Inputs) -> Created:
    """An inline policy is replaced whole by writing it again."""
    return _put_role_policy(clients, created.outputs["name"], inputs)


@handles("aws:iam/rolePolicy:RolePolicy", update=_replace_role_policy)
def role_policy(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    return _put_role_policy(clients, name, inputs)
