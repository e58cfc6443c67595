"""``rollout status`` on cohorts whose traffic is not split by the ALB listener.

A ``route53`` cohort and a ``lambda-alias`` cohort (their router named in
``tenants.yaml``) are deployed into moto like any other; their listeners keep
all traffic on blue, which is what the ALB router would report. The weighted
records and the alias are set with plain boto3 to a split the listener never
had, so a status that reads the wrong router cannot pass.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import boto3
import pytest

from tests.cli_runner import rollout
from tests.conftest import Fleet, deploy_fleet, listener_weights
from tests.router_checks import Function, two_published_versions
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Scene:
    fleet: Fleet
    zone: str
    record: str
    function: Function


def lambda_function() -> Function:
    """A function with two published versions, its alias ``live`` 25% on green."""
    function = two_published_versions("status")
    boto3.client("lambda").create_alias(
        FunctionName=function.name, Name="live", FunctionVersion=function.blue,
        RoutingConfig={"AdditionalVersionWeights": {function.green: 0.25}})
    return function


def weighted_records(zone: str, record: str) -> None:
    """Blue 30, green 70 on ``record``, as DNS would route it."""
    boto3.client("route53").change_resource_record_sets(HostedZoneId=zone, ChangeBatch={
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": record, "Type": "CNAME", "SetIdentifier": colour, "Weight": weight,
            "TTL": 60, "ResourceRecords": [{"Value": f"{colour}.{record}"}]}}
            for colour, weight in (("blue", 30), ("green", 70))]})


@pytest.fixture(scope="module")
def scene(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Scene:
    fleet = deploy_fleet(tmp_path_factory.mktemp("status-routers"),
                         {"dns": ["aurora"], "fn": ["birch"]},
                         versions={"blue": "1.4.2", "green": "1.5.0"})
    zone = boto3.client("route53").create_hosted_zone(
        Name="status.example", CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]
    record = f"{fleet.app}.status.example"
    weighted_records(zone, record)
    function = lambda_function()
    write_tenants(fleet.project_dir / "tenants.yaml", [
        cohort_entry("dns", router={
            "kind": "route53", "hosted_zone_id": zone, "record_name": record,
            "targets": {"blue": f"blue.{record}", "green": f"green.{record}"}}),
        cohort_entry("fn", router={
            "kind": "lambda-alias", "function_name": function.name, "alias": "live",
            "versions": {"blue": int(function.blue), "green": int(function.green)}}),
    ], [tenant_entry("aurora", "dns"), tenant_entry("birch", "fn")], notice_days=None)
    return Scene(fleet, zone.removeprefix("/hostedzone/"), record, function)


@pytest.fixture(autouse=True)
def tenants_from_the_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_TENANTS", raising=False)


def test_status_json_reports_the_weighted_records_and_the_alias_split(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    for cohort in ("dns", "fn"):
        assert listener_weights(scene.fleet.cohorts[cohort]) == {"blue": 100, "green": 0}

    assert rollout("status", "--json", fleet=scene.fleet) == 0

    rows = {row["cohort"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["dns"]["weights"] == {"blue": 30, "green": 70}
    assert rows["fn"]["weights"] == {"blue": 75, "green": 25}
    assert rows["dns"]["pins"] == {} and rows["fn"]["pins"] == {}
    assert rows["dns"]["tenant_versions"] == {"aurora": "1.5.0→1.4.2 (30%)"}
    assert rows["fn"]["tenant_versions"] == {"birch": "1.4.2→1.5.0 (25%)"}


def test_status_table_shows_the_router_s_own_shares(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("status", "--cohort", "fn", fleet=scene.fleet) == 0

    [row] = [line for line in capsys.readouterr().out.splitlines() if "fn" in line]
    assert "75% / 25%" in row


def test_iam_policy_of_a_dns_cohort_grants_its_records_not_the_listener(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("iam-policy", "--cohort", "dns", "--json", fleet=scene.fleet) == 0

    policy = json.loads(capsys.readouterr().out)
    granted = {action: statement for statement in policy["Statement"]
               for action in statement["Action"]}
    assert granted["route53:ChangeResourceRecordSets"]["Resource"] == [
        f"arn:aws:route53:::hostedzone/{scene.zone}"]
    assert granted["route53:ChangeResourceRecordSets"]["Condition"] == {
        "ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": [scene.record],
            "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
            "route53:ChangeResourceRecordSetsActions": ["UPSERT"]}}
    for listener_write in ("elasticloadbalancing:ModifyListener",
                           "elasticloadbalancing:CreateRule",
                           "elasticloadbalancing:DeleteRule"):
        assert listener_write not in granted
    assert "elasticloadbalancing:DescribeListeners" in granted  # discovery, the security gate


def test_iam_policy_of_a_lambda_cohort_grants_its_alias(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("iam-policy", "--cohort", "fn", "--json", fleet=scene.fleet) == 0

    policy = json.loads(capsys.readouterr().out)
    [alias] = [s for s in policy["Statement"] if "lambda:UpdateAlias" in s["Action"]]
    assert alias["Action"] == ["lambda:GetAlias", "lambda:UpdateAlias"]
    assert alias["Resource"] == [
        f"arn:aws:lambda:eu-west-1:123456789012:function:{scene.function.name}:live"]
    assert not any("elasticloadbalancing:ModifyListener" in s["Action"]
                   for s in policy["Statement"])
