"""The local deployer deploys the real infra program into a moto server, over HTTP.

Everything is read back through plain boto3 clients, the way an operator would
look at an account, not through the deployer's own record.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from pulumi.runtime import MockCallArgs, MockResourceArgs

from rollout.aws_clients import AwsClients
from rollout.cli import run
from rollout.local.deployer import DeployResult, LocalDeployer
from rollout.local.messages import LocalDeployError
from rollout.local.mocks import MotoMocks
from rollout.local.server import FAKE_CREDENTIALS, free_port, wait_until_listening
from rollout.local.state import LocalStateStore
from tests.conftest import shared_yaml, stack_yaml

pytestmark = pytest.mark.integration

ROLLOUT = Path(sys.executable).with_name("rollout")


@dataclass
class Project:
    app: str
    directory: Path
    deployer: LocalDeployer
    first_up: list[DeployResult]

    def add_cohort(self, cohort: str, octet: int) -> None:
        (self.directory / f"Pulumi.{cohort}.yaml").write_text(
            stack_yaml(self.app, cohort, ["aurora"], cidr_octet=octet))


@pytest.fixture(scope="module")
def project(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A fresh app with a shared stack and a cohort ``solo``, deployed by one ``up``."""
    app = f"e{uuid.uuid4().hex[:8]}"
    directory = tmp_path_factory.mktemp("deployer")
    (directory / "Pulumi.shared.yaml").write_text(shared_yaml(app))
    (directory / "Pulumi.solo.yaml").write_text(
        stack_yaml(app, "solo", ["aurora", "birch"], blue="1.4.2", green="1.4.2"))
    deployer = LocalDeployer(directory, AwsClients())
    return Project(app, directory, deployer, deployer.up("solo"))


def elbv2() -> Any:
    return boto3.client("elbv2")


def balancer_named(name: str) -> dict[str, Any]:
    (balancer,) = elbv2().describe_load_balancers(Names=[name])["LoadBalancers"]
    return dict(balancer)


def forward_weights(balancer_arn: str) -> dict[str, int]:
    """Target group ARN → weight of the load balancer's forwarding listener."""
    (listener,) = elbv2().describe_listeners(LoadBalancerArn=balancer_arn)["Listeners"]
    (action,) = listener["DefaultActions"]
    return {group["TargetGroupArn"]: group["Weight"]
            for group in action["ForwardConfig"]["TargetGroups"]}


def target_groups(balancer_arn: str) -> dict[str, dict[str, str]]:
    """Colour → tags of the target groups the listener forwards to."""
    arns = list(forward_weights(balancer_arn))
    described = elbv2().describe_tags(ResourceArns=arns)["TagDescriptions"]
    found = {}
    for item in described:
        tags = {tag["Key"]: tag["Value"] for tag in item["Tags"]}
        found[tags["rollout:colour"]] = {**tags, "arn": item["ResourceArn"]}
    return found


def inventory() -> dict[str, int]:
    return {
        "load balancers": len(elbv2().describe_load_balancers()["LoadBalancers"]),
        "listeners": sum(len(elbv2().describe_listeners(LoadBalancerArn=b["LoadBalancerArn"])
                             ["Listeners"])
                         for b in elbv2().describe_load_balancers()["LoadBalancers"]),
        "target groups": len(elbv2().describe_target_groups()["TargetGroups"]),
        "tables": len(boto3.client("dynamodb").list_tables()["TableNames"]),
        "buckets": len(boto3.client("s3").list_buckets()["Buckets"]),
        "topics": len(boto3.client("sns").list_topics()["Topics"]),
        "vpcs": len(boto3.client("ec2").describe_vpcs()["Vpcs"]),
        "subnets": len(boto3.client("ec2").describe_subnets()["Subnets"]),
        "keys": len(boto3.client("kms").list_keys()["Keys"]),
        "policies": len(boto3.client("iam").list_policies(Scope="Local")["Policies"]),
    }


