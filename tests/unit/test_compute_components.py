"""The compute kinds (lambda, ecs, external) and a user's own compute, under Pulumi mocks.

As in ``test_infra_program``: ``set_mocks`` is process-global, so this file, run as a
script, forks one child per scenario that runs a program under recording mocks and
returns what was registered; the tests read that data, computed once per module.
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.pulumi_recording import ACCOUNT, REGION, SHARED_OUTPUTS, of_type, one, record, run_each

ROOT = Path(__file__).resolve().parents[2]
BUCKET = SHARED_OUTPUTS["artefactBucket"]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pulumi_program" / "__main__.py"
SHA = "ab" * 32
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/acme/web@sha256:{'cd' * 32}"
HOSTS = '{"aurora.acme.example": "aurora"}'
"""How the code names a request's tenant: the cohort's tenants by host, as JSON."""
ZIP = {"key": "releases/1.5.0/app.zip", "objectVersion": "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrH",
       "sha256": SHA}


def cohort(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "role": "cohort", "app": "acme", "cohort": "canary",
        "sharedStack": "organization/tenant-rollout/shared", "liveColour": "blue",
        "versions": {"blue": "1.4.2", "green": "1.5.0"},
        "network": {"cidr": "10.20.0.0/16"},
        "tenants": [{"id": "aurora", "host": "aurora.acme.example"}],
    }
    config.update(changes)
    return config


LAMBDA = {"kind": "lambda", "memory": 512, "timeout": 20, "architecture": "x86_64",
          "handler": "web.handler", "environment": {"LOG_LEVEL": "info"},
          "provisionedConcurrency": 2}
SCENARIOS: dict[str, tuple[str, dict[str, Any]]] = {
    "external": ("program", cohort()),
    "lambda": ("program", cohort(compute=LAMBDA, artefacts={
        "green": {"version": "1.5.0", "zip": ZIP}})),
    "lambda-without-zip": ("program", cohort(compute=LAMBDA, artefacts={
        "green": {"version": "1.5.0", "image": IMAGE}})),
    "ecs": ("program", cohort(compute={"kind": "ecs", "desiredCount": 3, "cpu": 512,
                                       "memory": 1024, "containerPort": 9000},
                              artefacts={"green": {"version": "1.5.0", "image": IMAGE}})),
    "example": ("example", cohort(artefacts={"green": {"version": "1.5.0", "image": IMAGE}})),
}


# --- the script side: runs in a child process, never inside pytest -------------------------

def run_scenario(entry: str, raw_config: dict[str, Any]) -> dict[str, Any]:
    """The program's ``main`` (or the example program) under recording mocks."""
    import rollout.components.program

    def example() -> None:
        runpy.run_path(str(EXAMPLE), run_name="__main__")

    return record(example if entry == "example" else rollout.components.program.main,
                  raw_config)


if __name__ == "__main__":
    import rollout.local.warm_imports  # noqa: F401 - once here, not once per forked child

    json.dump(run_each({name: partial(run_scenario, *SCENARIOS[name])
                        for name in sys.argv[1:]}), sys.stdout)
    sys.exit(0)


# --- the tests ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "tests.unit.test_compute_components",
                           *SCENARIOS], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    results: dict[str, Any] = json.loads(done.stdout)
    for name, result in results.items():
        assert "crash" not in result, f"{name}: {result}"
    return results


def groups_by_colour(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["inputs"]["tags"]["rollout:colour"]: g
            for g in of_type(run, "aws:lb/targetGroup:TargetGroup")}


def mock_arn(resource: dict[str, Any]) -> str:
    return f"arn:aws:mock:{REGION}:{ACCOUNT}:{resource['name']}-mock"


def policy_of(run: dict[str, Any], role_name: str) -> list[dict[str, Any]]:
    (policy,) = [p for p in of_type(run, "aws:iam/rolePolicy:RolePolicy")
                 if p["inputs"]["role"] == f"{role_name}-mock"]
    statements: list[dict[str, Any]] = json.loads(policy["inputs"]["policy"])["Statement"]
    return statements


