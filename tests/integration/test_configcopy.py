"""Tenant settings copied between colours and carried back, against a moto server over HTTP.

Library tests work in a namespace of their own (a cohort name no other test
uses, on the module's fleet, with its ledger table and KMS key), so they never
see each other's parameters; CLI tests use the fleet's real cohorts, one tenant
each. One module, so the fleet is deployed once per test process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import traceback
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

import rollout.cli as rollout_cli
from rollout.aws_clients import AwsClients
from rollout.configcopy import ConfigCopier, CopyInterrupted, Difference, WriteKind
from rollout.configcopy.wire_log import WITHHELD
from rollout.discovery import CohortResources
from rollout.errors import Blocked
from rollout.rollouts.ledger import Ledger
from tests.conftest import Fleet
from tests.faults.injector import FaultInjector, FaultKind, FaultRule, compressed_backoff

pytestmark = pytest.mark.integration

WRITE_PREFIXES = ("Put", "Add", "Remove", "Delete", "Create", "Update", "Tag", "Untag",
                  "BatchWrite")


def run(args: list[str]) -> int:
    """The `rollout` command in this process; returns its exit code."""
    return rollout_cli.run(args)


def namespace(fleet: Fleet) -> CohortResources:
    """A cohort-shaped namespace of its own, sharing the fleet's ledger and KMS key."""
    name = f"cc-{uuid.uuid4().hex[:8]}"
    return fleet.cohorts["canary"].model_copy(
        update={"cohort": name, "param_prefix": f"/{fleet.app}/{name}", "tenants": []})


def copier(clients: AwsClients, cohort: CohortResources, **options: Any) -> ConfigCopier:
    return ConfigCopier(clients, cohort, Ledger(clients, cohort.ledger_table), **options)


def described(ssm: Any, name: str) -> dict[str, Any]:
    found = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])["Parameters"]
    assert len(found) == 1, f"{name} not found"
    return dict(found[0])


def tags(ssm: Any, name: str) -> dict[str, str]:
    listed = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    return {t["Key"]: t["Value"] for t in listed}


def value(ssm: Any, name: str) -> str:
    return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


def names_under(ssm: Any, path: str) -> list[str]:
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True)
    return sorted(p["Name"] for page in pages for p in page["Parameters"])


@pytest.fixture(scope="module")
def adaptive(moto_endpoint: str) -> AwsClients:
    """Clients as the copier should get them (adaptive retries), shared by the module."""
    return AwsClients(retry_mode="adaptive")


@pytest.fixture
def ssm(aws: AwsClients) -> Any:
    return aws.client("ssm")


def test_copy_preserves_types_descriptions_tiers_patterns_tags_and_key(
        fleet: Fleet, ssm: Any, adaptive: AwsClients) -> None:
    cohort = namespace(fleet)
    blue, green = cohort.colour_prefix("blue"), cohort.colour_prefix("green")
    key = cohort.kms_key_arn
    ssm.put_parameter(Name=f"{blue}/acme/theme", Value="dark", Type="String",
                      Description="UI theme", Tier="Advanced", AllowedPattern="^[a-z]+$",
                      Tags=[{"Key": "owner", "Value": "acme"}, {"Key": "tier", "Value": "gold"}])
    ssm.put_parameter(Name=f"{blue}/acme/regions", Value="eu-west-1,us-east-1",
                      Type="StringList", Description="serving regions")
    ssm.put_parameter(Name=f"{blue}/acme/db/password", Value="pa55-w0rd-acme", Type="SecureString",
                      KeyId=key, Description="database password",
                      Tags=[{"Key": "rotation", "Value": "90d"}])

    progress: list[tuple[str, int, int]] = []
    report = copier(adaptive, cohort, progress=lambda *step: progress.append(step)).copy(
        "blue", "green")

    assert report.verification is not None and report.verification.ok
    assert report.written == 3 and report.snapshot_recorded
    assert {("reading tags", 3, 3), ("writing", 3, 3), ("verifying", 1, 1)} <= set(progress)
    theme = described(ssm, f"{green}/acme/theme")
    assert (theme["Type"], theme["Description"], theme["Tier"], theme["AllowedPattern"]) == (
        "String", "UI theme", "Advanced", "^[a-z]+$")
    assert tags(ssm, f"{green}/acme/theme") == {"owner": "acme", "tier": "gold"}
    regions = described(ssm, f"{green}/acme/regions")
    assert (regions["Type"], regions["Description"]) == ("StringList", "serving regions")
    assert value(ssm, f"{green}/acme/regions") == "eu-west-1,us-east-1"
    password = described(ssm, f"{green}/acme/db/password")
    assert (password["Type"], password["KeyId"]) == ("SecureString", key)
    assert value(ssm, f"{green}/acme/db/password") == "pa55-w0rd-acme"
    assert tags(ssm, f"{green}/acme/db/password") == {"rotation": "90d"}

    again = copier(adaptive, cohort).copy("blue", "green")
    assert again.written == 0
    assert again.counts == {"equal": 3}


