"""A role one AWS service may assume, allowed exactly the statements given (an allow-list)."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws


def service_role(name: str, role_name: str, service: str, statements: list[dict[str, object]],
                 tags: dict[str, str], opts: pulumi.ResourceOptions) -> aws.iam.Role:
    """``role_name``, assumable by ``service`` only, with ``statements`` as its inline policy.

    With no statements it gets no policy at all (IAM refuses an empty one).
    """
    role = aws.iam.Role(
        f"{name}-role",
        name=role_name,
        assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": service},
            "Action": "sts:AssumeRole"}]}),
        tags=tags,
        opts=opts,
    )
    if statements:
        aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements}),
            opts=opts,
        )
    return role
