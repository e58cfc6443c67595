"""Discovery finds the same cohort from the local deployer's record and from tags alone.

A dedicated fleet, because one test deletes its local record to simulate an
account where no Pulumi state is at hand. Discovery itself (the product) reads
only the sources it is given, then tags: the local record only when the edge
passes it.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from rollout.aws_clients import AwsClients
from rollout.cli.context import STACK_OUTPUTS_VARIABLE, RolloutContext, outputs_source_names
from rollout.discovery import CohortResources, Discovery
from rollout.errors import BadInput
from rollout.local.record import LocalRecordOutputs, local_discovery
from rollout.local.state import STATE_BUCKET, LocalStateStore, StackState
from tests.conftest import Fleet, deploy_fleet

pytestmark = pytest.mark.integration

COHORTS = {"canary": ["aurora", "birch"], "wave1": ["cedar"]}


@pytest.fixture(scope="module")
def own_fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return deploy_fleet(tmp_path_factory.mktemp("discovery"), COHORTS,
                        versions={"blue": "1.4.2", "green": "1.5.0"})


@pytest.fixture(scope="module")
def from_outputs(own_fleet: Fleet) -> dict[str, CohortResources]:
    discovery = local_discovery(own_fleet.clients, own_fleet.app)
    return {cohort: discovery.cohort(cohort) for cohort in COHORTS}


@pytest.fixture(scope="module")
def from_tags(own_fleet: Fleet, from_outputs: dict[str, CohortResources]
              ) -> dict[str, CohortResources]:
    """Discovery after the local deployer's record of the fleet is gone.

    Target groups of another app with the same cohort and colour tags are
    added first: discovery must not pick them up.
    """
    elbv2 = boto3.client("elbv2")
    vpc = boto3.client("ec2").describe_vpcs()["Vpcs"][0]["VpcId"]
    for colour in ("blue", "green"):
        elbv2.create_target_group(
            Name=f"intruder-canary-{colour}", Protocol="HTTP", Port=80, VpcId=vpc,
            Tags=[{"Key": "rollout:app", "Value": f"{own_fleet.app}x"},
                  {"Key": "rollout:cohort", "Value": "canary"},
                  {"Key": "rollout:colour", "Value": colour},
                  {"Key": "rollout:version", "Value": "9.9.9"}])
    store = LocalStateStore(own_fleet.clients, own_fleet.app)
    s3 = boto3.client("s3")
    for stack in store.stacks():
        s3.delete_object(Bucket=STATE_BUCKET, Key=store.key(stack))
    assert store.stacks() == []
    discovery = local_discovery(own_fleet.clients, own_fleet.app)
    return {cohort: discovery.cohort(cohort) for cohort in COHORTS}


def test_outputs_describe_what_is_deployed(own_fleet: Fleet,
                                           from_outputs: dict[str, CohortResources]) -> None:
    canary = from_outputs["canary"]
    elbv2 = boto3.client("elbv2")
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=canary.load_balancer_arn)["Listeners"]
    assert listener["ListenerArn"] == canary.listener_arn
    weights = {g["TargetGroupArn"]: g["Weight"]
               for g in listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]}
    assert weights == {canary.target_group_arns["blue"]: 100,
                       canary.target_group_arns["green"]: 0}
    assert canary.versions == {"blue": "1.4.2", "green": "1.5.0"}
    assert [t.id for t in canary.tenants] == ["aurora", "birch"]
    assert canary.param_prefix == f"/{own_fleet.app}/canary"


@pytest.mark.parametrize("cohort", sorted(COHORTS))
def test_tags_alone_find_the_same_cohort(cohort: str, from_outputs: dict[str, CohortResources],
                                         from_tags: dict[str, CohortResources]) -> None:
    by_outputs, by_tags = from_outputs[cohort], from_tags[cohort]
    same = {"app", "cohort", "listener_arn", "load_balancer_arn", "target_group_arns",
            "versions", "param_prefix", "artefact_bucket", "ledger_table", "notices_topic_arn",
            "kms_key_arn"}
    assert by_tags.model_dump(include=same) == by_outputs.model_dump(include=same)
    assert by_tags.kms_key_arn is not None
    assert by_tags.tenants == [], "tenants live in the stack config and tenants.yaml, not in tags"


def test_tags_alone_list_the_cohorts_and_find_the_shared_stack(
        own_fleet: Fleet, from_tags: dict[str, CohortResources]) -> None:
    discovery = local_discovery(own_fleet.clients, own_fleet.app)
    assert discovery.cohorts() == sorted(COHORTS)
    shared = discovery.shared()
    assert shared.artefact_bucket == from_tags["canary"].artefact_bucket
    assert shared.ledger_table == f"{own_fleet.app}-rollout-ledger"


def test_an_unknown_cohort_is_bad_input_naming_the_deployed_ones(
        own_fleet: Fleet, from_outputs: dict[str, CohortResources]) -> None:
    with pytest.raises(BadInput, match=r"unknown cohort 'nope' .*deployed cohorts: canary, wave1"):
        local_discovery(own_fleet.clients, own_fleet.app).cohort("nope")


def test_an_app_with_nothing_deployed_has_no_shared_stack(aws: AwsClients) -> None:
    with pytest.raises(BadInput, match="shared stack of app 'ghost' is not deployed"):
        Discovery(aws, "ghost").shared()
    assert Discovery(aws, "ghost").cohorts() == []


# --- which sources discovery asks ---------------------------------------------------------

@pytest.fixture
def recorded_only(aws: AwsClients) -> str:
    """An app the local record knows (one cohort, made-up outputs) and no tag names."""
    app = "recorded-only"
    outputs = {"app": app, "cohort": "canary", "artefactBucket": "b", "ledgerTable": "t",
               "noticesTopicArn": "arn:aws:sns:eu-west-1:123456789012:n",
               "listenerArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
                              "listener/app/x/1/2",
               "loadBalancerArn": "lb", "targetGroupArns": {"blue": "tb", "green": "tg"},
               "versions": {"blue": "1.0.0", "green": "1.0.0"}, "paramPrefix": f"/{app}/canary"}
    LocalStateStore(aws, app).save("canary", StackState(outputs=outputs))
    return app


def test_discovery_reads_the_local_record_only_when_given_it(
        aws: AwsClients, recorded_only: str) -> None:
    assert local_discovery(aws, recorded_only).cohort("canary").listener_arn.endswith("/1/2")
    assert LocalRecordOutputs(aws, recorded_only).cohorts() == ["canary"]
    with pytest.raises(BadInput, match=r"unknown cohort 'canary' .*deployed cohorts: none"):
        Discovery(aws, recorded_only).cohort("canary")
    assert Discovery(aws, recorded_only).cohorts() == []


def test_the_cli_edge_reads_the_local_record_against_moto(
        aws: AwsClients, recorded_only: str, tmp_path: Path) -> None:
    found = RolloutContext(tmp_path, recorded_only).cohort("canary")
    assert found.target_group_arns == {"blue": "tb", "green": "tg"}


def test_the_edge_asks_pulumi_only_when_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STACK_OUTPUTS_VARIABLE, raising=False)
    assert outputs_source_names() == ["local"]
    monkeypatch.setenv(STACK_OUTPUTS_VARIABLE, "pulumi")
    assert outputs_source_names() == ["local", "pulumi"]
    monkeypatch.setenv(STACK_OUTPUTS_VARIABLE, "terraform")
    with pytest.raises(BadInput, match="ROLLOUT_STACK_OUTPUTS must be tags or pulumi, got "
                                       "'terraform'"):
        outputs_source_names()