def test_secure_string_key_is_mapped_to_the_target_colours_key(
        fleet: Fleet, ssm: Any, aws: AwsClients, adaptive: AwsClients) -> None:
    cohort = namespace(fleet)
    green_key = aws.client("kms").create_key(Description="green config")["KeyMetadata"]["Arn"]
    ssm.put_parameter(Name=f"{cohort.colour_prefix('blue')}/acme/api-token", Value="tok-123456",
                      Type="SecureString", KeyId=cohort.kms_key_arn)

    mapped = copier(adaptive, cohort, key_map={cohort.kms_key_arn: green_key})
    report = mapped.copy("blue", "green")

    target = f"{cohort.colour_prefix('green')}/acme/api-token"
    assert report.verification is not None and report.verification.ok
    assert described(ssm, target)["KeyId"] == green_key
    assert value(ssm, target) == "tok-123456"


def test_a_tenant_edit_on_the_target_is_a_conflict_left_alone_unless_forced(
        fleet: Fleet, ssm: Any, adaptive: AwsClients) -> None:
    cohort = namespace(fleet)
    blue, green = cohort.colour_prefix("blue"), cohort.colour_prefix("green")
    ssm.put_parameter(Name=f"{blue}/acme/limit", Value="10", Type="String")
    ssm.put_parameter(Name=f"{blue}/acme/mode", Value="fast", Type="String")
    copier(adaptive, cohort).copy("blue", "green")
    ssm.put_parameter(Name=f"{green}/acme/limit", Value="25", Type="String", Overwrite=True)
    ssm.put_parameter(Name=f"{blue}/acme/limit", Value="12", Type="String", Overwrite=True)
    ssm.put_parameter(Name=f"{blue}/acme/mode", Value="safe", Type="String", Overwrite=True)

    report = copier(adaptive, cohort).copy("blue", "green")

    statuses = {item.key: (item.status, item.action) for item in report.items}
    assert statuses["acme/limit"] == (Difference.CONFLICT, WriteKind.NONE)
    assert statuses["acme/mode"] == (Difference.STALE, WriteKind.OVERWRITE)
    assert [c.key for c in report.conflicts] == ["acme/limit"]
    assert value(ssm, f"{green}/acme/limit") == "25"
    assert value(ssm, f"{green}/acme/mode") == "safe"

    still = copier(adaptive, cohort).copy("blue", "green")
    assert [c.key for c in still.conflicts] == ["acme/limit"]
    assert value(ssm, f"{green}/acme/limit") == "25"

    forced = copier(adaptive, cohort).copy("blue", "green", force=True)
    assert forced.conflicts == [] and forced.written == 1
    assert value(ssm, f"{green}/acme/limit") == "12"


