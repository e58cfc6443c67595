"""A tenant's secrets appear nowhere the toolkit writes: output, logs, ledger, report, notices.

One tenant gets a unique SecureString and a unique Secrets Manager secret. Then
the whole story runs, the way an operator chasing a problem would run it:
everything logged at DEBUG (botocore's wire logging included), every command
once for people and once with ``--json``, failures included (a conflict, a
refused step). Afterwards the plaintext, and its base64 form, is searched for in
everything that left the process: stdout and stderr, every log record, every
item of the ledger table, every object in the artefact store, the HTML report,
and every message the notices topic delivered to a subscribed queue.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest

from tests.cli_runner import Finished
from tests.faults.conftest import SharedApp
from tests.faults.scenario import CHECK_EVERY, RELEASE, Scenario
from tests.releases import EXAMPLE_NOTES

pytestmark = pytest.mark.integration

SERVER_THREAD = "process_request_thread"
"""werkzeug names the moto server's request threads so: AWS's side, not the toolkit's."""


@dataclass
class Leak:
    where: str
    excerpt: str


@dataclass
class Vault:
    """The stage: a cohort whose tenant ``onyx`` holds two secrets, and what to look for."""

    scenario: Scenario
    secrets: list[str]
    queue_url: str
    report: Path
    outputs: list[tuple[str, Finished]] = field(default_factory=list)

    def run(self, *args: str, expect: int = 0) -> Finished:
        done = self.scenario.run_here(list(args))
        self.outputs.append((" ".join(args), done))
        assert done.code == expect, (args, done.stdout, done.stderr)
        return done

    def both(self, *args: str, expect: int = 0) -> None:
        """Once for people, once with ``--json``."""
        self.run(*args, expect=expect)
        self.run(*args, "--json", expect=expect)

    @property
    def forms(self) -> list[str]:
        """Each secret as plain text and as base64 (how a binary or an encoded body leaks)."""
        return [form for secret in self.secrets
                for form in (secret, base64.b64encode(secret.encode()).decode())]

    def leaks(self, where: str, text: str) -> list[Leak]:
        found = []
        for form in self.forms:
            at = text.find(form)
            if at >= 0:
                found.append(Leak(where, text[max(0, at - 60):at + len(form) + 20]))
        return found


@pytest.fixture(scope="module")
def vault(shared_app: SharedApp, tmp_path_factory: pytest.TempPathFactory) -> Vault:
    scenario = shared_app.scenario("vault", ["onyx", "opal"], marker="vault", announce=False)
    cohort = scenario.resources
    assert cohort.kms_key_arn is not None
    secrets = [f"ssm-{uuid.uuid4().hex}", f"sm-{uuid.uuid4().hex}"]
    boto3.client("ssm").put_parameter(
        Name=f"{cohort.colour_prefix('blue')}/onyx/db-password", Value=secrets[0],
        Type="SecureString", KeyId=cohort.kms_key_arn, Description="onyx database")
    boto3.client("secretsmanager").create_secret(
        Name=f"{cohort.param_prefix.strip('/')}/blue/onyx/api-key", SecretString=secrets[1])
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"{scenario.fleet.app}-hygiene")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=cohort.notices_topic_arn, Protocol="sqs",
                                  Endpoint=arn)
    return Vault(scenario, secrets, url, tmp_path_factory.mktemp("vault") / "report.html")