def test_a_cohort_deploy_deploys_the_missing_shared_stack_first(project: Project) -> None:
    assert [result.stack for result in project.first_up] == ["shared", "solo"]
    shared, solo = project.first_up
    assert any("aws:s3/bucket:Bucket" in key for key in shared.created)
    assert any("aws:lb/listener:Listener" in key for key in solo.created)
    assert solo.reused == []


def test_listener_weights_and_versioned_target_groups_read_back_through_boto3(
        project: Project) -> None:
    balancer = balancer_named(f"{project.app}-solo")
    assert balancer["Scheme"] == "internal"
    groups = target_groups(balancer["LoadBalancerArn"])
    assert sorted(groups) == ["blue", "green"]
    assert forward_weights(balancer["LoadBalancerArn"]) == {groups["blue"]["arn"]: 100,
                                                            groups["green"]["arn"]: 0}
    for colour in ("blue", "green"):
        assert groups[colour]["rollout:version"] == "1.4.2"
        assert groups[colour]["rollout:app"] == project.app
        assert groups[colour]["rollout:cohort"] == "solo"
    outputs = project.first_up[-1].outputs
    (listener,) = elbv2().describe_listeners(
        LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    assert outputs["listenerArn"] == listener["ListenerArn"]
    assert outputs["targetGroupArns"] == {c: groups[c]["arn"] for c in ("blue", "green")}
    assert outputs["versions"] == {"blue": "1.4.2", "green": "1.4.2"}
    assert outputs["paramPrefix"] == f"/{project.app}/solo"


def test_the_cohort_reads_the_shared_stack_outputs_by_stack_reference(project: Project) -> None:
    shared, solo = project.first_up
    for key in ("artefactBucket", "ledgerTable", "noticesTopicArn"):
        assert solo.outputs[key] == shared.outputs[key]
    s3 = boto3.client("s3")
    bucket = shared.outputs["artefactBucket"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    (lifecycle,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] == 365
    table = boto3.client("dynamodb").describe_table(TableName=shared.outputs["ledgerTable"])
    assert table["Table"]["KeySchema"][0]["AttributeName"] == "pk"
    boto3.client("sns").get_topic_attributes(TopicArn=shared.outputs["noticesTopicArn"])


def test_running_up_again_creates_nothing_new(
        project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    before = inventory()
    code = run(["--project-dir", str(project.directory), "local", "up", "--cohort", "solo",
                "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    (result,) = json.loads(out)
    assert result["stack"] == "solo"
    assert result["created"] == []
    assert len(result["reused"]) == len(project.first_up[-1].created)
    assert inventory() == before
    assert result["outputs"] == project.first_up[-1].outputs


def test_a_version_override_retags_the_colour_and_leaves_the_weights_alone(
        project: Project) -> None:
    project.add_cohort("duo", 31)
    project.deployer.up("duo")
    balancer_arn = balancer_named(f"{project.app}-duo")["LoadBalancerArn"]
    groups = target_groups(balancer_arn)
    (listener,) = elbv2().describe_listeners(LoadBalancerArn=balancer_arn)["Listeners"]
    elbv2().modify_listener(ListenerArn=listener["ListenerArn"], DefaultActions=[{
        "Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": groups["blue"]["arn"], "Weight": 70},
            {"TargetGroupArn": groups["green"]["arn"], "Weight": 30}]}}])
    before = inventory()

    (result,) = project.deployer.up("duo", overrides={"versions": {"green": "1.5.0"}})

    after = target_groups(balancer_arn)
    assert after["green"]["rollout:version"] == "1.5.0"
    assert after["blue"]["rollout:version"] == "1.4.2"
    assert result.outputs["versions"] == {"blue": "1.4.2", "green": "1.5.0"}
    assert result.created == []
    assert forward_weights(balancer_arn) == {groups["blue"]["arn"]: 70,
                                             groups["green"]["arn"]: 30}
    assert inventory() == before
    (again,) = project.deployer.up("duo")
    assert again.outputs["versions"]["green"] == "1.5.0", "an override is remembered"


def test_a_failed_up_keeps_what_it_created_and_the_next_up_finishes_it(
        project: Project) -> None:
    project.add_cohort("trio", 32)
    iam = boto3.client("iam")
    squatter = iam.create_policy(PolicyName=f"{project.app}-trio-tenant-config",
                                 PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                                     {"Effect": "Allow", "Action": "sns:Publish",
                                      "Resource": "*"}]}))
    with pytest.raises(LocalDeployError) as failed:
        project.deployer.up("trio")
    message = str(failed.value)
    assert message.startswith("local up of stack 'trio' failed: aws:iam/policy:Policy")
    assert "EntityAlreadyExists" in message and "\n" not in message
    balancer_arn = balancer_named(f"{project.app}-trio")["LoadBalancerArn"]
    iam.delete_policy(PolicyArn=squatter["Policy"]["Arn"])
    before = inventory()

    (result,) = project.deployer.up("trio")

    assert sorted(result.created) == ["aws:iam/policy:Policy::trio-config-access",
                                      "aws:iam/policy:Policy::trio-workflow-boundary"]
    assert balancer_named(f"{project.app}-trio")["LoadBalancerArn"] == balancer_arn
    assert inventory() == {**before, "policies": before["policies"] + 2}