def test_dry_run_makes_no_write_call(fleet: Fleet, ssm: Any) -> None:
    cohort = namespace(fleet)
    blue, green = cohort.colour_prefix("blue"), cohort.colour_prefix("green")
    for index in range(12):
        ssm.put_parameter(Name=f"{blue}/acme/key{index}", Value=f"v{index}", Type="String",
                          Tags=[{"Key": "n", "Value": str(index)}])
    ssm.put_parameter(Name=f"{green}/acme/key0", Value="other", Type="String")
    clients = AwsClients(retry_mode="adaptive")
    calls: list[str] = []
    for service in ("ssm", "dynamodb", "secretsmanager"):
        clients.client(service).meta.events.register(
            f"before-call.{service}", lambda model, **_: calls.append(model.name))

    report = copier(clients, cohort, secrets_manager=True).copy(
        "blue", "green", dry_run=True, force=True)

    assert calls, "the hook saw no call at all"
    assert [c for c in calls if c.startswith(WRITE_PREFIXES)] == []
    assert {item.action for item in report.items} == {WriteKind.CREATE, WriteKind.OVERWRITE}
    assert not any(item.done for item in report.items)
    assert report.verification is None and not report.snapshot_recorded
    assert names_under(ssm, green) == [f"{green}/acme/key0"]
    assert value(ssm, f"{green}/acme/key0") == "other"


def test_secrets_manager_secrets_follow_the_same_rules(
        fleet: Fleet, aws: AwsClients, adaptive: AwsClients) -> None:
    cohort = namespace(fleet)
    sm = aws.client("secretsmanager")
    base = cohort.param_prefix.strip("/")
    sm.create_secret(Name=f"{base}/blue/acme/db", SecretString='{"user":"acme","pw":"x9!"}',
                     Description="db login", KmsKeyId=cohort.kms_key_arn,
                     Tags=[{"Key": "owner", "Value": "acme"}])
    sm.create_secret(Name=f"{base}/blue/acme/cert", SecretBinary=b"\x00\x01binary-cert")

    first = copier(adaptive, cohort, secrets_manager=True).copy("blue", "green")

    assert first.verification is not None and first.verification.ok
    db = sm.describe_secret(SecretId=f"{base}/green/acme/db")
    assert (db["Description"], db["KmsKeyId"]) == ("db login", cohort.kms_key_arn)
    assert {t["Key"]: t["Value"] for t in db["Tags"]} == {"owner": "acme"}
    assert sm.get_secret_value(SecretId=f"{base}/green/acme/db")["SecretString"] == (
        '{"user":"acme","pw":"x9!"}')
    assert sm.get_secret_value(SecretId=f"{base}/green/acme/cert")["SecretBinary"] == (
        b"\x00\x01binary-cert")

    sm.put_secret_value(SecretId=f"{base}/green/acme/db", SecretString="tenant-changed")
    sm.put_secret_value(SecretId=f"{base}/blue/acme/db", SecretString="rotated-on-blue")
    second = copier(adaptive, cohort, secrets_manager=True).copy("blue", "green")
    conflict = next(i for i in second.items if i.key == "acme/db")
    assert (conflict.status, conflict.secret_value) == (Difference.CONFLICT, "(secret, differs)")
    assert sm.get_secret_value(SecretId=f"{base}/green/acme/db")["SecretString"] == (
        "tenant-changed")
    copier(adaptive, cohort, secrets_manager=True).copy("blue", "green", force=True)
    assert sm.get_secret_value(SecretId=f"{base}/green/acme/db")["SecretString"] == (
        "rotated-on-blue")


def test_a_tenant_scoped_copy_touches_only_that_tenant(
        fleet: Fleet, ssm: Any, adaptive: AwsClients) -> None:
    cohort = namespace(fleet)
    blue, green = cohort.colour_prefix("blue"), cohort.colour_prefix("green")
    for tenant in ("acme", "globex"):
        ssm.put_parameter(Name=f"{blue}/{tenant}/plan", Value="pro", Type="String")

    report = copier(adaptive, cohort).copy("blue", "green", tenant="acme")

    assert [item.key for item in report.items] == ["acme/plan"]
    assert names_under(ssm, green) == [f"{green}/acme/plan"]


