"""A moto server of our own that enforces IAM, and the users a least-privilege test needs.

The shared ``moto_endpoint`` server lets every request through, and moto's switch
for IAM enforcement is process-wide, so this server runs in a subprocess. It
starts open (the local engine deploys with the usual fake credentials), then
:meth:`EnforcingMoto.enforce` turns enforcement on through moto's own
``/moto-api/reset-auth`` endpoint: from then on every request must be signed
with the access keys of an IAM user moto knows, and is checked against that
user's policies. (``INITIAL_NO_AUTH_ACTION_COUNT`` would do the same after a
number of requests, which depends on how many calls a deploy makes; switching at
a known moment does not.)

What moto checks, and what it cannot (moto 5.2): the *action* of every call is
checked; the *resource* only for S3 (bucket and key ARNs). Every other service
authorises against ``"*"``, so a statement naming exact ARNs would grant nothing
there; moto does not evaluate condition keys (an identity policy's condition is
taken as met); and it names actions after the service's *signing* name, so
CloudWatch's ``cloudwatch:DescribeAlarms`` is checked as
``monitoring:DescribeAlarms``.

Two of the services whose scoping matters most get what AWS does, by
:func:`serve`, which runs the server: SSM calls are authorised against each
parameter they name (its ARN), and DynamoDB item calls against the table and the
item's partition key, the value of AWS's ``dynamodb:LeadingKeys`` condition key,
written as the resource ``<table ARN>/leading-key/<pk>``; a transaction is
authorised item by item under each item's own action (``PutItem``,
``ConditionCheckItem``...), as AWS does, not as moto's one ``TransactWriteItems``.

:func:`as_moto_enforces` translates a policy into what moto can judge, exactly
these things and nothing else: action prefixes, ``"*"`` as the resource of
services moto does not check, and a DynamoDB statement's
``ForAllValues:StringEquals``/``StringLike`` ``dynamodb:LeadingKeys`` condition
as leading-key resources. Any other condition is dropped, and the exact ARNs of
the unchecked services are checked separately against the ARNs AWS reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rollout.aws_clients import new_session, region
from rollout.local.server import FAKE_CREDENTIALS, LOOPBACK, free_port, wait_until_listening
from tests.processes import stop

ROOT = Path(__file__).resolve().parents[1]

RESOURCE_CHECKED_SERVICES = ("s3", "ssm", "dynamodb")
"""Services for which the server compares a statement's Resource with the real ARN."""

MOTO_ACTION_PREFIXES = {"cloudwatch": "monitoring", "tag": "tagging"}
"""IAM service prefixes that moto spells as the service's signing name."""

LEADING_KEYS = "dynamodb:LeadingKeys"
LEADING_KEY_OPERATORS = ("ForAllValues:StringEquals", "ForAllValues:StringLike")
LEADING_KEY_RESOURCE = "/leading-key/"
"""How the server names one partition key of a table as a resource."""

TRANSACTION_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                            "ConditionCheck": "ConditionCheckItem"}
"""The IAM action AWS checks for each kind of item of ``TransactWriteItems``."""

ADMIN_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "TestAdministrator", "Effect": "Allow", "Action": "*",
                   "Resource": "*"}],
}