@pytest.fixture
def store(aws: AwsClients) -> LocalStateStore:
    return LocalStateStore(aws, f"m{uuid.uuid4().hex[:8]}")


@pytest.fixture
def mocks(aws: AwsClients, store: LocalStateStore) -> MotoMocks:
    return MotoMocks(aws, store, "canary")


def test_an_unsupported_resource_type_is_refused_by_name(mocks: MotoMocks) -> None:
    with pytest.raises(LocalDeployError) as refused:
        mocks.new_resource(MockResourceArgs(typ="aws:rds/instance:Instance", name="db",
                                            inputs={"engine": "postgres"}, custom=True))
    assert "does not support resource type aws:rds/instance:Instance" in str(refused.value)
    assert "aws:lb/listener:Listener" in str(refused.value), "lists what is supported"
    with pytest.raises(LocalDeployError, match="does not support the function aws:ec2/getVpc"):
        mocks.call(MockCallArgs(token="aws:ec2/getVpc:getVpc", args={}, provider=""))


def test_each_created_resource_is_in_the_state_before_the_run_ends(
        store: LocalStateStore, mocks: MotoMocks) -> None:
    """If the process died right now, the next run would know the topic exists."""
    topic_id, outputs = mocks.new_resource(MockResourceArgs(
        typ="aws:sns/topic:Topic", name="notices", custom=True,
        inputs={"name": f"t-{uuid.uuid4().hex[:8]}", "tags": {"rollout:app": "m"}}))
    saved = store.load("canary")
    assert saved is not None
    record = saved.resources["aws:sns/topic:Topic::notices"]
    assert record.id == topic_id == outputs["arn"]
    assert topic_id in [t["TopicArn"] for t in boto3.client("sns").list_topics()["Topics"]]


def test_local_server_serves_aws_apis_without_request_logs() -> None:
    server_port = free_port()
    endpoint = f"http://127.0.0.1:{server_port}"
    server = subprocess.Popen([str(ROLLOUT), "local", "server", "--port", str(server_port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_listening(server_port, timeout=30)
        session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name="eu-west-1")
        s3 = session.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="served", CreateBucketConfiguration={
            "LocationConstraint": "eu-west-1"})
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["served"]
        elb = session.client("elbv2", endpoint_url=endpoint)
        assert elb.describe_load_balancers()["LoadBalancers"] == []
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert f"moto server listening on {endpoint}" in out
    assert "stopped" in out
    requests = [line for line in (out + err).splitlines()
                if "HTTP/1.1" in line or '"GET ' in line or '"PUT ' in line or '"POST ' in line]
    assert requests == []