def test_the_green_function_runs_the_exact_object_version_of_its_zip(
        runs: dict[str, Any]) -> None:
    run = runs["lambda"]
    function = one(run, "aws:lambda/function:Function")["inputs"]
    assert (function["s3Bucket"], function["s3Key"], function["s3ObjectVersion"]) == (
        BUCKET, ZIP["key"], ZIP["objectVersion"])
    assert function["publish"] is True
    assert function["name"] == "acme-canary-green"
    assert (function["memorySize"], function["timeout"], function["architectures"],
            function["handler"], function["runtime"]) == (512, 20, ["x86_64"], "web.handler",
                                                           "python3.11")
    assert function["environment"]["variables"] == {
        "LOG_LEVEL": "info", "ROLLOUT_CONFIG_PATH": "/acme/canary/green",
        "ROLLOUT_COLOUR": "green", "ROLLOUT_VERSION": "1.5.0", "ROLLOUT_TENANT_HOSTS": HOSTS}
    assert function["tags"]["rollout:version"] == "1.5.0"
    assert function["tags"]["rollout:provisioned-concurrency"] == "2"


def test_lambda_target_groups_have_no_port_protocol_or_vpc(runs: dict[str, Any]) -> None:
    for group in groups_by_colour(runs["lambda"]).values():
        inputs = group["inputs"]
        assert inputs["targetType"] == "lambda"
        assert not {"port", "protocol", "vpcId", "healthCheck"} & set(inputs)


def test_only_the_load_balancer_may_invoke_the_published_version_and_it_is_registered(
        runs: dict[str, Any]) -> None:
    run = runs["lambda"]
    green_group = mock_arn(groups_by_colour(run)["green"])
    permission = one(run, "aws:lambda/permission:Permission")["inputs"]
    assert permission["principal"] == "elasticloadbalancing.amazonaws.com"
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["sourceArn"] == green_group
    assert permission["qualifier"] == "7"
    attachment = one(run, "aws:lb/targetGroupAttachment:TargetGroupAttachment")["inputs"]
    function = one(run, "aws:lambda/function:Function")
    assert attachment == {"targetGroupArn": green_group, "targetId": f"{mock_arn(function)}:7"}
    concurrency = one(run, "aws:lambda/provisionedConcurrencyConfig:"
                           "ProvisionedConcurrencyConfig")["inputs"]
    assert (concurrency["qualifier"], concurrency["provisionedConcurrentExecutions"]) == ("7", 2)


def test_a_colour_without_an_artefact_gets_its_target_group_only(runs: dict[str, Any]) -> None:
    """Blue has no ``artefacts.blue``: one function and one service, both green's."""
    for scenario, token in (("lambda", "aws:lambda/function:Function"),
                            ("ecs", "aws:ecs/service:Service")):
        run = runs[scenario]
        assert sorted(groups_by_colour(run)) == ["blue", "green"]
        assert one(run, token)["inputs"]["tags"]["rollout:colour"] == "green"
        assert run["exports"]["compute"]["blue"] == {}


def test_the_function_role_reads_only_its_own_colours_settings(runs: dict[str, Any]) -> None:
    run = runs["lambda"]
    role = one(run, "aws:iam/role:Role")
    trust = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    statements = {s["Sid"]: s for s in policy_of(run, role["name"])}
    path = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/acme/canary/green"
    assert statements["ColourSettingsRead"]["Action"] == ["ssm:GetParameter",
                                                          "ssm:GetParametersByPath"]
    assert statements["ColourSettingsRead"]["Resource"] == [path, f"{path}/*"]
    assert statements["ColourSettingsKey"]["Action"] == ["kms:Decrypt"]
    assert statements["ColourSettingsKey"]["Resource"] == run["exports"]["kmsKeyArn"]
    log_group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/acme-canary-green"
    assert statements["OwnLogs"]["Resource"] == [log_group, f"{log_group}:*"]
    actions = [a for s in statements.values() for a in s["Action"]]
    assert not any("*" in action for action in actions)


def test_the_lambda_outputs_say_what_green_runs(runs: dict[str, Any]) -> None:
    assert runs["lambda"]["exports"]["compute"]["green"] == {
        "function": "acme-canary-green", "functionVersion": "7",
        "codeKey": ZIP["key"], "codeObjectVersion": ZIP["objectVersion"], "sha256": SHA,
        "provisionedConcurrency": 2}
    assert runs["lambda"]["exports"]["computeKind"] == "lambda"


