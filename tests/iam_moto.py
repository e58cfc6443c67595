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
there; moto cannot evaluate condition keys such as ``s3:prefix`` (it treats an
unmet condition as an explicit deny); and it names actions after the service's
*signing* name, so CloudWatch's ``cloudwatch:DescribeAlarms`` is checked as
``monitoring:DescribeAlarms``. :func:`as_moto_enforces` translates exactly these
three things and nothing else; that the exact ARNs are the right ones is checked
separately against the ARNs AWS reports.
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

import boto3
import pytest

from rollout.aws_clients import region
from rollout.local.server import FAKE_CREDENTIALS, LOOPBACK, free_port, wait_until_listening
from tests.processes import stop

RESOURCE_CHECKED_SERVICES = ("s3",)
"""Services for which moto compares a statement's Resource with the real ARN."""

MOTO_ACTION_PREFIXES = {"cloudwatch": "monitoring", "tag": "tagging"}
"""IAM service prefixes that moto spells as the service's signing name."""

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


def as_moto_enforces(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as moto can judge it: same actions, resources only where moto checks them."""
    statements = []
    for statement in document["Statement"]:
        actions = statement["Action"]
        actions = actions if isinstance(actions, list) else [actions]
        services = {str(action).split(":", 1)[0] for action in actions}
        translated = {key: value for key, value in statement.items() if key != "Condition"}
        translated["Action"] = [moto_action(str(action)) for action in actions]
        if not services <= set(RESOURCE_CHECKED_SERVICES):
            translated["Resource"] = "*"
        statements.append(translated)
    return {**document, "Statement": statements}


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
        session: Any = boto3.session.Session(
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
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        try:
            wait_until_listening(port, timeout=30)
            yield EnforcingMoto(f"http://{LOOPBACK}:{port}", process)
        finally:
            stop(process)
