"""A setting AWS lists but will not hand over is a read failure, never a deleted setting.

``BatchGetSecretValue`` reports a secret it cannot return (``DecryptionFailure``, a
KMS key the role may not use, ...) in ``Errors``; ``GetParameters`` puts a name it
cannot return in ``InvalidParameters``. Read as "absent", such a setting is dropped
by a copy and deleted on the old colour by a carry-back, and a verification that
cannot read a deleted key proves nothing. moto never reports either, so a botocore
``after-call`` hook on the toolkit's own clients moves the setting from the answer
to the error list, the way AWS would. The observations use plain boto3 clients,
which the hooks never touch.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

import rollout.cli as rollout_cli
from tests.conftest import Fleet, deploy_fleet
from tests.faults.client_hooks import client_hook

pytestmark = pytest.mark.integration

TENANTS = ["aurora", "birch", "cedar", "dune", "ember", "fir"]
ERROR_CODE = {"ssm": "InvalidParameters", "secretsmanager": "DecryptionFailure"}


@pytest.fixture(scope="module")
def fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """One cohort with a tenant for each test, so the tests never share a setting."""
    return deploy_fleet(tmp_path_factory.mktemp("read-failures"), {"canary": TENANTS})


@dataclass
class Unreadable:
    """Makes the toolkit's reads of ``names`` come back the way AWS reports an unreadable one.

    ``armed`` decides per call whether to strike (default: always).
    """

    names: set[str]
    armed: Callable[[], bool] = lambda: True
    struck: list[str] = field(default_factory=list)

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("after-call.secrets-manager.BatchGetSecretValue", self._secrets,
                        unique_id="tests-read-failures-secrets")
        events.register("after-call.ssm.GetParameters", self._parameters,
                        unique_id="tests-read-failures-parameters")

    def _secrets(self, parsed: dict[str, Any], **_: Any) -> None:
        if not self.armed():
            return
        for value in [v for v in parsed.get("SecretValues", []) if v["Name"] in self.names]:
            parsed["SecretValues"].remove(value)
            parsed.setdefault("Errors", []).append({
                "SecretId": value["Name"], "ErrorCode": "DecryptionFailure",
                "Message": "Secrets Manager can't decrypt the protected secret text using "
                           "the provided KMS key."})
            self.struck.append(value["Name"])

    def _parameters(self, parsed: dict[str, Any], **_: Any) -> None:
        if not self.armed():
            return
        for value in [p for p in parsed.get("Parameters", []) if p["Name"] in self.names]:
            parsed["Parameters"].remove(value)
            parsed.setdefault("InvalidParameters", []).append(value["Name"])
            self.struck.append(value["Name"])


@dataclass
class LostDeletes:
    """AWS answers the toolkit's delete of ``names`` and does nothing: the setting stays."""

    names: set[str]
    lost: list[str] = field(default_factory=list)

    def attach(self, client: Any) -> None:
        for event in ("before-call.ssm.DeleteParameter",
                      "before-call.secrets-manager.DeleteSecret"):
            client.meta.events.register(event, self._swallow,
                                        unique_id=f"tests-read-failures-lost-{event}")

    def _swallow(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        body = json.loads(params["body"] or b"{}")
        name = body.get("Name") or body.get("SecretId")
        if name not in self.names:
            return None
        self.lost.append(name)
        return _Answered(), {"ResponseMetadata": {"HTTPStatusCode": 200}}


class _Answered:
    """The HTTP side of an answer botocore never sent for."""

    status_code = 200


@contextmanager
def hooked(*hooks: Any) -> Iterator[None]:
    if not hooks:
        yield
        return
    with client_hook(hooks[0].attach), hooked(*hooks[1:]):
        yield


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The `rollout` command in this process: exit code, stdout, stderr."""
    code = rollout_cli.run(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@dataclass
class Tenant:
    """One tenant's plain setting and its secret (in SSM or in Secrets Manager)."""

    fleet: Fleet
    tenant: str
    store: str
    secret: str = field(default_factory=lambda: f"s3cr3t-{uuid.uuid4().hex}")

    @property
    def cohort(self) -> Any:
        return self.fleet.cohorts["canary"]

    def parameter(self, colour: str, key: str) -> str:
        return f"{self.cohort.colour_prefix(colour)}/{self.tenant}/{key}"

    def secret_name(self, colour: str) -> str:
        if self.store == "ssm":
            return self.parameter(colour, "db/password")
        return f"{self.cohort.param_prefix.strip('/')}/{colour}/{self.tenant}/api-key"

    @property
    def secret_key(self) -> str:
        return f"{self.tenant}/{'db/password' if self.store == 'ssm' else 'api-key'}"

    def seed(self, colour: str) -> None:
        boto3.client("ssm").put_parameter(Name=self.parameter(colour, "plan"), Value="gold",
                                          Type="String")
        if self.store == "ssm":
            boto3.client("ssm").put_parameter(
                Name=self.secret_name(colour), Value=self.secret, Type="SecureString",
                KeyId=self.cohort.kms_key_arn)
        else:
            boto3.client("secretsmanager").create_secret(Name=self.secret_name(colour),
                                                         SecretString=self.secret)

    def args(self, command: str, source: str, target: str) -> list[str]:
        return ["config", command, "--cohort", "canary", "--from", source, "--to", target,
                "--tenant", self.tenant, "--secrets-manager"]

    def state(self) -> dict[str, Any]:
        """Everything of this tenant on both colours, and the cohort's config ledger items."""
        ssm = boto3.client("ssm")
        sm = boto3.client("secretsmanager")
        found: dict[str, Any] = {}
        for colour in ("blue", "green"):
            path = f"{self.cohort.colour_prefix(colour)}/{self.tenant}"
            pages = ssm.get_paginator("get_parameters_by_path").paginate(
                Path=path, Recursive=True, WithDecryption=True)
            found[f"ssm {colour}"] = sorted(
                (p["Name"], p["Type"], p["Value"], p["Version"])
                for page in pages for p in page["Parameters"])
            prefix = f"{self.cohort.param_prefix.strip('/')}/{colour}/{self.tenant}/"
            listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}],
                                     IncludePlannedDeletion=True)["SecretList"]
            found[f"secretsmanager {colour}"] = sorted(
                (s["Name"], str(s.get("DeletedDate")),
                 sm.get_secret_value(SecretId=s["Name"])["VersionId"]
                 if "DeletedDate" not in s else None) for s in listed)
        dynamodb = boto3.client("dynamodb")
        items = dynamodb.query(
            TableName=self.cohort.ledger_table, KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "CONFIG#canary"}})["Items"]
        found["ledger"] = sorted(json.dumps(item, sort_keys=True) for item in items
                                 if f"#{self.tenant}#" in item["sk"]["S"]
                                 or item["sk"]["S"].count("#") == 2)
        return found


