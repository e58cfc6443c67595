"""The artefact bucket and its versioning, public access block, encryption and lifecycle."""

from __future__ import annotations

from typing import Any

from rollout.aws_clients import AwsClients
from rollout.local.resources import Created, Inputs, autoname, handles, tag_list


def _retag(clients: AwsClients, created: Created, tags: dict[str, str]) -> None:
    clients.client("s3").put_bucket_tagging(
        Bucket=created.id,
        Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})


@handles("aws:s3/bucket:Bucket", retag=_retag)
def bucket(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    s3 = clients.client("s3")
    bucket_name = inputs.get("bucket") or autoname(name)
    s3.create_bucket(Bucket=bucket_name, CreateBucketConfiguration={
        "LocationConstraint": clients.region})
    if inputs.get("tags"):
        s3.put_bucket_tagging(Bucket=bucket_name, Tagging={"TagSet": tag_list(inputs)})
    return Created(bucket_name, {"bucket": bucket_name, "arn": f"arn:aws:s3:::{bucket_name}"})


@handles("aws:s3/bucketVersioning:BucketVersioning")
def versioning(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    status = inputs["versioningConfiguration"]["status"]
    clients.client("s3").put_bucket_versioning(
        Bucket=inputs["bucket"], VersioningConfiguration={"Status": status})
    return Created(inputs["bucket"])


@handles("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
def public_access_block(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    clients.client("s3").put_public_access_block(
        Bucket=inputs["bucket"], PublicAccessBlockConfiguration={
            "BlockPublicAcls": bool(inputs.get("blockPublicAcls")),
            "IgnorePublicAcls": bool(inputs.get("ignorePublicAcls")),
            "BlockPublicPolicy": bool(inputs.get("blockPublicPolicy")),
            "RestrictPublicBuckets": bool(inputs.get("restrictPublicBuckets")),
        })
    return Created(inputs["bucket"])


@handles("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
def encryption(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    rules: list[dict[str, Any]] = []
    for rule in inputs["rules"]:
        default = rule["applyServerSideEncryptionByDefault"]
        by_default = {"SSEAlgorithm": default["sseAlgorithm"]}
        if default.get("kmsMasterKeyId"):
            by_default["KMSMasterKeyID"] = default["kmsMasterKeyId"]
        rules.append({"ApplyServerSideEncryptionByDefault": by_default,
                      "BucketKeyEnabled": bool(rule.get("bucketKeyEnabled"))})
    clients.client("s3").put_bucket_encryption(
        Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules})
    return Created(inputs["bucket"])


@handles("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
def lifecycle(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    rules = [{
        "ID": rule["id"],
        "Status": rule["status"],
        "Filter": {"Prefix": (rule.get("filter") or {}).get("prefix", "")},
        "NoncurrentVersionExpiration": {
            "NoncurrentDays": int(rule["noncurrentVersionExpiration"]["noncurrentDays"])},
    } for rule in inputs["rules"]]
    clients.client("s3").put_bucket_lifecycle_configuration(
        Bucket=inputs["bucket"], LifecycleConfiguration={"Rules": rules})
    return Created(inputs["bucket"])
