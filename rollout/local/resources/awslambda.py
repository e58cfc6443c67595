"""Lambda functions (code from an exact S3 object version), their permissions and URLs.

moto's Lambda reads a function's S3 code from the *latest* object under the key and
ignores ``S3ObjectVersion``; AWS reads the version asked for. So the code is read
here, from the exact object version the program names, and handed to moto as the
zip itself: what a colour runs is that version's bytes (``CodeSha256`` says so),
whatever was uploaded under the key since.
"""

from __future__ import annotations

from typing import Any

from rollout.aws_clients import AwsClients
from rollout.local.resources import Created, Inputs, handles


def _retag(clients: AwsClients, created: Created, tags: dict[str, str]) -> None:
    clients.client("lambda").tag_resource(Resource=created.outputs["arn"], Tags=tags)


def _code(clients: AwsClients, inputs: Inputs) -> bytes:
    """The zip at the bucket, key and object version the program names."""
    body: bytes = clients.client("s3").get_object(
        Bucket=inputs["s3Bucket"], Key=inputs["s3Key"],
        VersionId=inputs["s3ObjectVersion"])["Body"].read()
    return body


def _settings(inputs: Inputs) -> dict[str, Any]:
    return {"Role": inputs["role"], "Handler": inputs["handler"], "Runtime": inputs["runtime"],
            "MemorySize": int(inputs.get("memorySize", 128)),
            "Timeout": int(inputs.get("timeout", 3)),
            "Environment": {"Variables": (inputs.get("environment") or {}).get("variables", {})}}


def _function_outputs(made: dict[str, Any], name: str) -> Created:
    arn = made["FunctionArn"].removesuffix(f":{made['Version']}")
    version = made["Version"]
    return Created(name, {"arn": arn, "name": name, "version": version,
                          "qualifiedArn": f"{arn}:{version}" if version != "$LATEST" else arn,
                          "invokeArn": arn})


def _update(clients: AwsClients, created: Created, old: Inputs, inputs: Inputs) -> Created:
    """New settings, then the new code published as a new version (as ``publish=True`` does)."""
    lambda_ = clients.client("lambda")
    lambda_.update_function_configuration(FunctionName=created.id, **_settings(inputs))
    made = lambda_.update_function_code(FunctionName=created.id, ZipFile=_code(clients, inputs),
                                        Architectures=inputs.get("architectures") or ["x86_64"],
                                        Publish=bool(inputs.get("publish")))
    return _function_outputs(made, created.id)


@handles("aws:lambda/function:Function", retag=_retag, update=_update)
def function(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    made = clients.client("lambda").create_function(
        FunctionName=inputs["name"], Code={"ZipFile": _code(clients, inputs)},
        Architectures=inputs.get("architectures") or ["x86_64"],
        Publish=bool(inputs.get("publish")), Tags=inputs.get("tags") or {},
        **_settings(inputs))
    return _function_outputs(made, inputs["name"])


def _statement_id(name: str, qualifier: str | None) -> str:
    return f"{name}-{qualifier}" if qualifier else name


PERMISSION_FIELDS = {"sourceArn": "SourceArn", "qualifier": "Qualifier",
                     "functionUrlAuthType": "FunctionUrlAuthType",
                     "invokedViaFunctionUrl": "InvokedViaFunctionUrl"}
"""The optional inputs of a permission, and their names in ``AddPermission``."""


def _add_permission(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    statement = _statement_id(name, inputs.get("qualifier"))
    optional = {api: inputs[field] for field, api in PERMISSION_FIELDS.items()
                if inputs.get(field) is not None}
    clients.client("lambda").add_permission(
        FunctionName=inputs["function"], StatementId=statement, Action=inputs["action"],
        Principal=inputs["principal"], **optional)
    return Created(statement, {"statementId": statement, "function": inputs["function"],
                               "qualifier": inputs.get("qualifier")})


def _replace_permission(clients: AwsClients, created: Created, old: Inputs,
                        inputs: Inputs) -> Created:
    """Grant the new published version, then drop the old version's grant."""
    name = created.id.removesuffix(f"-{old.get('qualifier')}")
    replacement = _add_permission(clients, name, inputs)
    clients.client("lambda").remove_permission(
        FunctionName=old["function"], StatementId=created.id,
        **({"Qualifier": old["qualifier"]} if old.get("qualifier") else {}))
    return replacement


@handles("aws:lambda/permission:Permission", update=_replace_permission)
def permission(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    return _add_permission(clients, name, inputs)


@handles("aws:lambda/functionUrl:FunctionUrl")
def function_url(clients: AwsClients, name: str, inputs: Inputs) -> Created:
    """The function's own HTTPS address (moto gives it one too)."""
    made = clients.client("lambda").create_function_url_config(
        FunctionName=inputs["functionName"], AuthType=inputs["authorizationType"],
        **({"InvokeMode": inputs["invokeMode"]} if inputs.get("invokeMode") else {}))
    return Created(made["FunctionArn"], {"functionUrl": made["FunctionUrl"],
                                         "functionArn": made["FunctionArn"],
                                         "urlId": made["FunctionUrl"]})
