"""The Pulumi program's resource graph, as a reviewer checks it, under in-memory Pulumi mocks.

``set_mocks`` is process-global, so the program never runs in the pytest process:
this file, run as a script, imports the program once and forks one child per
scenario (``rollout.local.fork_server.run_forked``); each child runs
``rollout.components.program.main`` under recording mocks and returns what was registered
(type, name, inputs, resource options) and exported. The tests read that data,
computed once per session and shared by the xdist workers.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.pulumi_recording import ACCOUNT, REGION, SHARED_OUTPUTS, of_type, one, record, run_each

ROOT = Path(__file__).resolve().parents[2]

ROLLOUT_TAGS = {"rollout:app", "rollout:cohort", "rollout:colour", "rollout:version"}
CERTIFICATE = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/abc"


def cohort_config(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "role": "cohort", "app": "acme", "cohort": "canary",
        "sharedStack": "organization/tenant-rollout/shared", "liveColour": "blue",
        "versions": {"blue": "1.4.2", "green": "1.5.0"},
        "network": {"cidr": "10.20.0.0/16"},
        "tenants": [{"id": "aurora", "host": "aurora.acme.example"}],
    }
    config.update(changes)
    return config


SCENARIOS: dict[str, dict[str, Any]] = {
    "cohort": cohort_config(),
    "green-live": cohort_config(liveColour="green"),
    "existing-vpc": cohort_config(network={"vpcId": "vpc-0abc",
                                           "subnetIds": ["subnet-0a", "subnet-0b"]}),
    "public": cohort_config(listener={"public": True, "certificateArn": CERTIFICATE}),
    "shared": {"role": "shared", "app": "acme", "noncurrentVersionDays": 90},
    "shared-with-portal": {"role": "shared", "app": "acme", "portal": {
        "zip": {"key": "portal/acme/" + "ef" * 32 + ".zip", "objectVersion": "v3",
                "sha256": "ef" * 32}, "architecture": "arm64"}},
    "shared-portal-unpublished": {"role": "shared", "app": "acme", "portal": {"memory": 1024}},
    "bad-version": cohort_config(versions={"blue": "1.4.2", "green": "latest"}),
    "missing-green": cohort_config(versions={"blue": "1.4.2"}),
    "unknown-field": cohort_config(colour="blue"),
    "public-without-certificate": cohort_config(listener={"public": True}),
    "many-tenants": cohort_config(tenants=[{"id": f"tenant-{n:03d}"} for n in range(60)]),
    "longest-names": cohort_config(app="acme-payments", cohort="eu-west-wave"),
    "names-too-long": cohort_config(app="acme-payments", cohort="eu-west-waves"),
    # Compute kinds with an artefact for green, so the local engine's types cover theirs
    # (provisioned concurrency stays off: moto has no such API, the local engine refuses it).
    "lambda-compute": cohort_config(compute={"kind": "lambda"}, artefacts={"green": {
        "version": "1.5.0", "zip": {"key": "releases/1.5.0/app.zip", "objectVersion": "v1",
                                    "sha256": "ab" * 32}}}),
    "ecs-compute": cohort_config(compute={"kind": "ecs"}, artefacts={"green": {
        "version": "1.5.0", "image": "registry.example/acme/web@sha256:" + "cd" * 32}}),
}


# --- the script side: runs in a child process, never inside pytest -------------------------

def run_scenarios(names: list[str]) -> dict[str, Any]:
    """Each named scenario through the program's ``main``, under recording mocks."""
    import rollout.components.program

    return run_each({name: partial(record, rollout.components.program.main, SCENARIOS[name])
                     for name in names})


if __name__ == "__main__":
    import rollout.local.warm_imports  # noqa: F401 - once here, not once per forked child

    json.dump(run_scenarios(sys.argv[1:]), sys.stdout)
    sys.exit(0)