def assert_told(output: str, tenant: Tenant) -> None:
    """Exit 1's message names the setting and AWS's error code, never the value."""
    assert tenant.secret_key in output, output
    assert ERROR_CODE[tenant.store] in output, output
    assert tenant.secret not in output


STORES = ["ssm", "secretsmanager"]


@pytest.mark.parametrize("store", STORES)
def test_a_copy_stops_when_a_source_setting_cannot_be_read(
        cli_env: Fleet, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    tenant = Tenant(cli_env, TENANTS[STORES.index(store)], store)
    tenant.seed("blue")
    before = tenant.state()
    unreadable = Unreadable({tenant.secret_name("blue")})

    with hooked(unreadable):
        code, out, err = run(tenant.args("copy", "blue", "green"), capsys)

    output = out + err
    assert unreadable.struck, "the hook never saw the read it should fail"
    assert code == 1, output
    assert_told(output, tenant)
    assert "nothing was written" in output
    assert tenant.state() == before


@pytest.mark.parametrize("store", STORES)
def test_a_carry_back_stops_when_a_new_colour_setting_cannot_be_read(
        cli_env: Fleet, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    tenant = Tenant(cli_env, TENANTS[2 + STORES.index(store)], store)
    tenant.seed("blue")
    assert run(tenant.args("copy", "blue", "green"), capsys)[0] == 0
    boto3.client("ssm").put_parameter(Name=tenant.parameter("green", "plan"), Value="platinum",
                                      Type="String", Overwrite=True)
    before = tenant.state()
    unreadable = Unreadable({tenant.secret_name("green")})

    with hooked(unreadable):
        code, out, err = run(tenant.args("carry-back", "green", "blue"), capsys)

    output = out + err
    assert unreadable.struck, "the hook never saw the read it should fail"
    assert code == 1, output
    assert_told(output, tenant)
    assert "nothing was written" in output
    assert tenant.state() == before, "the carry-back wrote to a colour (or deleted the secret)"


@pytest.mark.parametrize("store", STORES)
def test_verification_fails_when_it_cannot_read_a_key_it_deleted(
        cli_env: Fleet, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The carry-back's delete is answered but does not happen, and the re-read is refused.

    Read as "absent", the key would count as deleted and the verification would pass.
    """
    tenant = Tenant(cli_env, TENANTS[4 + STORES.index(store)], store)
    tenant.seed("blue")
    assert run(tenant.args("copy", "blue", "green"), capsys)[0] == 0
    if store == "ssm":
        boto3.client("ssm").delete_parameter(Name=tenant.secret_name("green"))
    else:
        boto3.client("secretsmanager").delete_secret(SecretId=tenant.secret_name("green"),
                                                     ForceDeleteWithoutRecovery=True)
    lost = LostDeletes({tenant.secret_name("blue")})
    unreadable = Unreadable({tenant.secret_name("blue")}, armed=lambda: bool(lost.lost))

    with hooked(lost, unreadable):
        code, out, err = run([*tenant.args("carry-back", "green", "blue"), "--json"], capsys)

    output = out + err
    assert lost.lost and unreadable.struck, "the hooks never saw the calls they should fail"
    assert code == 1, output
    document = json.loads(out)
    assert document["exit_code"] == 1
    assert document.get("snapshot_recorded") is not True
    assert document.get("verified") is not True
    assert_told(output, tenant)