def story(vault: Vault) -> None:
    """Every command of the toolkit, in the order a release goes out, failures included."""
    scenario = vault.scenario
    cohort, tenants = scenario.cohort, str(scenario.tenants_file)
    on = ["--cohort", cohort, "--tenants", tenants]
    config = ["--cohort", cohort, "--secrets-manager"]
    forward = [*config, "--from", "blue", "--to", "green"]
    artefact = vault.report.with_name("app-1.5.0.tar.gz")
    artefact.write_bytes(b"the 1.5.0 build")

    vault.both("plan", "--release", RELEASE, "--tenants", tenants)
    vault.run(*scenario.notify_args()[:-1])
    vault.run(*scenario.notify_args())
    publish = ["release", "publish", "--version", RELEASE, "--notes", str(EXAMPLE_NOTES),
               str(artefact)]
    vault.run(*publish)
    vault.run(*publish, "--json", expect=2)  # releases are immutable
    vault.run("release", "list", "--json")
    vault.run("release", "verify", "--version", RELEASE)
    vault.run("stacks", "preview", "--local", "--cohort", cohort, "--version", RELEASE, "--json")
    vault.run("iam-policy", "--cohort", cohort)
    vault.both("config", "diff", *forward)
    vault.run("config", "copy", *forward, "--dry-run")
    vault.run("config", "copy", *forward, "--json")
    vault.both("config", "diff", *forward, "--tenant", "onyx")
    vault.run("start", *on, "--release", RELEASE, "--strategy", "canary:50:0.2s", "--wait",
              "--check-every", CHECK_EVERY, "--json")
    vault.both("status", "--cohort", cohort)
    vault.both("step", *on, expect=3)
    vault.both("promote", *on, expect=3)
    vault.both("pin", *on, "--tenant", "opal", "--colour", "green")
    vault.run("rollback", *on, "--reason", "drill")
    vault.run("resume", *on, "--json")
    green_password = f"{scenario.resources.colour_prefix('green')}/onyx/db-password"
    boto3.client("ssm").put_parameter(Name=green_password, Value=f"{vault.secrets[0]}-edited",
                                      Type="SecureString", Overwrite=True)
    vault.both("config", "copy", *forward, expect=3)  # a conflict on a secret
    vault.run("start", *on, "--release", RELEASE, "--json", expect=3)  # the same, in preflight
    vault.both("config", "carry-back", *config, "--from", "green", "--to", "blue", "--dry-run")
    vault.run("config", "copy", *forward, "--force", "--json")
    vault.run("start", *on, "--release", RELEASE, "--strategy", "canary:50:1h",
              "--check-every", CHECK_EVERY)
    vault.run("abort", *on, "--reason", "drill", "--json")
    vault.both("report", "--html", str(vault.report))


def ledger_items(vault: Vault) -> list[str]:
    table = vault.scenario.resources.ledger_table
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table,
                                                                     ConsistentRead=True)
    return [json.dumps(item) for page in pages for item in page["Items"]]


def artefact_objects(vault: Vault) -> list[tuple[str, str]]:
    s3 = boto3.client("s3")
    bucket = vault.scenario.resources.artefact_bucket
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return [(o["Key"], s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode(
        "utf-8", "replace")) for o in listed]


def sns_messages(vault: Vault) -> list[str]:
    sqs = boto3.client("sqs")
    found: list[str] = []
    while True:
        batch = sqs.receive_message(QueueUrl=vault.queue_url, MaxNumberOfMessages=10,
                                    WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append(message["Body"])
            sqs.delete_message(QueueUrl=vault.queue_url, ReceiptHandle=message["ReceiptHandle"])


def log_text(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except (TypeError, ValueError):
        text = f"{record.msg} {record.args}"
    return text + (record.exc_text or "")


def test_no_secret_leaves_the_toolkit_by_any_way(
        vault: Vault, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        story(vault)
    ours = [r for r in caplog.records if SERVER_THREAD not in (r.threadName or "")
            and not r.name.startswith(("moto", "werkzeug"))]
    assert any(r.name.startswith("botocore") and r.levelno == logging.DEBUG for r in ours), \
        "botocore's debug log was not captured: the log check would prove nothing"
    messages = sns_messages(vault)
    assert len(messages) == 2, "each tenant's notice should have reached the queue"
    objects = artefact_objects(vault)
    assert objects, "the artefact store should hold the published release"
    report = vault.report.read_text()
    assert "vault" in report

    leaks: list[Leak] = []
    for command, done in vault.outputs:
        leaks += vault.leaks(f"stdout of `{command}`", done.stdout)
        leaks += vault.leaks(f"stderr of `{command}`", done.stderr)
    for record in ours:
        leaks += vault.leaks(f"log {record.name}:{record.levelname}", log_text(record))
    for item in ledger_items(vault):
        leaks += vault.leaks("ledger item", item)
    for key, body in objects:
        leaks += vault.leaks(f"artefact store object {key}", body)
    leaks += vault.leaks("report HTML", report)
    for message in messages:
        leaks += vault.leaks("SNS message", message)
    assert leaks == []

    assert_secrets_travelled(vault)


def assert_secrets_travelled(vault: Vault) -> None:
    """The copies really moved the secrets, so the search above had something to find."""
    cohort = vault.scenario.resources
    ssm_value = boto3.client("ssm").get_parameter(
        Name=f"{cohort.colour_prefix('green')}/onyx/db-password",
        WithDecryption=True)["Parameter"]["Value"]
    sm_value = boto3.client("secretsmanager").get_secret_value(
        SecretId=f"{cohort.param_prefix.strip('/')}/green/onyx/api-key")["SecretString"]
    assert ssm_value.startswith(vault.secrets[0])
    assert sm_value == vault.secrets[1]