def test_a_lambda_colour_whose_artefact_has_no_zip_fails_naming_it(runs: dict[str, Any]) -> None:
    run = runs["lambda-without-zip"]
    assert run["error"] is not None
    assert "artefacts.green of 1.5.0 has no zip" in run["error"]["message"]
    assert of_type(run, "aws:lambda/function:Function") == []


def test_the_ecs_task_runs_the_manifest_digest_and_the_service_rolls_back_by_itself(
        runs: dict[str, Any]) -> None:
    run = runs["ecs"]
    task = one(run, "aws:ecs/taskDefinition:TaskDefinition")["inputs"]
    (container,) = json.loads(task["containerDefinitions"])
    assert container["image"] == IMAGE
    assert container["portMappings"] == [{"containerPort": 9000, "protocol": "tcp"}]
    assert {e["name"]: e["value"] for e in container["environment"]} == {
        "ROLLOUT_CONFIG_PATH": "/acme/canary/green", "ROLLOUT_COLOUR": "green",
        "ROLLOUT_VERSION": "1.5.0", "ROLLOUT_TENANT_HOSTS": HOSTS}
    assert (task["requiresCompatibilities"], task["networkMode"], task["cpu"],
            task["memory"]) == (["FARGATE"], "awsvpc", "512", "1024")
    service = one(run, "aws:ecs/service:Service")["inputs"]
    assert service["desiredCount"] == 3
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["launchType"] == "FARGATE"
    assert service["cluster"] == mock_arn(one(run, "aws:ecs/cluster:Cluster"))
    assert service["loadBalancers"] == [{
        "targetGroupArn": mock_arn(groups_by_colour(run)["green"]),
        "containerName": "app", "containerPort": 9000}]
    subnets = [f"{s['name']}-mock" for s in of_type(run, "aws:ec2/subnet:Subnet")]
    assert sorted(service["networkConfiguration"]["subnets"]) == sorted(subnets)
    assert service["networkConfiguration"]["assignPublicIp"] is False
    assert {g["inputs"]["targetType"] for g in groups_by_colour(run).values()} == {"ip"}
    assert run["exports"]["compute"]["green"]["image"] == IMAGE