@dataclass(frozen=True)
class AccessKey:
    """An IAM user's access key, as the environment of a process acting as that user."""

    user: str
    access_key_id: str
    secret_access_key: str

    def credentials(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


def moto_action(action: str) -> str:
    """``action`` as moto names it (``cloudwatch:X`` is ``monitoring:X`` there)."""
    prefix, _, operation = action.partition(":")
    return f"{MOTO_ACTION_PREFIXES.get(prefix, prefix)}:{operation}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _leading_key_resources(resources: list[str], condition: dict[str, Any]) -> list[str]:
    """A DynamoDB statement's tables, narrowed to the partition keys its condition allows.

    ``StringEquals`` values must be plain (moto would read ``*`` as a wildcard) and
    ``StringLike`` patterns may use ``*`` only (moto knows no ``?``).
    """
    allowed: list[str] = []
    for operator in LEADING_KEY_OPERATORS:
        values = [str(v) for v in _as_list(condition.get(operator, {}).get(LEADING_KEYS, []))]
        wildcard = "*" if operator.endswith("StringLike") else ""
        assert all("?" not in v and (wildcard or "*" not in v) for v in values), values
        allowed += values
    if not allowed:
        return [*resources, *(f"{r}{LEADING_KEY_RESOURCE}*" for r in resources)]
    return [f"{r}{LEADING_KEY_RESOURCE}{key}" for r in resources for key in allowed]


def as_moto_enforces(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as the server can judge it: same actions, resources where it checks them."""
    statements = []
    for statement in document["Statement"]:
        actions = [str(action) for action in _as_list(statement["Action"])]
        services = {action.split(":", 1)[0] for action in actions}
        translated = {key: value for key, value in statement.items() if key != "Condition"}
        translated["Action"] = [moto_action(action) for action in actions]
        if not services <= set(RESOURCE_CHECKED_SERVICES):
            translated["Resource"] = "*"
        elif services == {"dynamodb"}:
            translated["Resource"] = _leading_key_resources(
                [str(r) for r in _as_list(statement["Resource"])],
                statement.get("Condition", {}))
        statements.append(translated)
    return {**document, "Statement": statements}


# --- the server side: runs in the moto subprocess, never inside pytest -------------------

def _dynamodb_item_resource(handler: Any, request: dict[str, Any]) -> str:
    """``<table ARN>/leading-key/<pk>`` for a call on one item or one partition, else the table."""
    from moto.dynamodb.exceptions import ResourceNotFoundException
    from moto.dynamodb.parsing.key_condition_expression import parse_expression
    from moto.utilities.utils import get_partition

    table_name = request.get("TableName")
    if not table_name:
        return "*"
    table_arn = (f"arn:{get_partition(handler.region)}:dynamodb:{handler.region}:"
                 f"{handler.current_account}:table/{table_name}")
    try:
        table = handler.dynamodb_backend.get_table(table_name)
    except ResourceNotFoundException:  # the call itself will say so
        return table_arn
    item = request.get("Key") or request.get("Item")
    value = item.get(table.hash_key_attr) if item else None
    if value is None and request.get("KeyConditionExpression"):
        hash_conditions, _, _ = parse_expression(
            request["KeyConditionExpression"], request.get("ExpressionAttributeValues", {}),
            request.get("ExpressionAttributeNames", {}),
            handler.dynamodb_backend.get_schema(table_name, request.get("IndexName")))
        value = hash_conditions[0][1] if len(hash_conditions) == 1 else None
    if not isinstance(value, dict) or len(value) != 1:
        return table_arn
    return f"{table_arn}{LEADING_KEY_RESOURCE}{next(iter(value.values()))}"


def _dynamodb_checks(handler: Any) -> list[tuple[str, str]]:
    """(action, resource) pairs AWS authorises for one DynamoDB call."""
    action = handler._get_action()
    if action == "TransactWriteItems":
        checks = []
        for entry in handler._get_param("TransactItems", []):
            ((kind, request),) = entry.items()
            checks.append((TRANSACTION_ITEM_ACTIONS[kind],
                           _dynamodb_item_resource(handler, request)))
        return checks
    return [(action, _dynamodb_item_resource(handler, dict(handler.body or {})))]


def _ssm_checks(handler: Any) -> list[tuple[str, str]]:
    """(action, resource) pairs for one SSM call: one per parameter it names."""
    from moto.ssm.utils import parameter_arn

    names = [handler._get_param("Name"), *(handler._get_param("Names") or []),
             handler._get_param("Path")]
    if handler._get_param("ResourceType") == "Parameter":
        names.append(handler._get_param("ResourceId"))
    action = handler._get_action()
    arns = [parameter_arn(handler.current_account, handler.region, str(name))
            for name in names if name]
    return [(action, arn) for arn in arns] or [(action, "*")]


def _authorise_each(checks: Any) -> Any:
    """A replacement for moto's per-call authorisation that checks every (action, resource)."""
    from moto.core.authorization import ActionAuthenticatorMixin

    def authorise(handler: Any, resource: str = "*") -> None:
        for action, arn in checks(handler):
            handler._get_action = lambda action=action: action
            try:
                ActionAuthenticatorMixin._authenticate_and_authorize_normal_action(handler, arn)
            finally:
                del handler._get_action

    return authorise


def serve(argv: list[str]) -> None:
    """``moto.server`` with SSM and DynamoDB authorised per parameter and per partition key,
    and ECS services registering their tasks as targets (as the embedded server does)."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.server import main
    from moto.ssm.responses import SimpleSystemManagerResponse

    from rollout.local import ecs_tasks

    ecs_tasks.install()
    DynamoHandler._authenticate_and_authorize_normal_action = (  # type: ignore[method-assign]
        _authorise_each(_dynamodb_checks))
    SimpleSystemManagerResponse._authenticate_and_authorize_normal_action = (  # type: ignore[method-assign]
        _authorise_each(_ssm_checks))
    main(argv)


class EnforcingMoto:
    """A moto server subprocess; open until :meth:`enforce`, IAM-checked afterwards."""

    def __init__(self, endpoint: str, process: subprocess.Popen[bytes]) -> None:
        self.endpoint = endpoint
        self.process = process
        self._admin: AccessKey | None = None

    def environment(self, key: AccessKey | None = None) -> dict[str, str]:
        """AWS settings of a process talking to this server: fake credentials, or ``key``'s.

        The session token of the fake credentials is dropped for a real key: moto
        refuses an IAM user's key that comes with a token.
        """
        settings = {"AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": region(),
                    "AWS_DEFAULT_REGION": region()}
        if key is None:
            return {**settings, **FAKE_CREDENTIALS}
        return {**settings, **key.credentials()}

    def process_env(self, key: AccessKey, **extra: str) -> dict[str, str]:
        """A full environment for a subprocess acting as ``key``'s user."""
        inherited = {name: value for name, value in os.environ.items()
                     if not name.startswith("AWS_")}
        return {**inherited, **self.environment(key), **extra}

    @contextmanager
    def acting_as(self, key: AccessKey | None) -> Iterator[None]:
        """Point this process's AWS settings at this server as ``key``'s user for a block.

        Clients made inside the block (``AwsClients``, ``rollout.cli.run``) keep
        the endpoint and credentials they were made with.
        """
        with pytest.MonkeyPatch.context() as patch:
            for name in [n for n in os.environ if n.startswith("AWS_")]:
                patch.delenv(name)
            for name, value in self.environment(key).items():
                patch.setenv(name, value)
            yield

    def client(self, service: str, key: AccessKey | None = None) -> Any:
        """A boto3 client for this server, signed with ``key`` (default: the admin's)."""
        key = key or self._admin
        credentials = key.credentials() if key else FAKE_CREDENTIALS
        session: Any = new_session(
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=None if key else FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=region())
        return session.client(service, endpoint_url=self.endpoint)

    def user(self, name: str, *policies: dict[str, Any]) -> AccessKey:
        """An IAM user holding exactly ``policies`` (customer-managed, attached), and a key."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        for index, document in enumerate(policies):
            arn = iam.create_policy(PolicyName=f"{name}-{index}",
                                    PolicyDocument=json.dumps(document))["Policy"]["Arn"]
            iam.attach_user_policy(UserName=name, PolicyArn=arn)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return AccessKey(name, key["AccessKeyId"], key["SecretAccessKey"])

    def enforce(self) -> AccessKey:
        """Create an administrator, then switch IAM enforcement on; returns the admin's key."""
        if self._admin is None:
            self._admin = self.user("test-administrator", ADMIN_POLICY)
            request = urllib.request.Request(f"{self.endpoint}/moto-api/reset-auth",
                                             data=b"0", method="POST",
                                             headers={"Content-Type": "text/plain"})
            with urllib.request.urlopen(request, timeout=10) as reply:
                reply.read()
        return self._admin


@contextmanager
def enforcing_moto(log: Path) -> Iterator[EnforcingMoto]:
    """Run a moto server subprocess (its request log in ``log``) for the block."""
    port = free_port()
    env = {name: value for name, value in os.environ.items()
           if name != "INITIAL_NO_AUTH_ACTION_COUNT"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from tests.iam_moto import serve; "
             "serve(sys.argv[1:])", "-H", LOOPBACK, "-p", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        try:
            wait_until_listening(port, timeout=30)
            yield EnforcingMoto(f"http://{LOOPBACK}:{port}", process)
        finally:
            stop(process)
