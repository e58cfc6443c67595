"""With botocore's debug log on, no SSM or Secrets Manager body reaches the log during a copy.

A user chasing a problem turns DEBUG on and runs the copy; AWS refuses a write
with a validation message that quotes the value sent (AWS does that). botocore
logs every request's parameters and every response body, so the value would
land in the log, in plain text, from the request and from the error. The AWS
refusal is injected as a real HTTP answer (a ``before-send`` hook on the
toolkit's own clients), so botocore parses and logs it exactly as it would a
real one.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

import rollout.cli as rollout_cli
from rollout.aws_clients import AwsClients
from rollout.configcopy.wire_log import WITHHELD, watch_calls, withheld_wire_bodies
from tests.cli_runner import address
from tests.conftest import Fleet
from tests.faults.client_hooks import client_hook

pytestmark = pytest.mark.integration

SERVER_THREAD = "process_request_thread"
"""werkzeug names the moto server's request threads so: AWS's side, not the toolkit's."""


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def quoting_refusal(request: Any, **_: Any) -> AWSResponse:
    """AWS's ValidationException for a write, quoting the value the request carried."""
    sent = json.loads(request.body)
    quoted = sent.get("Value") or sent.get("SecretString")
    body = json.dumps({"__type": "ValidationException", "message": (
        f"1 validation error detected: Value '{quoted}' at 'value' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern")}).encode()
    headers: Any = {"Content-Type": "application/x-amz-json-1.1",
                    "x-amzn-RequestId": "injected"}
    return AWSResponse(request.url, 400, headers, _Body(body))


def refuse_writes(client: Any) -> None:
    for event in ("before-send.ssm.PutParameter", "before-send.secrets-manager.CreateSecret"):
        client.meta.events.register(event, quoting_refusal,
                                    unique_id=f"tests-debug-log-{event}")


class Everything(logging.Handler):
    """Keeps every record the process logs, formatted as a log file would hold it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        ours = [r for r in self.records if SERVER_THREAD not in (r.threadName or "")
                and not r.name.startswith(("moto", "werkzeug"))]
        return "\n".join(self.format(r) for r in ours)


@contextmanager
def debug_log(*quiet: str) -> Iterator[Everything]:
    """DEBUG on for botocore, every record captured at the root, as ``basicConfig`` would.

    Only around the command: the test's own boto3 calls log their bodies too.
    Loggers named in ``quiet`` are kept at INFO, as people do with noisy ones.
    """
    handler = Everything()
    loggers = [logging.getLogger(), logging.getLogger("botocore"),
               *(logging.getLogger(name) for name in quiet)]
    levels = [logger.level for logger in loggers]
    loggers[0].addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.INFO if logger.name in quiet else logging.DEBUG)
    try:
        yield handler
    finally:
        loggers[0].removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def test_a_refused_write_whose_error_quotes_the_value_leaves_no_value_in_the_debug_log(
        fleet: Fleet, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    address(monkeypatch, fleet)
    canary = fleet.cohorts["canary"]
    blue = canary.colour_prefix("blue")
    secure, plain, secret = (f"{kind}-{uuid.uuid4().hex}" for kind in ("secure", "plain", "sm"))
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=f"{blue}/aurora/db/password", Value=secure, Type="SecureString",
                      KeyId=canary.kms_key_arn)
    ssm.put_parameter(Name=f"{blue}/aurora/motto", Value=plain, Type="String")
    boto3.client("secretsmanager").create_secret(
        Name=f"{canary.param_prefix.strip('/')}/blue/birch/api-key", SecretString=secret)
    copy = ["config", "copy", "--cohort", "canary", "--from", "blue", "--to", "green",
            "--secrets-manager", "--tenant"]

    with debug_log() as log, client_hook(refuse_writes):
        codes = [rollout_cli.run([*copy, "aurora"]), rollout_cli.run([*copy, "birch"])]

    told = capsys.readouterr().err
    assert codes == [1, 1]
    assert told.count(": ValidationException") == 2, told
    logged = log.text()
    assert "Response body" in logged, \
        "botocore's debug log was not captured: the check below would prove nothing"
    for value in (secure, plain, secret):
        assert value not in logged
    assert WITHHELD in logged
    assert "ssm PutParameter" in logged and "secretsmanager CreateSecret" in logged, \
        "the log should still say which calls were made"


def test_during_a_copy_the_ledgers_dynamodb_bodies_are_still_logged(
        fleet: Fleet, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The guard is for SSM and Secrets Manager: the ledger's bodies (no values) stay readable."""
    address(monkeypatch, fleet)
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=f"{fleet.cohorts['wave1'].colour_prefix('blue')}/cedar/seats",
                      Value="40", Type="String")

    with debug_log() as log:
        code = rollout_cli.run(["config", "copy", "--cohort", "wave1", "--from", "blue",
                                "--to", "green", "--tenant", "cedar"])

    capsys.readouterr()
    assert code == 0
    assert "SNAPSHOT#ssm#blue>green#cedar" in log.text(), \
        "the ledger's request bodies should stay in the debug log"


def test_a_call_made_from_inside_an_ssm_call_does_not_unguard_its_body(
        moto_endpoint: str) -> None:
    """A credential refresh calls STS from inside an SSM call; the SSM answer stays withheld.

    Here the nested call is a DynamoDB one, made from the SSM call's ``before-send``
    on the same thread, as botocore's signer does when role credentials expire. The
    hook log is silenced, as people do (it is the noisiest), so no record after the
    nested call says the SSM call goes on.
    """
    name, secret = f"/nested/{uuid.uuid4().hex}", f"nested-{uuid.uuid4().hex}"
    boto3.client("ssm").put_parameter(Name=name, Value=secret, Type="String")
    clients = AwsClients()
    ssm, dynamodb = clients.client("ssm"), clients.client("dynamodb")
    watch_calls(ssm)
    ssm.meta.events.register("before-send.ssm.GetParameters",
                             lambda **_: dynamodb.list_tables() and None)

    with debug_log("botocore.hooks") as log, withheld_wire_bodies():
        found = ssm.get_parameters(Names=[name])["Parameters"]

    assert [p["Value"] for p in found] == [secret]
    logged = log.text()
    assert "ListTables" in logged and "Response body" in logged
    assert secret not in logged
