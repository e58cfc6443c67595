"""The local deployer runs a colour's release as real compute in moto: Lambda and ECS.

Read back with plain boto3 over HTTP, as an operator would look at the account: what
``get_function`` says green runs, what the task definition's image is, which targets
the colour's target group holds.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from rollout.aws_clients import AwsClients
from rollout.local.deployer import LocalDeployer
from rollout.local.messages import LocalDeployError
from rollout.local.state import LocalStateStore
from rollout.model.stack import ColourArtefact, ZipArtefact
from tests.conftest import shared_yaml, stack_yaml

pytestmark = pytest.mark.integration

KEY = "releases/1.5.0/app.zip"
IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:{'ef' * 32}"


def cohort_file(app: str, cohort: str, octet: int, compute: dict[str, Any]) -> str:
    document = yaml.safe_load(stack_yaml(app, cohort, ["aurora"], cidr_octet=octet))
    document["config"]["tenant-rollout:stack"]["compute"] = compute
    return yaml.safe_dump(document, sort_keys=False)


def app_zip(body: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", f"def handler(event, context):\n    return {body!r}\n")
    return buffer.getvalue()


def lambda_sha(code: bytes) -> str:
    """``CodeSha256`` as Lambda reports it: the base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(code).digest()).decode()


@dataclass
class Project:
    app: str
    deployer: LocalDeployer
    bucket: str

    def upload(self, code: bytes) -> str:
        return str(boto3.client("s3").put_object(Bucket=self.bucket, Key=KEY,
                                                 Body=code)["VersionId"])

    def zip_artefact(self, version: str, code: bytes, object_version: str) -> ColourArtefact:
        return ColourArtefact(version=version, zip=ZipArtefact(
            key=KEY, object_version=object_version, sha256=hashlib.sha256(code).hexdigest()))

    def outputs(self, stack: str) -> dict[str, Any]:
        state = LocalStateStore(AwsClients(), self.app).load(stack)
        assert state is not None
        return state.outputs