# --- the tests ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict[str, Any]:
    """The scenarios' results, computed once per test session even across xdist workers."""
    session_dir = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        session_dir = session_dir.parent
    cache = session_dir / "infra-program-runs.json"
    with (session_dir / "infra-program-runs.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cache.exists():
            done = subprocess.run([sys.executable, "-m", "tests.unit.test_infra_program",
                                   *SCENARIOS], cwd=ROOT, capture_output=True, text=True,
                                  check=False, timeout=120)
            assert done.returncode == 0, done.stderr
            cache.write_text(done.stdout)
    results: dict[str, Any] = json.loads(cache.read_text())
    for name, result in results.items():
        assert "crash" not in result, f"{name}: {result}"
    return results


def forward_weights(listener: dict[str, Any]) -> dict[str, int]:
    (action,) = listener["inputs"]["defaultActions"]
    assert action["type"] == "forward"
    return {g["arn"]: g["weight"] for g in action["forward"]["targetGroups"]}


def target_group_arn(run: dict[str, Any], colour: str) -> str:
    group = next(g for g in of_type(run, "aws:lb/targetGroup:TargetGroup")
                 if g["inputs"]["tags"]["rollout:colour"] == colour)
    return f"arn:aws:mock:{REGION}:{ACCOUNT}:{group['name']}-mock"


def test_two_target_groups_one_per_colour_tagged_with_its_version(runs: dict[str, Any]) -> None:
    groups = of_type(runs["cohort"], "aws:lb/targetGroup:TargetGroup")
    by_colour = {g["inputs"]["tags"]["rollout:colour"]: g["inputs"] for g in groups}
    assert sorted(by_colour) == ["blue", "green"]
    assert by_colour["blue"]["tags"]["rollout:version"] == "1.4.2"
    assert by_colour["green"]["tags"]["rollout:version"] == "1.5.0"
    assert by_colour["blue"]["name"] == "acme-canary-blue"
    assert by_colour["green"]["name"] == "acme-canary-green"


@pytest.mark.parametrize(("scenario", "live", "idle"),
                         [("cohort", "blue", "green"), ("green-live", "green", "blue")])
def test_listener_sends_everything_to_the_live_colour_at_first(
        runs: dict[str, Any], scenario: str, live: str, idle: str) -> None:
    run = runs[scenario]
    listener = one(run, "aws:lb/listener:Listener")
    assert forward_weights(listener) == {target_group_arn(run, live): 100,
                                         target_group_arn(run, idle): 0}
    assert run["exports"]["liveColour"] == live


def test_listener_ignores_changes_to_its_actions_so_pulumi_up_never_snaps_traffic_back(
        runs: dict[str, Any]) -> None:
    listener = one(runs["cohort"], "aws:lb/listener:Listener")
    assert "defaultActions" in listener["ignoreChanges"]
    others = [r for r in runs["cohort"]["resources"] if r is not listener]
    assert all(not r.get("ignoreChanges") for r in others)


def test_private_listener_is_http_on_an_internal_load_balancer(runs: dict[str, Any]) -> None:
    run = runs["cohort"]
    listener = one(run, "aws:lb/listener:Listener")["inputs"]
    assert (listener["protocol"], listener["port"]) == ("HTTP", 80)
    balancer = one(run, "aws:lb/loadBalancer:LoadBalancer")["inputs"]
    assert balancer["internal"] is True
    assert balancer["name"] == "acme-canary"
    assert balancer["dropInvalidHeaderFields"] is True


def test_public_listener_terminates_tls_and_redirects_http(runs: dict[str, Any]) -> None:
    run = runs["public"]
    listeners = {r["inputs"]["port"]: r for r in of_type(run, "aws:lb/listener:Listener")}
    assert sorted(listeners) == [80, 443]
    https = listeners[443]["inputs"]
    assert https["protocol"] == "HTTPS"
    assert https["certificateArn"] == CERTIFICATE
    assert https["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert "defaultActions" in listeners[443]["ignoreChanges"]
    (redirect,) = listeners[80]["inputs"]["defaultActions"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    assert one(run, "aws:lb/loadBalancer:LoadBalancer")["inputs"]["internal"] is False
    ingress = one(run, "aws:ec2/securityGroup:SecurityGroup")["inputs"]["ingress"]
    assert sorted(rule["fromPort"] for rule in ingress) == [80, 443]


def test_new_network_mode_creates_a_vpc_and_two_subnets(runs: dict[str, Any]) -> None:
    run = runs["cohort"]
    assert one(run, "aws:ec2/vpc:Vpc")["inputs"]["cidrBlock"] == "10.20.0.0/16"
    subnets = of_type(run, "aws:ec2/subnet:Subnet")
    assert sorted(s["inputs"]["availabilityZone"] for s in subnets) == ["eu-west-1a",
                                                                        "eu-west-1b"]
    assert len({s["inputs"]["cidrBlock"] for s in subnets}) == 2


def test_existing_vpc_mode_creates_no_network_and_uses_the_given_one(
        runs: dict[str, Any]) -> None:
    run = runs["existing-vpc"]
    assert of_type(run, "aws:ec2/vpc:Vpc") == []
    assert of_type(run, "aws:ec2/subnet:Subnet") == []
    assert one(run, "aws:lb/loadBalancer:LoadBalancer")["inputs"]["subnets"] == [
        "subnet-0a", "subnet-0b"]
    assert {g["inputs"]["vpcId"] for g in of_type(run, "aws:lb/targetGroup:TargetGroup")} == {
        "vpc-0abc"}


def test_tenant_config_namespace_has_a_rotating_key_and_a_policy_scoped_to_the_cohort(
        runs: dict[str, Any]) -> None:
    run = runs["cohort"]
    key = one(run, "aws:kms/key:Key")["inputs"]
    assert key["enableKeyRotation"] is True
    assert one(run, "aws:kms/alias:Alias")["inputs"]["name"] == "alias/acme-canary-config"
    document = json.loads(policy_named(run, "acme-canary-tenant-config")["inputs"]["policy"])
    statements = document["Statement"]
    actions = [action for s in statements for action in s["Action"]]
    assert actions and not any("*" in action for action in actions)
    namespace = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/acme/canary"
    assert parameter_grants(document) == {
        "ssm:GetParameters": [f"{namespace}/*"],
        "ssm:PutParameter": [f"{namespace}/blue/aurora/*", f"{namespace}/green/aurora/*"],
        "ssm:DeleteParameter": [f"{namespace}/blue/aurora/*", f"{namespace}/green/aurora/*"]}
    kms = next(s for s in statements if s["Action"][0].startswith("kms:"))
    assert kms["Resource"] == run["exports"]["kmsKeyArn"]
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == f"ssm.{REGION}.amazonaws.com"


def policy_named(run: dict[str, Any], name: str) -> dict[str, Any]:
    """The one managed policy the program names ``name``."""
    (found,) = [p for p in of_type(run, "aws:iam/policy:Policy") if p["inputs"]["name"] == name]
    return found


def test_the_cohort_stack_provisions_the_workflow_role_s_permissions_boundary(
        runs: dict[str, Any]) -> None:
    """``start --engine stepfunctions`` may create the workflow role only with this boundary
    on it: the compiler's vocabulary on the cohort's own listener, ledger items and topic."""
    from rollout.vocabulary.workflow_boundary import workflow_boundary_policy

    run = runs["cohort"]
    boundary = policy_named(run, "acme-canary-rollout-workflow-boundary")
    assert json.loads(boundary["inputs"]["policy"]) == workflow_boundary_policy(
        "canary", run["exports"]["listenerArn"], SHARED_OUTPUTS["ledgerTable"],
        SHARED_OUTPUTS["noticesTopicArn"], ACCOUNT)
    assert boundary["inputs"]["tags"]["rollout:cohort"] == "canary"
    assert [p["inputs"]["name"] for p in of_type(runs["shared"], "aws:iam/policy:Policy")] == []


def parameter_grants(document: dict[str, Any]) -> dict[str, list[str]]:
    """The parameter ARNs that reading, writing and deleting are granted on."""
    found: dict[str, list[str]] = {}
    for statement in document["Statement"]:
        resources = statement["Resource"]
        for action in ("ssm:GetParameters", "ssm:PutParameter", "ssm:DeleteParameter"):
            if action in statement["Action"]:
                found.setdefault(action, []).extend(
                    resources if isinstance(resources, list) else [resources])
    return found


def test_a_cohort_too_big_for_per_tenant_paths_writes_only_its_two_colours(
        runs: dict[str, Any]) -> None:
    """IAM caps a managed policy at 6,144 characters (whitespace aside): sixty tenants' paths
    would not fit, so `pulumi up` would fail; the writes fall back to the cohort's colours."""
    text = policy_named(runs["many-tenants"], "acme-canary-tenant-config")["inputs"]["policy"]
    assert len("".join(text.split())) <= 6144
    namespace = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/acme/canary"
    grants = parameter_grants(json.loads(text))
    assert grants["ssm:PutParameter"] == [f"{namespace}/blue/*", f"{namespace}/green/*"]
    assert grants["ssm:GetParameters"] == [f"{namespace}/*"]


def test_the_program_creates_no_ssm_parameters_so_pulumi_up_never_overwrites_tenant_values(
        runs: dict[str, Any]) -> None:
    types = {r["type"] for name in ("cohort", "shared") for r in runs[name]["resources"]}
    assert not any(t.startswith("aws:ssm/") for t in types)


def test_artefact_bucket_is_versioned_private_encrypted_and_keeps_old_versions(
        runs: dict[str, Any]) -> None:
    run = runs["shared"]
    bucket = one(run, "aws:s3/bucket:Bucket")
    bucket_id = f"{bucket['name']}-mock"
    versioning = one(run, "aws:s3/bucketVersioning:BucketVersioning")["inputs"]
    assert versioning["bucket"] == bucket_id
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    block = one(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")["inputs"]
    assert block["bucket"] == bucket_id
    assert all(block[flag] is True for flag in ("blockPublicAcls", "blockPublicPolicy",
                                                "ignorePublicAcls", "restrictPublicBuckets"))
    encryption = one(run, "aws:s3/bucketServerSideEncryptionConfiguration:"
                          "BucketServerSideEncryptionConfiguration")["inputs"]
    assert encryption["bucket"] == bucket_id
    (rule,) = encryption["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    lifecycle = one(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    (keep,) = lifecycle["inputs"]["rules"]
    assert keep["status"] == "Enabled"
    assert keep["noncurrentVersionExpiration"]["noncurrentDays"] == 90
    assert "expiration" not in keep


def test_the_ledger_table_survives_delete_table_and_pulumi_destroy(runs: dict[str, Any]) -> None:
    """Losing the ledger mid-rollout strands traffic: a rollback no longer knows the colours."""
    table = one(runs["shared"], "aws:dynamodb/table:Table")
    assert table["inputs"]["deletionProtectionEnabled"] is True
    assert table["protect"] is True


def test_ledger_table_and_notices_topic_are_encrypted(runs: dict[str, Any]) -> None:
    run = runs["shared"]
    table = one(run, "aws:dynamodb/table:Table")["inputs"]
    assert table["name"] == "acme-rollout-ledger"
    assert (table["hashKey"], table["rangeKey"]) == ("pk", "sk")
    assert table["serverSideEncryption"]["enabled"] is True
    assert table["pointInTimeRecovery"]["enabled"] is True
    assert one(run, "aws:sns/topic:Topic")["inputs"]["kmsMasterKeyId"]


@pytest.mark.parametrize("scenario", ["cohort", "public", "existing-vpc", "shared",
                                      "shared-with-portal"])
def test_every_taggable_resource_carries_the_four_rollout_tags(
        runs: dict[str, Any], scenario: str) -> None:
    run = runs[scenario]
    taggable = [r for r in run["resources"] if r.get("taggable")]
    assert len(taggable) >= 3
    untagged = [r["name"] for r in taggable if not set(r["inputs"].get("tags", {})) >= ROLLOUT_TAGS]
    assert untagged == []
    for resource in taggable:
        tags = resource["inputs"]["tags"]
        assert tags["rollout:app"] == "acme"
        assert tags["rollout:cohort"] == ("shared" if scenario.startswith("shared")
                                          else "canary")


def test_taggability_comes_from_the_pulumi_aws_classes(runs: dict[str, Any]) -> None:
    taggable = {r["type"]: r["taggable"] for r in runs["shared"]["resources"] if r["custom"]}
    assert taggable["aws:s3/bucket:Bucket"] is True
    assert taggable["aws:s3/bucketVersioning:BucketVersioning"] is False


def test_every_resource_is_a_child_of_the_stack_component(runs: dict[str, Any]) -> None:
    for scenario, component in (("cohort", "CohortStack"), ("shared", "SharedStack"),
                                ("shared-with-portal", "SharedStack")):
        custom = [r for r in runs[scenario]["resources"] if r["custom"]]
        assert all(component in r["parent"] or "ColourSlot" in r["parent"] for r in custom)


def test_cohort_stack_outputs(runs: dict[str, Any]) -> None:
    run = runs["cohort"]
    outputs = run["exports"]
    assert outputs["listenerArn"].endswith("canary-listener-mock")
    assert outputs["loadBalancerArn"].endswith("canary-alb-mock")
    assert outputs["targetGroupArns"] == {"blue": target_group_arn(run, "blue"),
                                          "green": target_group_arn(run, "green")}
    assert outputs["versions"] == {"blue": "1.4.2", "green": "1.5.0"}
    assert outputs["paramPrefix"] == "/acme/canary"
    assert outputs["kmsKeyArn"].endswith("canary-config-key-mock")
    assert (outputs["artefactBucket"], outputs["ledgerTable"], outputs["noticesTopicArn"]) == (
        SHARED_OUTPUTS["artefactBucket"], SHARED_OUTPUTS["ledgerTable"],
        SHARED_OUTPUTS["noticesTopicArn"])
    assert (outputs["app"], outputs["cohort"]) == ("acme", "canary")
    assert outputs["tenants"] == [{"id": "aurora", "host": "aurora.acme.example"}]


def test_shared_stack_outputs(runs: dict[str, Any]) -> None:
    run = runs["shared"]
    outputs = run["exports"]
    assert outputs["artefactBucket"] == one(run, "aws:s3/bucket:Bucket")["name"] + "-mock"
    assert outputs["ledgerTable"] == "acme-rollout-ledger"
    assert outputs["noticesTopicArn"].startswith("arn:")
    assert outputs["app"] == "acme"


@pytest.mark.parametrize(("scenario", "field", "says"), [
    ("bad-version", "tenant-rollout:stack.versions.green", "not a version like 1.5.0"),
    ("missing-green", "tenant-rollout:stack.versions", "needs a version for green"),
    ("unknown-field", "tenant-rollout:stack.colour", "Extra inputs are not permitted"),
    ("public-without-certificate", "tenant-rollout:stack.listener", "needs certificateArn"),
])
def test_bad_config_stops_pulumi_up_with_one_line_naming_the_field(
        runs: dict[str, Any], scenario: str, field: str, says: str) -> None:
    error = runs[scenario]["error"]
    assert error["type"] == "RunError"
    assert error["message"].startswith(f"{field}: ")
    assert says in error["message"]
    assert "\n" not in error["message"]
    assert runs[scenario]["resources"] == [], "a bad config declared resources"


def test_the_names_the_program_gives_are_the_names_the_stack_config_checks(
        runs: dict[str, Any]) -> None:
    """The longest app and cohort the model accepts: each name in AWS's limit, none rebuilt."""
    from rollout.model.stack import CohortStackConfig, parse_stack
    from rollout.vocabulary import resource_names
    from rollout.vocabulary.names import MAX_AWS_NAME

    stack = parse_stack(SCENARIOS["longest-names"]).stack
    assert isinstance(stack, CohortStackConfig)
    run = runs["longest-names"]
    groups = {g["inputs"]["tags"]["rollout:colour"]: g["inputs"]["name"]
              for g in of_type(run, "aws:lb/targetGroup:TargetGroup")}
    balancer = one(run, "aws:lb/loadBalancer:LoadBalancer")["inputs"]["name"]
    assert groups == {colour: stack.target_group_name(colour) for colour in ("blue", "green")}
    assert balancer == stack.load_balancer_name
    assert max(len(name) for name in [balancer, *groups.values()]) == MAX_AWS_NAME
    app, cohort = stack.app, stack.cohort
    assert one(run, "aws:kms/alias:Alias")["inputs"]["name"] == (
        resource_names.config_key_alias(app, cohort))
    assert policy_named(run, resource_names.config_policy(app, cohort))
    assert policy_named(run, resource_names.workflow_boundary(app, cohort))
    assert run["exports"]["paramPrefix"] == resource_names.parameter_namespace(app, cohort)
    error = runs["names-too-long"]["error"]
    assert error["message"].startswith("tenant-rollout:stack: app and cohort are too long")


def test_the_local_engine_handles_exactly_the_types_the_program_declares(
        runs: dict[str, Any]) -> None:
    from rollout.local.resources import load_all

    declared = {r["type"] for run in runs.values() for r in run.get("resources", [])
                if r["custom"]}
    assert declared == set(load_all())


@pytest.mark.parametrize("scenario", ["lambda-compute", "ecs-compute"])
def test_compute_resources_are_tagged_and_children_of_the_colour_slot_or_stack(
        runs: dict[str, Any], scenario: str) -> None:
    run = runs[scenario]
    assert run["error"] is None
    taggable = [r for r in run["resources"] if r.get("taggable")]
    assert [r["name"] for r in taggable
            if not set(r["inputs"].get("tags", {})) >= ROLLOUT_TAGS] == []
    custom = [r for r in run["resources"] if r["custom"]]
    assert all(any(owner in r["parent"] for owner in ("CohortStack", "ColourSlot",
                                                      "LambdaFunction", "EcsService"))
               for r in custom)
    compute = [r for r in custom if r["type"].startswith(("aws:lambda/", "aws:ecs/service"))]
    assert compute and all("green" in r["parent"] for r in compute)


@pytest.mark.parametrize("scenario", ["shared", "shared-portal-unpublished"])
def test_without_a_published_portal_the_shared_stack_runs_no_function(
        runs: dict[str, Any], scenario: str) -> None:
    run = runs[scenario]
    assert run["error"] is None, run["error"]
    assert not [r for r in run["resources"] if r["type"].startswith("aws:lambda")]
    assert "portalUrl" not in run["exports"]


def test_the_preferences_page_runs_its_zip_s_exact_object_version_behind_a_public_url(
        runs: dict[str, Any]) -> None:
    run = runs["shared-with-portal"]
    function = one(run, "aws:lambda/function:Function")["inputs"]
    bucket = one(run, "aws:s3/bucket:Bucket")["name"] + "-mock"
    assert (function["s3Bucket"], function["s3Key"], function["s3ObjectVersion"]) == (
        bucket, "portal/acme/" + "ef" * 32 + ".zip", "v3")
    assert (function["name"], function["handler"], function["runtime"]) == (
        "acme-preferences-page", "rollout.portal.lambda_handler.handler", "python3.11")
    assert function["architectures"] == ["arm64"]
    assert function["environment"]["variables"] == {
        "ROLLOUT_APP": "acme", "ROLLOUT_LEDGER_TABLE": "acme-rollout-ledger",
        "ROLLOUT_TENANTS_FILE": "portal/tenants.yaml", "ROLLOUT_NOTES_DIR": "portal/notes"}
    url = one(run, "aws:lambda/functionUrl:FunctionUrl")["inputs"]
    assert url["authorizationType"] == "NONE"
    grants = {p["inputs"]["action"]: p["inputs"]
              for p in of_type(run, "aws:lambda/permission:Permission")}
    assert set(grants) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert grants["lambda:InvokeFunctionUrl"]["functionUrlAuthType"] == "NONE"
    assert grants["lambda:InvokeFunction"]["invokedViaFunctionUrl"] is True
    assert {g["principal"] for g in grants.values()} == {"*"}
    outputs = run["exports"]
    assert outputs["portalUrl"].startswith("https://") and ".lambda-url." in outputs["portalUrl"]
    assert outputs["portalFunction"] == "acme-preferences-page"


def test_the_preferences_page_may_touch_its_key_notices_and_cohort_states_only(
        runs: dict[str, Any]) -> None:
    run = runs["shared-with-portal"]
    role = one(run, "aws:iam/role:Role")["inputs"]
    assumed = json.loads(role["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in assumed] == [{"Service": "lambda.amazonaws.com"}]
    document = json.loads(one(run, "aws:iam/rolePolicy:RolePolicy")["inputs"]["policy"])
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert all("*" not in s["Resource"] for s in by_sid.values())
    assert by_sid["TheLinkKey"]["Resource"] == [
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/rollout/acme/portal/link-key"]
    table_arn = f"arn:aws:mock:{REGION}:{ACCOUNT}:shared-ledger-mock"
    leading = {sid: (s["Resource"], s["Action"],
                     s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
               for sid, s in by_sid.items() if "Condition" in s}
    assert leading == {
        "NoticesLinksAndChoices": ([table_arn], ["dynamodb:GetItem", "dynamodb:PutItem",
                                                 "dynamodb:Query"], ["NOTICE#*"]),
        "ReadCohortStates": ([table_arn], ["dynamodb:GetItem", "dynamodb:Query"],
                             ["COHORT#*"])}
    assert set(by_sid) == {"OwnLogs", "TheLinkKey", *leading}
