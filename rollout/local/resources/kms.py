"""The customer-managed key that encrypts a cohort's tenant SecureStrings."""

from __future__ import annotations

from rollout.aws_clients import AwsClients
from rollout.local.resources import Created, Inputs, handles


def _retag(clients: AwsClients, created: Created, tags: dict[str, str]) -> None:
    clients.client("kms").tag_resource(
        KeyId=created.id, Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()])


@handles("aws:kms/key:Key", retag=_retag)
def key(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    kms = clients.client("kms")
    made = kms.create_key(
        Description=inputs.get("description", name),
        Tags=[{"TagKey": k, "TagValue": v} for k, v in (inputs.get("tags") or {}).items()],
    )["KeyMetadata"]
    if inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=made["KeyId"])
    return Created(made["KeyId"], {"keyId": made["KeyId"], "arn": made["Arn"]})


@handles("aws:kms/alias:Alias")
def alias(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    kms = clients.client("kms")
    kms.create_alias(AliasName=inputs["name"], TargetKeyId=inputs["targetKeyId"])
    region = clients.region
    account = clients.client("sts").get_caller_identity()["Account"]
    return Created(inputs["name"], {
        "arn": f"arn:aws:kms:{region}:{account}:{inputs['name']}",
        "targetKeyArn": kms.describe_key(KeyId=inputs["targetKeyId"])["KeyMetadata"]["Arn"],
    })