@pytest.fixture(scope="module")
def project(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """An app with a ``lambda`` cohort ``fn`` and an ``ecs`` cohort ``svc``, shared stack up."""
    app = f"c{uuid.uuid4().hex[:8]}"
    directory: Path = tmp_path_factory.mktemp("compute")
    (directory / "Pulumi.shared.yaml").write_text(shared_yaml(app))
    (directory / "Pulumi.fn.yaml").write_text(cohort_file(app, "fn", 30, {"kind": "lambda"}))
    (directory / "Pulumi.svc.yaml").write_text(
        cohort_file(app, "svc", 31, {"kind": "ecs", "desiredCount": 3}))
    deployer = LocalDeployer(directory, AwsClients())
    (shared,) = deployer.up("shared")
    return Project(app, deployer, shared.outputs["artefactBucket"])


@pytest.fixture(scope="module")
def green_function(project: Project) -> dict[str, Any]:
    """Green of ``fn`` deployed from the first of two uploads under the same key."""
    first = app_zip("1.5.0")
    first_version = project.upload(first)
    project.upload(app_zip("uploaded later under the same key"))
    outputs = project.deployer.deploy_version(
        "fn", "green", "1.5.0", artefact=project.zip_artefact("1.5.0", first, first_version))
    return {"code": first, "objectVersion": first_version, "outputs": outputs}


def test_green_runs_the_exact_object_version_it_was_deployed_from(
        project: Project, green_function: dict[str, Any]) -> None:
    function = boto3.client("lambda").get_function(FunctionName=f"{project.app}-fn-green")
    configuration = function["Configuration"]
    assert configuration["CodeSha256"] == lambda_sha(green_function["code"])
    assert configuration["Environment"]["Variables"] == {
        "ROLLOUT_CONFIG_PATH": f"/{project.app}/fn/green", "ROLLOUT_COLOUR": "green",
        "ROLLOUT_VERSION": "1.5.0",
        "ROLLOUT_TENANT_HOSTS": json.dumps({f"aurora.{project.app}.example": "aurora"})}
    assert configuration["Role"].endswith(f"role/{project.app}-fn-green-function")
    compute = green_function["outputs"]["compute"]
    assert compute["green"]["codeObjectVersion"] == green_function["objectVersion"]
    assert compute["green"]["sha256"] == hashlib.sha256(green_function["code"]).hexdigest()
    assert compute["blue"] == {}


def test_a_new_upload_under_the_same_key_does_not_change_what_green_runs(
        project: Project, green_function: dict[str, Any]) -> None:
    project.upload(app_zip("yet another upload"))
    project.deployer.up("fn")
    configuration = boto3.client("lambda").get_function(
        FunctionName=f"{project.app}-fn-green")["Configuration"]
    assert configuration["CodeSha256"] == lambda_sha(green_function["code"])


def test_the_published_version_is_registered_and_only_the_load_balancer_may_invoke_it(
        project: Project, green_function: dict[str, Any]) -> None:
    outputs = green_function["outputs"]
    green_group = outputs["targetGroupArns"]["green"]
    elbv2 = boto3.client("elbv2")
    (group,) = elbv2.describe_target_groups(TargetGroupArns=[green_group])["TargetGroups"]
    assert group["TargetType"] == "lambda"
    version = outputs["compute"]["green"]["functionVersion"]
    name = f"{project.app}-fn-green"
    targets = [t["Target"]["Id"] for t in
               elbv2.describe_target_health(TargetGroupArn=green_group)["TargetHealthDescriptions"]]
    assert len(targets) == 1 and targets[0].endswith(f":function:{name}:{version}")
    policy = json.loads(boto3.client("lambda").get_policy(
        FunctionName=name, Qualifier=version)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "elasticloadbalancing.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == green_group


def test_a_new_release_publishes_a_new_version_and_moves_the_registration(
        project: Project, green_function: dict[str, Any]) -> None:
    code = app_zip("1.6.0")
    outputs = project.deployer.deploy_version(
        "fn", "green", "1.6.0", artefact=project.zip_artefact("1.6.0", code, project.upload(code)))
    name = f"{project.app}-fn-green"
    function = boto3.client("lambda").get_function(FunctionName=name)["Configuration"]
    assert function["CodeSha256"] == lambda_sha(code)
    assert function["Environment"]["Variables"]["ROLLOUT_VERSION"] == "1.6.0"
    version = outputs["compute"]["green"]["functionVersion"]
    assert version != green_function["outputs"]["compute"]["green"]["functionVersion"]
    targets = [t["Target"]["Id"] for t in boto3.client("elbv2").describe_target_health(
        TargetGroupArn=outputs["targetGroupArns"]["green"])["TargetHealthDescriptions"]]
    assert [t.rsplit(":", 1)[1] for t in targets] == [version]


@pytest.fixture(scope="module")
def green_service(project: Project) -> dict[str, Any]:
    return project.deployer.deploy_version(
        "svc", "green", "1.5.0", artefact=ColourArtefact(version="1.5.0", image=IMAGE))


def test_the_ecs_task_definition_runs_the_manifest_digest(
        project: Project, green_service: dict[str, Any]) -> None:
    ecs = boto3.client("ecs")
    task = ecs.describe_task_definition(taskDefinition=f"{project.app}-svc-green")
    (container,) = task["taskDefinition"]["containerDefinitions"]
    assert container["image"] == IMAGE
    assert task["taskDefinition"]["requiresCompatibilities"] == ["FARGATE"]
    assert green_service["compute"]["green"]["image"] == IMAGE


def test_the_green_service_runs_its_desired_count_in_greens_target_group(
        project: Project, green_service: dict[str, Any]) -> None:
    ecs = boto3.client("ecs")
    (service,) = ecs.describe_services(cluster=f"{project.app}-svc",
                                       services=[f"{project.app}-svc-green"])["services"]
    assert service["desiredCount"] == 3
    assert service["loadBalancers"] == [{
        "targetGroupArn": green_service["targetGroupArns"]["green"],
        "containerName": "app", "containerPort": 8080}]
    # moto keeps no deploymentConfiguration: the circuit breaker is checked under Pulumi mocks.
    assert ecs.list_services(cluster=f"{project.app}-svc")["serviceArns"] == [
        service["serviceArn"]]


def test_a_new_image_is_a_new_task_definition_revision_the_service_then_runs(
        project: Project, green_service: dict[str, Any]) -> None:
    newer = IMAGE.replace("ef" * 32, "0a" * 32)
    project.deployer.deploy_version(
        "svc", "green", "1.6.0", artefact=ColourArtefact(version="1.6.0", image=newer))
    ecs = boto3.client("ecs")
    (service,) = ecs.describe_services(cluster=f"{project.app}-svc",
                                       services=[f"{project.app}-svc-green"])["services"]
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    assert task["taskDefinition"]["revision"] == 2
    assert task["taskDefinition"]["containerDefinitions"][0]["image"] == newer


def test_provisioned_concurrency_is_refused_locally_by_name(
        project: Project, green_function: dict[str, Any]) -> None:
    """moto has no provisioned concurrency API: the local deployer says so, naming the type."""
    directory = project.deployer.project_dir
    (directory / "Pulumi.warm.yaml").write_text(cohort_file(
        project.app, "warm", 32, {"kind": "lambda", "provisionedConcurrency": 2}))
    code = green_function["code"]
    with pytest.raises(LocalDeployError, match=r"does not support resource type "
                       r"aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"):
        project.deployer.deploy_version("warm", "green", "1.5.0", artefact=project.zip_artefact(
            "1.5.0", code, green_function["objectVersion"]))