# the command line ---------------------------------------------------------
def test_cli_conflict_exits_3_and_force_overwrites(
        cli_env: Fleet, ssm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    canary = cli_env.cohorts["canary"]
    blue, green = canary.colour_prefix("blue"), canary.colour_prefix("green")
    ssm.put_parameter(Name=f"{blue}/aurora/locale", Value="en-GB", Type="String")
    ssm.put_parameter(Name=f"{green}/aurora/locale", Value="fr-FR", Type="String")
    args = ["config", "copy", "--cohort", "canary", "--from", "blue", "--to", "green",
            "--tenant", "aurora"]

    assert run([*args, "--json"]) == 3
    out = capsys.readouterr()
    document = json.loads(out.out)
    assert document["exit_code"] == 3 and "conflict" in document["error"]
    item = next(i for i in document["items"] if i["key"] == "aurora/locale")
    assert (item["status"], item["source_value"], item["target_value"]) == (
        "conflict", "en-GB", "fr-FR")
    assert value(ssm, f"{green}/aurora/locale") == "fr-FR"

    assert run([*args, "--force"]) == 0
    assert "overwrite" in capsys.readouterr().out
    assert value(ssm, f"{green}/aurora/locale") == "en-GB"


def test_cli_dry_run_writes_nothing_and_says_what_it_would_do(
        cli_env: Fleet, ssm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    canary = cli_env.cohorts["canary"]
    blue, green = canary.colour_prefix("blue"), canary.colour_prefix("green")
    ssm.put_parameter(Name=f"{blue}/birch/seats", Value="40", Type="String")
    snapshots_before = _ledger_items(cli_env)

    code = run(["config", "copy", "--cohort", "canary", "--from", "blue", "--to", "green",
                "--tenant", "birch", "--dry-run"])

    assert code == 0
    out = capsys.readouterr().out
    assert "would create" in out and "nothing was written" in out
    assert names_under(ssm, f"{green}/birch") == []
    assert _ledger_items(cli_env) == snapshots_before


def test_cli_bad_colour_cohort_or_tenant_exits_2_and_writes_nothing(
        cli_env: Fleet, ssm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    before = names_under(ssm, f"/{cli_env.app}")
    ledger_before = _ledger_items(cli_env)
    base = ["config", "copy", "--from", "blue", "--to", "green"]

    assert run([*base, "--cohort", "canary", "--to", "purple"]) == 2
    assert "unknown colour 'purple'" in capsys.readouterr().err
    assert run(["config", "copy", "--cohort", "canary", "--from", "green", "--to", "green"]) == 2
    assert run([*base, "--cohort", "no-such-cohort"]) == 2
    assert "unknown cohort" in capsys.readouterr().err
    assert run([*base, "--cohort", "canary", "--tenant", "cedar"]) == 2
    assert "not a tenant of cohort canary" in capsys.readouterr().err
    assert run(["config", "diff", "--cohort", "canary", "--from", "red", "--to", "blue",
                "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["exit_code"] == 2

    assert names_under(ssm, f"/{cli_env.app}") == before
    assert _ledger_items(cli_env) == ledger_before


def _ledger_items(fleet: Fleet) -> list[dict[str, Any]]:
    dynamodb = fleet.clients.client("dynamodb")
    pages = dynamodb.get_paginator("scan").paginate(TableName=fleet.shared.ledger_table)
    return sorted((item for page in pages for item in page["Items"]),
                  key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def test_a_secret_never_appears_in_output_logs_or_the_ledger(
        cli_env: Fleet, ssm: Any, aws: AwsClients, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    plaintext = f"s3cr3t-{uuid.uuid4().hex}"
    edited = f"edited-{uuid.uuid4().hex}"
    edited_again = f"again-{uuid.uuid4().hex}"
    wave1 = cli_env.cohorts["wave1"]
    blue, green = wave1.colour_prefix("blue"), wave1.colour_prefix("green")
    secret_name = "cedar/smtp/password"
    ssm.put_parameter(Name=f"{blue}/{secret_name}", Value=plaintext, Type="SecureString",
                      KeyId=wave1.kms_key_arn)
    ssm.put_parameter(Name=f"{blue}/cedar/smtp/host", Value="mail.cedar.example", Type="String")
    sm_name = f"{wave1.param_prefix.strip('/')}/blue/dune/api-key"
    aws.client("secretsmanager").create_secret(Name=sm_name, SecretString=plaintext)
    cohort_args = ["--cohort", "wave1", "--secrets-manager"]
    forward = [*cohort_args, "--from", "blue", "--to", "green"]
    printed: list[str] = []
    logged: list[logging.LogRecord] = []

    def rollout(*args: str) -> int:
        """Run a command with everything logged at DEBUG, as a user chasing a problem would."""
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            code = run(list(args))
        logged.extend(caplog.records)
        out = capsys.readouterr()
        printed.append(out.out + out.err)
        return code

    def tenant_sets(name: str, secret: str) -> None:
        ssm.put_parameter(Name=name, Value=secret, Type="SecureString", KeyId=wave1.kms_key_arn,
                          Overwrite=True)

    assert rollout("config", "diff", *forward) == 0
    assert rollout("config", "copy", *forward, "--json") == 0
    assert value(ssm, f"{green}/{secret_name}") == plaintext
    tenant_sets(f"{green}/{secret_name}", edited)
    assert rollout("config", "diff", *forward, "--json") == 0
    assert rollout("config", "carry-back", *cohort_args, "--from", "green", "--to", "blue") == 0
    assert value(ssm, f"{blue}/{secret_name}") == edited
    tenant_sets(f"{green}/{secret_name}", edited_again)
    assert rollout("config", "copy", *forward) == 3
    assert value(ssm, f"{green}/{secret_name}") == edited_again

    secrets = (plaintext, edited, edited_again)
    digests = [hashlib.sha256(s.encode()).hexdigest() for s in secrets]
    output = "".join(printed)
    assert "(secret, differs)" in output and "mail.cedar.example" in output
    log_text = "\n".join(f"{r.name} {r.getMessage()}" for r in logged)
    assert any(r.name == "botocore.endpoint" for r in logged), "debug logging was not captured"
    assert WITHHELD in log_text
    ledger = json.dumps(_ledger_items(cli_env))
    assert "SNAPSHOT#ssm#blue>green#cedar" in ledger
    for secret in (*secrets, *digests):
        assert secret not in output
        assert secret not in log_text
        assert secret not in ledger


def test_a_refused_secret_write_never_quotes_the_secret(
        fleet: Fleet, ssm: Any, moto_endpoint: str) -> None:
    cohort = namespace(fleet)
    plaintext = f"s3cr3t-{uuid.uuid4().hex}"
    ssm.put_parameter(Name=f"{cohort.colour_prefix('blue')}/acme/pw", Value=plaintext,
                      Type="SecureString", KeyId=cohort.kms_key_arn)
    clients = AwsClients(retry_mode="adaptive")

    def aws_echoes_the_value(params: dict[str, Any], **_: Any) -> None:
        raise ClientError({"Error": {"Code": "ValidationException", "Message": (
            f"Value '{params['Value']}' at 'value' failed to satisfy constraint")}},
            "PutParameter")

    clients.client("ssm").meta.events.register(
        "before-parameter-build.ssm.PutParameter", aws_echoes_the_value)

    with pytest.raises(CopyInterrupted) as refused:
        copier(clients, cohort).copy("blue", "green")

    told = "".join(traceback.format_exception(refused.value))
    assert "acme/pw: ValidationException" in told
    assert plaintext not in told


# nothing lost either way: carry-back on rollback, resumed copies ------------------
def values_under(ssm: Any, path: str) -> dict[str, tuple[str, str]]:
    """Key below ``path`` → (type, decrypted value)."""
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path=path, Recursive=True, WithDecryption=True)
    return {p["Name"][len(path) + 1:]: (p["Type"], p["Value"])
            for page in pages for p in page["Parameters"]}


def put(ssm: Any, name: str, value: str, kind: str = "String", **extra: Any) -> None:
    """Set a parameter the way a tenant does: create or overwrite."""
    ssm.put_parameter(Name=name, Value=value, Type=kind, Overwrite=True, **extra)


def test_edits_on_the_new_colour_are_carried_back_to_the_old_one(
        fleet: Fleet, ssm: Any, adaptive: AwsClients) -> None:
    cohort = namespace(fleet)
    blue, green = cohort.colour_prefix("blue"), cohort.colour_prefix("green")
    key = cohort.kms_key_arn
    for name, value in (("acme/limit", "10"), ("acme/mode", "fast"), ("acme/legacy", "on"),
                        ("acme/shared", "a"), ("globex/limit", "5")):
        put(ssm, f"{blue}/{name}", value)
    put(ssm, f"{blue}/acme/token", "token-v1", "SecureString", KeyId=key)
    copier(adaptive, cohort).copy("blue", "green")

    put(ssm, f"{green}/acme/limit", "50")
    put(ssm, f"{green}/acme/token", "token-v2", "SecureString", KeyId=key)
    put(ssm, f"{green}/acme/webhook", "https://acme.example/hook")
    ssm.delete_parameter(Name=f"{green}/acme/legacy")
    put(ssm, f"{green}/acme/shared", "green-edit")
    put(ssm, f"{blue}/acme/shared", "blue-edit")
    put(ssm, f"{blue}/globex/limit", "7")

    report = copier(adaptive, cohort).carry_back("green", "blue")

    assert report.operation == "carry-back"
    assert report.verification is not None and report.verification.ok
    status = {item.key: (item.status, item.action) for item in report.items}
    assert status["acme/limit"] == (Difference.STALE, WriteKind.OVERWRITE)
    assert status["acme/token"] == (Difference.STALE, WriteKind.OVERWRITE)
    assert status["acme/webhook"] == (Difference.MISSING, WriteKind.CREATE)
    assert status["acme/legacy"] == (Difference.DELETED, WriteKind.DELETE)
    assert status["acme/shared"] == (Difference.CONFLICT, WriteKind.NONE)
    assert status["acme/mode"][0] == Difference.UNCHANGED
    assert status["globex/limit"][0] == Difference.UNCHANGED
    assert values_under(ssm, blue) == {
        "acme/limit": ("String", "50"),
        "acme/mode": ("String", "fast"),
        "acme/shared": ("String", "blue-edit"),
        "acme/token": ("SecureString", "token-v2"),
        "acme/webhook": ("String", "https://acme.example/hook"),
        "globex/limit": ("String", "7"),
    }

    again = copier(adaptive, cohort).carry_back("green", "blue")
    assert again.written == 0
    assert [c.key for c in again.conflicts] == ["acme/shared"]

    forced = copier(adaptive, cohort).carry_back("green", "blue", force=True)
    assert forced.written == 1
    assert values_under(ssm, blue)["acme/shared"] == ("String", "green-edit")

    rerun = copier(adaptive, cohort).copy("blue", "green")
    assert rerun.written == 1 and rerun.conflicts == []
    assert values_under(ssm, green)["globex/limit"] == ("String", "7")


def test_carry_back_without_a_recorded_copy_is_blocked(
        fleet: Fleet, ssm: Any, adaptive: AwsClients) -> None:
    cohort = namespace(fleet)
    put(ssm, f"{cohort.colour_prefix('green')}/acme/limit", "50")

    with pytest.raises(Blocked, match="no config copy blue → green is recorded"):
        copier(adaptive, cohort).carry_back("green", "blue")

    assert values_under(ssm, cohort.colour_prefix("blue")) == {}


def test_an_interrupted_copy_resumes_with_nothing_lost_or_duplicated(
        fleet: Fleet, ssm: Any, moto_endpoint: str) -> None:
    cohort = namespace(fleet)
    blue, green = cohort.colour_prefix("blue"), cohort.colour_prefix("green")
    kinds = ("String", "StringList", "SecureString")
    for index in range(48):
        kind = kinds[index % 3]
        extra = {"KeyId": cohort.kms_key_arn} if kind == "SecureString" else {}
        ssm.put_parameter(Name=f"{blue}/t{index % 4}/key{index:02d}", Value=f"v{index},x",
                          Type=kind, Tags=[{"Key": "n", "Value": str(index)}], **extra)
    broken = AwsClients(retry_mode="adaptive")
    puts = []

    def network_drops_after_20_writes(**_: Any) -> None:
        puts.append(1)
        if len(puts) > 20:
            raise EndpointConnectionError(endpoint_url=moto_endpoint)

    broken.client("ssm").meta.events.register(
        "before-call.ssm.PutParameter", network_drops_after_20_writes)

    with pytest.raises(CopyInterrupted, match="run the same command again") as stopped:
        copier(broken, cohort, workers=4).copy("blue", "green")

    assert stopped.value.exit_code == 1
    landed = values_under(ssm, green)
    assert 20 <= len(landed) < 48

    resumed = copier(AwsClients(retry_mode="adaptive"), cohort, workers=4).copy("blue", "green")

    assert resumed.written == 48 - len(landed)
    assert resumed.verification is not None and resumed.verification.ok
    assert values_under(ssm, green) == values_under(ssm, blue)
    for name in (f"{green}/t{i % 4}/key{i:02d}" for i in range(48)):
        history = ssm.get_parameter_history(Name=name, WithDecryption=True)["Parameters"]
        assert len(history) == 1, f"{name} was written {len(history)} times"
        assert history[0]["Version"] == 1


def test_a_create_whose_answer_was_lost_counts_as_done_when_its_retry_finds_it(
        fleet: Fleet, ssm: Any) -> None:
    """Every create lands but its answer times out: botocore retries into ParameterAlreadyExists.

    The copy recognises its own writes (same type and value) and succeeds by itself,
    with tags in place and each parameter written once.
    """
    cohort = namespace(fleet)
    blue, green = cohort.colour_prefix("blue"), cohort.colour_prefix("green")
    ssm.put_parameter(Name=f"{blue}/acme/limit", Value="50", Type="String",
                      Tags=[{"Key": "owner", "Value": "acme"}])
    put(ssm, f"{blue}/acme/regions", "eu,us", "StringList")
    put(ssm, f"{blue}/acme/token", "lost-answer-secret", "SecureString",
        KeyId=cohort.kms_key_arn)
    rules = [FaultRule("ssm", "PutParameter", n, FaultKind.READ_TIMEOUT) for n in (1, 2, 3)]

    with compressed_backoff(0.05), FaultInjector(rules).installed() as injector:
        report = copier(AwsClients(retry_mode="adaptive"), cohort, workers=2).copy(
            "blue", "green")

    assert len(injector.fired) == 3
    assert report.written == 3
    assert report.verification is not None and report.verification.ok
    assert values_under(ssm, green) == values_under(ssm, blue)
    assert tags(ssm, f"{green}/acme/limit") == {"owner": "acme"}
    for key in ("acme/limit", "acme/regions", "acme/token"):
        history = ssm.get_parameter_history(Name=f"{green}/{key}")["Parameters"]
        assert len(history) == 1, f"{key} was written {len(history)} times"


def test_a_create_that_meets_someone_elses_value_is_refused_and_left_alone(
        fleet: Fleet, ssm: Any, adaptive: AwsClients) -> None:
    """Between planning and writing, a tenant creates the key with another value: not ours."""
    cohort = namespace(fleet)
    blue, green = cohort.colour_prefix("blue"), cohort.colour_prefix("green")
    put(ssm, f"{blue}/acme/limit", "50")
    clients = AwsClients(retry_mode="adaptive")

    def tenant_gets_there_first(**_: Any) -> None:
        put(ssm, f"{green}/acme/limit", "75")

    clients.client("ssm").meta.events.register_first(
        "before-call.ssm.PutParameter", tenant_gets_there_first)

    with pytest.raises(CopyInterrupted, match="acme/limit: ParameterAlreadyExists"):
        copier(clients, cohort).copy("blue", "green")

    assert values_under(ssm, green) == {"acme/limit": ("String", "75")}