def test_ecs_roles_pull_only_the_images_repository_and_read_only_their_colour(
        runs: dict[str, Any]) -> None:
    run = runs["ecs"]
    roles = of_type(run, "aws:iam/role:Role")
    assert sorted(r["inputs"]["name"] for r in roles) == ["acme-canary-green-execution",
                                                          "acme-canary-green-task"]
    task = one(run, "aws:ecs/taskDefinition:TaskDefinition")["inputs"]
    by_arn = {mock_arn(role): role for role in roles}
    task_statements = policy_of(run, by_arn[task["taskRoleArn"]]["name"])
    assert [s["Sid"] for s in task_statements] == ["ColourSettingsRead", "ColourSettingsKey"]
    pull = {s["Sid"]: s for s in policy_of(run, by_arn[task["executionRoleArn"]]["name"])}
    assert pull["ImagePull"]["Resource"] == (
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/acme/web")


def test_external_compute_declares_the_ip_target_groups_and_nothing_to_run(
        runs: dict[str, Any]) -> None:
    run = runs["external"]
    for group in groups_by_colour(run).values():
        inputs = group["inputs"]
        assert (inputs["targetType"], inputs["port"], inputs["protocol"]) == ("ip", 8080, "HTTP")
        assert inputs["healthCheck"]["path"] == "/health"
    kinds = {r["type"].split(":")[1].split("/")[0] for r in run["resources"]}
    assert not {"lambda", "ecs"} & kinds
    assert of_type(run, "aws:iam/role:Role") == []
    assert run["exports"]["compute"] == {"blue": {}, "green": {}}


def test_a_users_program_runs_its_own_service_in_place_of_the_configured_kind(
        runs: dict[str, Any]) -> None:
    run = runs["example"]
    assert run["error"] is None
    service = one(run, "aws:ecs/service:Service")
    assert service["name"] == "canary-green-web"
    assert service["inputs"]["desiredCount"] == 3
    assert service["inputs"]["loadBalancers"] == [{
        "targetGroupArn": mock_arn(groups_by_colour(run)["green"]),
        "containerName": "web", "containerPort": 8000}]
    (container,) = json.loads(one(run, "aws:ecs/taskDefinition:TaskDefinition")
                              ["inputs"]["containerDefinitions"])
    assert container["image"] == IMAGE
    assert run["exports"]["compute"]["green"] == {"service": "canary-green-web-mock",
                                                  "image": IMAGE}


# --- the Automation API deployer puts the artefact next to the version ---------------------

class FakeStack:
    """What ``pulumi config`` keeps for one stack, with ``--path`` writes into the object."""

    name = "canary"

    def __init__(self, structured: dict[str, Any]) -> None:
        self.structured = structured
        self.seen_at_up: dict[str, Any] = {}

    def _walk(self, key: str) -> tuple[dict[str, Any], str]:
        parts = key.removeprefix("tenant-rollout:stack.").split(".")
        node = self.structured
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        return node, parts[-1]

    def get_all_config(self) -> dict[str, Any]:
        from pulumi import automation as auto
        return {"tenant-rollout:stack": auto.ConfigValue(value=json.dumps(self.structured))}

    def get_config(self, key: str, *, path: bool = False) -> Any:
        from pulumi import automation as auto
        node, leaf = self._walk(key)
        return auto.ConfigValue(value=node[leaf])

    def set_config(self, key: str, value: Any, *, path: bool = False) -> None:
        node, leaf = self._walk(key)
        node[leaf] = value.value

    def set_all_config(self, config: dict[str, Any], *, path: bool = False) -> None:
        for key, value in config.items():
            self.set_config(key, value, path=path)

    def remove_config(self, key: str, *, path: bool = False) -> None:
        node, leaf = self._walk(key)
        del node[leaf]

    def up(self, **_: Any) -> Any:
        self.seen_at_up = json.loads(json.dumps(self.structured))
        return type("Result", (), {"outputs": {}})()

    def preview(self, **_: Any) -> Any:
        self.seen_at_up = json.loads(json.dumps(self.structured))
        return type("Result", (), {"change_summary": {"update": 3}})()


@pytest.fixture
def automation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Any, FakeStack]:
    from pulumi import automation as auto

    from rollout.stacks import automation as module
    stack = FakeStack({"versions": {"blue": "1.4.2", "green": "1.4.2"}, "artefacts": {
        "green": {"version": "1.4.2", "image": IMAGE}}})
    (tmp_path / "Pulumi.canary.yaml").write_text("config: {}\n")
    monkeypatch.setattr(module, "require_pulumi_cli", lambda: "pulumi")
    monkeypatch.setattr(auto, "create_or_select_stack", lambda **_: stack)
    return module.AutomationDeployer(tmp_path, policy_pack=tmp_path / "none"), stack


def test_pulumi_up_sees_the_new_artefact_in_place_of_the_old_one(
        automation: tuple[Any, FakeStack]) -> None:
    from rollout.model.stack import ColourArtefact, ZipArtefact
    deployer, stack = automation
    deployer.deploy_version("canary", "green", "1.5.0", artefact=ColourArtefact(
        version="1.5.0", zip=ZipArtefact(key=ZIP["key"], object_version=ZIP["objectVersion"],
                                         sha256=SHA)))
    assert stack.seen_at_up["versions"]["green"] == "1.5.0"
    assert stack.seen_at_up["artefacts"] == {"green": {"version": "1.5.0", "zip": ZIP}}


def test_a_version_without_an_artefact_leaves_the_colour_none(
        automation: tuple[Any, FakeStack]) -> None:
    deployer, stack = automation
    deployer.deploy_version("canary", "green", "1.5.0")
    assert stack.seen_at_up["artefacts"] == {}


def test_preview_shows_the_new_artefact_and_then_puts_the_old_one_back(
        automation: tuple[Any, FakeStack]) -> None:
    from rollout.model.stack import ColourArtefact
    deployer, stack = automation
    other = IMAGE.replace("cd" * 32, "12" * 32)
    deployer.preview("canary", "green", "1.5.0",
                     artefact=ColourArtefact(version="1.5.0", image=other))
    assert stack.seen_at_up["artefacts"]["green"] == {"version": "1.5.0", "image": other}
    assert stack.structured["artefacts"]["green"] == {"version": "1.4.2", "image": IMAGE}
    assert stack.structured["versions"]["green"] == "1.4.2"
