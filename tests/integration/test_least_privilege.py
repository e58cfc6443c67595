"""Least privilege, proven: a whole rollout as a user holding only `rollout iam-policy`'s policy.

A moto server of its own enforces IAM (see :mod:`tests.iam_moto` for what moto can
and cannot check). A fleet is deployed into it before enforcement starts; then
every rollout command runs in a process of its own (forked from a warm one that has
only imported the toolkit, :mod:`tests.forked_cli`) signed with the access key of a user
that holds the printed policy and, because this is the local engine, the small
local-record policy (:func:`rollout.local.record.local_record_policy`).
The tenant-config policy the stack creates is *not* attached: the rollout role
does not need it. Releases are published and notices sent by the release role
(:func:`rollout.stacks.role_policy.release_role_policy`), not by a cohort's role.

The local engine's state of the ``external`` cohorts is deleted after the deploy, so
discovery takes the path it takes on AWS (the tagging API), not the local-only
shortcut. The ``lambda`` and ``ecs`` cohorts keep theirs, which stands in for the
Pulumi stack outputs (``ROLLOUT_STACK_OUTPUTS=pulumi``): tags say nothing of what a
colour runs. Their server registers ECS tasks as targets (:mod:`tests.iam_moto_tasks`),
so sizing a colour really fills or empties its target group.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from rollout.artefacts.manifest import MANIFEST_NAME
from rollout.artefacts.store import ArtefactStore
from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.local.record import local_record_policy
from rollout.local.state import STATE_BUCKET
from rollout.model.stack import ColourArtefact, ZipArtefact
from rollout.rollouts.ledger import Ledger
from rollout.rollouts.state import RolloutState
from rollout.stacks.role_policy import release_role_policy
from rollout.vocabulary import resource_names
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.ledger_keys import (
    HALT_ALL_SK,
    HALT_FLEET_PK,
    HALT_RELEASE_PK,
    cohort_pk,
    halt_release_sk,
    notice_pk,
    notice_sk,
)
from tests.alarms import put_5xx_alarm
from tests.cli_runner import rollout
from tests.conftest import Fleet, deploy_fleet, listener_weights, stack_yaml
from tests.forked_cli import run_forked
from tests.iam_moto import AccessKey, EnforcingMoto, as_moto_enforces, enforcing_moto
from tests.releases import EXAMPLE_NOTES, notes_for
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

RELEASE = "1.5.0"
SECRET = "s3cr3t-api-key-9f81"
VAULTED = "s3cr3t-licence-5d27"
COHORTS = {"canary": ["aurora", "birch"], "wave1": ["cedar"]}
COMPUTE_COHORTS: dict[str, tuple[dict[str, object], list[str]]] = {
    "fn": ({"kind": "lambda"}, ["dahlia"]),
    "svc": ({"kind": "ecs", "desiredCount": 2}, ["elm"]),
}
"""Cohorts whose colours run our compute: name → (``compute:``, tenants)."""
Serving = tuple[int | None, list[str]]
"""A colour's size (None: not ours to set) and its targets' health states."""
OLD = "1.4.2"
IMAGES = {version: f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:{digit * 64}"
          for version, digit in ((OLD, "a"), (RELEASE, "b"))}


@dataclass
class Scene:
    """The enforcing server, its administrator, and the fleet deployed into it."""

    moto: EnforcingMoto
    admin: AccessKey
    app: str
    project_dir: Path
    cohorts: dict[str, CohortResources]
    tenants: Path
    alarm: str
    printed: dict[str, str] = field(default_factory=dict)
    cohort_roles: dict[str, AccessKey] = field(default_factory=dict)

    def printed_policy(self, cohort: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
        """What `rollout iam-policy --cohort C --json` prints (run by the administrator, once)."""
        if cohort not in self.printed:
            capsys.readouterr()
            with self.moto.acting_as(self.admin):
                code = rollout("iam-policy", "--cohort", cohort, "--json", fleet=self)
            out = capsys.readouterr().out
            assert code == 0, out
            self.printed[cohort] = out
        document: dict[str, Any] = json.loads(self.printed[cohort])
        return document

    def cohort_role(self, cohort: str, capsys: pytest.CaptureFixture[str]) -> AccessKey:
        """A user holding the printed policy of ``cohort``, made once for the tests sharing it."""
        if cohort not in self.cohort_roles:
            self.cohort_roles[cohort] = self.role(f"rollout-role-{cohort}-shared", cohort,
                                                  self.printed_policy(cohort, capsys))
        return self.cohort_roles[cohort]

    def role(self, name: str, cohort: str, policy: dict[str, Any]) -> AccessKey:
        """A user holding ``policy`` and the local-engine policy, nothing else."""
        local = local_record_policy(self.cohorts[cohort]).as_aws()
        return self.moto.user(name, as_moto_enforces(policy), as_moto_enforces(local))

    def release_policy(self) -> dict[str, Any]:
        """The release role's policy: publish, prune, plan and notify for the whole app."""
        account = str(self.moto.client("sts").get_caller_identity()["Account"])
        return release_role_policy(self.cohorts["canary"], account).as_aws()

    def rollout(self, key: AccessKey, *args: str) -> subprocess.CompletedProcess[str]:
        """`rollout ARGS` in a process of its own signed with ``key``."""
        env = self.moto.process_env(key, ROLLOUT_APP=self.app,
                                    ROLLOUT_PROJECT_DIR=str(self.project_dir))
        return run_forked(list(args), env, timeout=120)

    def start(self, key: AccessKey, cohort: str, *extra: str,
              strategy: str = "linear:50:1s") -> subprocess.CompletedProcess[str]:
        return self.rollout(key, "start", "--cohort", cohort, "--release", RELEASE,
                            "--strategy", strategy, "--tenants", str(self.tenants),
                            "--wait", "--check-every", "0.2s", "--json", *extra)

    def weights(self, cohort: str) -> dict[str, int]:
        """What the listener really routes by, read by the administrator."""
        with self.moto.acting_as(self.admin):
            return listener_weights(self.cohorts[cohort])

    def ledger(self) -> Ledger:
        with self.moto.acting_as(self.admin):
            return Ledger(AwsClients(), self.cohorts["canary"].ledger_table)

    def state(self, cohort: str) -> RolloutState | None:
        return self.ledger().get(cohort_pk(cohort), "STATE", RolloutState)

    def rule_arns(self, cohort: str) -> list[str]:
        rules = self.moto.client("elbv2").describe_rules(
            ListenerArn=self.cohorts[cohort].listener_arn)["Rules"]
        return sorted(rule["RuleArn"] for rule in rules)

    def parameters(self, prefix: str) -> dict[str, dict[str, Any]]:
        """Parameters under ``prefix`` by name (metadata and ARN; values stay in SSM)."""
        pages = self.moto.client("ssm").get_paginator("get_parameters_by_path").paginate(
            Path=prefix, Recursive=True)
        return {p["Name"]: {"Type": p["Type"], "ARN": p["ARN"]}
                for page in pages for p in page["Parameters"]}

    def snapshot(self, cohort: str) -> dict[str, Any]:
        """Everything a rollout of ``cohort`` could change, as the administrator sees it."""
        state = self.state(cohort)
        return {"weights": self.weights(cohort), "rules": self.rule_arns(cohort),
                "state": state.model_dump() if state else None,
                "events": len(self.ledger().events(cohort)),
                "lock": self.ledger().lock_holder(cohort),
                "config": self.parameters(self.cohorts[cohort].param_prefix)}

    def serving(self, cohort: str, colour: Colour) -> Serving:
        """``colour``'s size (an ECS service's desired count; None for a function) and its
        targets' states, as the administrator reads them off ECS and the load balancer."""
        resources = self.cohorts[cohort]
        running = resources.compute[colour]
        size = None
        if running.service:
            (service,) = self.moto.client("ecs").describe_services(
                cluster=running.cluster, services=[running.service])["services"]
            size = int(service["desiredCount"])
        health = self.moto.client("elbv2").describe_target_health(
            TargetGroupArn=resources.target_group_arns[colour])
        return size, [t["TargetHealth"]["State"] for t in health["TargetHealthDescriptions"]]

    def shrink_idle_service(self, cohort: str) -> None:
        """An ecs cohort's green down to 1 task, so that ``start`` must size it first."""
        running = self.cohorts[cohort].compute["green"]
        if running.service:
            self.moto.client("ecs").update_service(cluster=running.cluster,
                                                   service=running.service, desiredCount=1)


def tenants_file(path: Path, app: str, alarm: str) -> Path:
    """canary (birch opted out, so it is pinned to the old colour), wave1 and the compute
    cohorts."""
    return write_tenants(path, [
        cohort_entry("canary", "linear:50:1s", alarm=alarm),
        cohort_entry("wave1", "linear:50:1s"),
        *(cohort_entry(name, "linear:50:1s") for name in COMPUTE_COHORTS),
    ], [
        tenant_entry("aurora", "canary", host=f"aurora.{app}.example"),
        tenant_entry("birch", "canary", host=f"birch.{app}.example",
                     opted_out="month-end close"),
        tenant_entry("cedar", "wave1", host=f"cedar.{app}.example"),
        *(tenant_entry(tenant, name, host=f"{tenant}.{app}.example")
          for name, (_, tenants) in COMPUTE_COHORTS.items() for tenant in tenants),
    ])


def function_zip(version: str) -> bytes:
    """A zip Lambda can run; each version's bytes differ, so each colour runs its own."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", f"def handler(event, context):\n    return {version!r}\n")
    return buffer.getvalue()


def colour_artefact(moto: EnforcingMoto, fleet: Fleet, kind: object,
                    version: str) -> ColourArtefact:
    """What a colour of ``kind`` runs of ``version``: an uploaded zip's object version, or
    an image digest."""
    if kind == "ecs":
        return ColourArtefact(version=version, image=IMAGES[version])
    code, key = function_zip(version), f"functions/{version}/app.zip"
    uploaded = moto.client("s3").put_object(Bucket=fleet.shared.artefact_bucket, Key=key,
                                            Body=code)
    return ColourArtefact(version=version, zip=ZipArtefact(
        key=key, object_version=uploaded["VersionId"], sha256=hashlib.sha256(code).hexdigest()))


def deploy_compute_cohorts(moto: EnforcingMoto, fleet: Fleet) -> None:
    """Each compute cohort with blue on 1.4.2 and green on 1.5.0, each colour running its
    release."""
    for index, (cohort, (compute, tenants)) in enumerate(COMPUTE_COHORTS.items(),
                                                         start=len(COHORTS)):
        document = yaml.safe_load(stack_yaml(fleet.app, cohort, tenants, blue=OLD,
                                             green=RELEASE, cidr_octet=20 + index,
                                             compute=compute))
        document["config"]["tenant-rollout:stack"]["artefacts"] = {
            colour: colour_artefact(moto, fleet, compute["kind"], version).model_dump(
                mode="json", by_alias=True, exclude_none=True)
            for colour, version in (("blue", OLD), ("green", RELEASE))}
        (fleet.project_dir / f"Pulumi.{cohort}.yaml").write_text(yaml.safe_dump(document))
        fleet.deployer.up(cohort)
        fleet.refresh(cohort)


def seed_tenant_config(moto: EnforcingMoto, cohort: CohortResources, tenant: str) -> None:
    """A plain setting and a secret on the live colour, for the config copy to carry over."""
    ssm = moto.client("ssm")
    live = cohort.colour_prefix("blue")
    ssm.put_parameter(Name=f"{live}/{tenant}/db-url", Value=f"postgres://{tenant}.db",
                      Type="String")
    ssm.put_parameter(Name=f"{live}/{tenant}/api-key", Value=SECRET, Type="SecureString",
                      KeyId=str(cohort.kms_key_arn))


def forget_local_engine_state(moto: EnforcingMoto, app: str) -> None:
    """Discovery then finds the external cohorts by their tags, as it does on AWS; the
    compute cohorts keep their stack outputs (on AWS, Pulumi's)."""
    s3 = moto.client("s3")
    listed = s3.list_objects_v2(Bucket=STATE_BUCKET, Prefix=f"stacks/{app}/")
    kept = {f"stacks/{app}/{cohort}.json" for cohort in COMPUTE_COHORTS}
    for item in listed.get("Contents", []):
        if item["Key"] not in kept:
            s3.delete_object(Bucket=STATE_BUCKET, Key=item["Key"])


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    base = tmp_path_factory.mktemp("least-privilege")
    with enforcing_moto(base / "moto.log") as moto:
        with moto.acting_as(None):
            fleet = deploy_fleet(base, COHORTS, versions={"blue": OLD, "green": RELEASE})
            deploy_compute_cohorts(moto, fleet)
        cohorts = dict(fleet.cohorts)
        for name, tenants in COHORTS.items():
            seed_tenant_config(moto, cohorts[name], tenants[0])
        alarm = put_5xx_alarm(moto.client("cloudwatch"), f"{fleet.app}-5xx")
        forget_local_engine_state(moto, fleet.app)
        admin = moto.enforce()
        yield Scene(moto, admin, fleet.app, fleet.project_dir, cohorts,
                    tenants_file(base / "tenants.yaml", fleet.app, alarm), alarm)


def without(action: str, policy: dict[str, Any]) -> dict[str, Any]:
    """``policy`` with one action taken out of every statement that grants it (``PutItem``
    is granted on the cohort's own items and, apart, on the later waves' halts)."""
    statements = []
    for statement in policy["Statement"]:
        kept = [a for a in statement["Action"] if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    assert sum(len(s["Action"]) for s in statements) < sum(
        len(s["Action"]) for s in policy["Statement"]), f"{action} is not in the policy"
    assert all(action not in s["Action"] for s in statements)
    return {**policy, "Statement": statements}


def is_access_denied(error: ClientError) -> bool:
    """AWS's refusal; moto answers JSON-protocol services (DynamoDB) with an XML body
    botocore cannot parse, so there only the message says it."""
    return (error.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException")
            or "is not authorized to perform" in str(error))


def denial(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed on stderr."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_moto_enforces_iam_on_this_server(scene: Scene) -> None:
    """Without this, every other test here would prove nothing."""
    nobody = scene.moto.user("nobody")
    canary = scene.cohorts["canary"]
    with pytest.raises(ClientError) as denied:
        scene.moto.client("elbv2", nobody).describe_listeners(ListenerArns=[canary.listener_arn])
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as unknown:
        scene.moto.client("elbv2", AccessKey("stranger", "AKIAUNKNOWNKEY000000", "x")
                          ).describe_listeners(ListenerArns=[canary.listener_arn])
    assert unknown.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_the_role_may_do_nothing_its_policy_does_not_name(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    role = scene.cohort_role("canary", capsys)
    canary = scene.cohorts["canary"]
    refused: list[Callable[[], object]] = [
        lambda: scene.moto.client("elbv2", role).delete_listener(
            ListenerArn=canary.listener_arn),
        lambda: scene.moto.client("dynamodb", role).delete_table(TableName=canary.ledger_table),
        lambda: scene.moto.client("iam", role).create_user(UserName="escalated"),
        lambda: scene.moto.client("s3", role).put_object(
            Bucket=canary.artefact_bucket, Key="not-a-release/x", Body=b"x"),
        lambda: scene.moto.client("s3", role).get_object(
            Bucket=STATE_BUCKET, Key="stacks/another-app/shared.json"),
    ]
    for call in refused:
        with pytest.raises(ClientError) as denied:
            call()
        assert is_access_denied(denied.value), denied.value


def test_every_resource_the_policy_names_is_the_cohort_s_own(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    """moto checks resources only for S3, so the other ARNs are matched against what AWS reports."""
    policy = scene.printed_policy("canary", capsys)
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    canary, wave1 = scene.cohorts["canary"], scene.cohorts["wave1"]
    moto = scene.moto
    policy_arn = next(p["Arn"] for p in moto.client("iam").list_policies(Scope="Local")["Policies"]
                      if p["PolicyName"] == resource_names.config_policy(scene.app, "canary"))
    key_arn = moto.client("kms").describe_key(KeyId=str(canary.kms_key_arn))["KeyMetadata"]["Arn"]
    reported = {
        "ShiftTrafficOnTheCohortListener": [moto.client("elbv2").describe_listeners(
            LoadBalancerArn=canary.load_balancer_arn)["Listeners"][0]["ListenerArn"]],
        "PinTenantsWithListenerRules": scene.rule_arns("canary"),
        "TenantConfiguration": [p["ARN"] for p in scene.parameters(canary.param_prefix).values()],
        "RolloutLedger": [moto.client("dynamodb").describe_table(
            TableName=canary.ledger_table)["Table"]["TableArn"]],
        "CohortAlarms": [moto.client("cloudwatch").describe_alarms(
            AlarmNames=[scene.alarm])["MetricAlarms"][0]["AlarmArn"]],
        "SecurityGateReadsConfigPolicy": [policy_arn],
        "SecurityGateDescribesKey": [key_arn],
        "TenantConfigurationKey": [key_arn],
    }
    others = [*scene.rule_arns("wave1"), wave1.listener_arn, str(wave1.kms_key_arn),
              *(p["ARN"] for p in scene.parameters(wave1.param_prefix).values())]
    for sid, arns in reported.items():
        assert arns, sid
        for arn in arns:
            assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in resources[sid]), (sid, arn)
        for arn in others:
            assert not any(fnmatch.fnmatchcase(arn, p) for p in resources[sid]), (sid, arn)
    release = {s["Sid"]: s["Resource"] for s in scene.release_policy()["Statement"]}
    assert release["Notices"] == [moto.client("sns").get_topic_attributes(
        TopicArn=canary.notices_topic_arn)["Attributes"]["TopicArn"]]


def test_the_workflow_grants_name_only_the_cohort_s_own_state_machine_and_role(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    """``start --engine stepfunctions`` deploys the cohort's own state machine with its own
    role, which the cohort role may pass to Step Functions and nothing else."""
    statements = {s["Sid"]: s for s in scene.printed_policy("canary", capsys)["Statement"]}
    account = scene.moto.client("sts").get_caller_identity()["Account"]
    own = {"machine": resource_names.rollout_workflow(scene.app, "canary"),
           "role": resource_names.workflow_role(scene.app, "canary")}
    other = {"machine": resource_names.rollout_workflow(scene.app, "wave1"),
             "role": resource_names.workflow_role(scene.app, "wave1")}
    arns = {"CohortWorkflowStateMachine": "arn:aws:states:eu-west-1:{account}:stateMachine:"
                                          "{machine}",
            "CohortWorkflowExecutions": "arn:aws:states:eu-west-1:{account}:execution:"
                                        "{machine}:canary-1-5-0",
            "CohortWorkflowRole": "arn:aws:iam::{account}:role/{role}",
            "PassTheWorkflowRoleToStepFunctions": "arn:aws:iam::{account}:role/{role}"}
    for sid, pattern in arns.items():
        patterns = statements[sid]["Resource"]
        assert any(fnmatch.fnmatchcase(pattern.format(account=account, **own), p)
                   for p in patterns), sid
        assert not any(fnmatch.fnmatchcase(pattern.format(account=account, **other), p)
                       for p in patterns), sid
    assert statements["PassTheWorkflowRoleToStepFunctions"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": ["states.amazonaws.com"]}}
    assert statements["PassTheWorkflowRoleToStepFunctions"]["Action"] == ["iam:PassRole"]


def test_the_workflow_role_is_created_and_given_its_policy_only_under_the_stack_s_boundary(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    """Whoever holds the cohort role cannot put any other policy on the workflow role and
    run it: ``CreateRole`` and ``PutRolePolicy`` need the cohort's permissions boundary on
    it, the boundary the cohort's stack deployed, and no grant removes or changes a boundary.
    moto does not evaluate IAM conditions, so the condition is checked as printed."""
    policy = scene.printed_policy("canary", capsys)
    statements = {s["Sid"]: s for s in policy["Statement"]}
    account = scene.moto.client("sts").get_caller_identity()["Account"]
    boundary = (f"arn:aws:iam::{account}:policy/"
                f"{resource_names.workflow_boundary(scene.app, 'canary')}")
    assert scene.moto.client("iam").get_policy(PolicyArn=boundary)["Policy"]["Arn"] == boundary
    role = f"arn:aws:iam::{account}:role/{resource_names.workflow_role(scene.app, 'canary')}"
    bounded = statements["CohortWorkflowRole"]
    assert (bounded["Action"], bounded["Resource"]) == (
        ["iam:CreateRole", "iam:PutRolePolicy"], [role])
    assert bounded["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": [boundary]}}
    writes = {"iam:CreateRole", "iam:PutRolePolicy"}
    assert [s["Sid"] for s in policy["Statement"] if writes & set(s["Action"])] == [
        "CohortWorkflowRole"]
    never = {"iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
             "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteRolePolicy"}
    assert not never & {a for s in policy["Statement"] for a in s["Action"]}
    assert (statements["ReadTheCohortWorkflowRole"]["Action"],
            statements["ReadTheCohortWorkflowRole"]["Resource"]) == (["iam:GetRole"], [role])
    assert (statements["ReadTheWorkflowBoundary"]["Action"],
            statements["ReadTheWorkflowBoundary"]["Resource"]) == (["iam:GetPolicy"], [boundary])


def test_config_copy_with_secrets_manager_runs_under_the_printed_policy(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    policy = scene.printed_policy("canary", capsys)
    role = scene.cohort_role("canary", capsys)
    secrets = scene.moto.client("secretsmanager")
    location = scene.cohorts["canary"].param_prefix.strip("/")
    source = secrets.create_secret(Name=f"{location}/blue/aurora/licence", SecretString=VAULTED)
    done = scene.rollout(role, "config", "copy", "--cohort", "canary", "--from", "blue",
                         "--to", "green", "--secrets-manager", "--json")
    assert done.returncode == 0, done.stderr
    copied = secrets.get_secret_value(SecretId=f"{location}/green/aurora/licence")
    assert copied["SecretString"] == VAULTED
    assert VAULTED not in done.stdout + done.stderr
    # moto checks Secrets Manager actions only: the ARNs are matched here instead
    granted = next(s["Resource"] for s in policy["Statement"]
                   if "secretsmanager:PutSecretValue" in s["Action"])
    wave1 = scene.cohorts["wave1"].param_prefix.strip("/")
    for arn in (source["ARN"], copied["ARN"]):
        assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in granted), arn
    assert not any(fnmatch.fnmatchcase(
        source["ARN"].replace(f":secret:{location}/", f":secret:{wave1}/"), pattern)
        for pattern in granted)


def test_a_cohort_role_reads_but_never_writes_another_cohort_s_ledger_items(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    """A canary role must not forge wave2's state, approvals, lock or its tenants' notices."""
    role = scene.cohort_role("canary", capsys)
    table = scene.cohorts["canary"].ledger_table
    db = scene.moto.client("dynamodb", role)
    victim = {"S": cohort_pk("wave2")}
    forged = {"S": '{"status": "promoted"}'}
    refused: list[Callable[[], object]] = [
        lambda: db.put_item(TableName=table, Item={"pk": victim, "sk": {"S": "STATE"},
                                                   "doc": forged}),
        lambda: db.update_item(TableName=table, Key={"pk": victim, "sk": {"S": "STATE"}},
                               UpdateExpression="SET doc = :approved",
                               ExpressionAttributeValues={":approved": forged}),
        lambda: db.put_item(TableName=table, Item={
            "pk": victim, "sk": {"S": "LOCK"}, "holder": {"S": "canary"},
            "token": {"S": "forged"}, "expires_at": {"N": "4102444800"}}),
        lambda: db.delete_item(TableName=table, Key={"pk": victim, "sk": {"S": "LOCK"}}),
        lambda: db.transact_write_items(TransactItems=[{"Put": {
            "TableName": table, "Item": {"pk": victim, "sk": {"S": "STATE"}, "doc": forged}}}]),
        lambda: db.put_item(TableName=table, Item={
            "pk": {"S": notice_pk(RELEASE)}, "sk": {"S": notice_sk("cedar")}, "doc": forged}),
        # an operator's halt is read, never written nor lifted; a later wave's is only added
        lambda: db.put_item(TableName=table, Item={
            "pk": {"S": HALT_FLEET_PK}, "sk": {"S": HALT_ALL_SK}, "doc": forged}),
        lambda: db.delete_item(TableName=table, Key={
            "pk": {"S": HALT_FLEET_PK}, "sk": {"S": HALT_ALL_SK}}),
        lambda: db.delete_item(TableName=table, Key={
            "pk": {"S": HALT_RELEASE_PK}, "sk": {"S": halt_release_sk(RELEASE, "wave1")}}),
    ]
    for call in refused:
        with pytest.raises(ClientError) as denied:
            call()
        assert is_access_denied(denied.value), denied.value
    admin = scene.moto.client("dynamodb")
    for key in ({"pk": victim, "sk": {"S": "STATE"}}, {"pk": victim, "sk": {"S": "LOCK"}},
                {"pk": {"S": notice_pk(RELEASE)}, "sk": {"S": notice_sk("cedar")}}):
        assert "Item" not in admin.get_item(TableName=table, Key=key), key
    # what a cohort role legitimately reads of others: the source cohort's state for a
    # stage promotion (`promote --from canary --to wave1`), and the release's notices
    db.get_item(TableName=table, Key={"pk": {"S": cohort_pk("wave1")}, "sk": {"S": "STATE"}})
    db.query(TableName=table, KeyConditionExpression="pk = :pk",
             ExpressionAttributeValues={":pk": {"S": notice_pk(RELEASE)}})


def test_a_cohort_role_can_neither_delete_nor_overwrite_a_published_release(
        scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    version = "1.4.9"
    notes = notes_for(tmp_path, version)
    artefact = tmp_path / "service.tar.gz"
    artefact.write_bytes(b"release 1.4.9 of the service\n")
    with scene.moto.acting_as(scene.admin):
        assert rollout("release", "publish", "--version", version, "--notes", str(notes),
                       str(artefact), "--json", fleet=scene) == 0
    capsys.readouterr()
    role = scene.cohort_role("canary", capsys)
    bucket = scene.cohorts["canary"].artefact_bucket
    with scene.moto.acting_as(scene.admin):
        prefix = ArtefactStore(AwsClients(), bucket, scene.app).prefix(version)
    admin_s3, s3 = scene.moto.client("s3"), scene.moto.client("s3", role)

    def published() -> dict[str, Any]:
        found = admin_s3.list_object_versions(Bucket=bucket, Prefix=prefix)
        return {"versions": sorted((v["Key"], v["VersionId"]) for v in found["Versions"]),
                "deleted": found.get("DeleteMarkers", [])}

    before = published()
    manifest = f"{prefix}{MANIFEST_NAME}"
    (manifest_version,) = [v for k, v in before["versions"] if k == manifest]
    refused: list[Callable[[], object]] = [
        lambda: s3.delete_object(Bucket=bucket, Key=manifest),
        lambda: s3.delete_object(Bucket=bucket, Key=manifest, VersionId=manifest_version),
        lambda: s3.put_object(Bucket=bucket, Key=manifest, Body=b"{}"),
        lambda: s3.put_object(Bucket=bucket, Key=f"{prefix}{artefact.name}", Body=b"tampered"),
    ]
    for call in refused:
        with pytest.raises(ClientError) as denied:
            call()
        assert is_access_denied(denied.value), denied.value
    assert published() == before
    assert s3.get_object(Bucket=bucket, Key=manifest)["VersionId"] == manifest_version


def test_a_cohort_role_writes_tenant_configuration_only_under_its_own_colours(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    role = scene.cohort_role("canary", capsys)
    ssm = scene.moto.client("ssm", role)
    canary, wave1 = scene.cohorts["canary"], scene.cohorts["wave1"]
    before = scene.parameters(f"/{scene.app}")
    refused: list[Callable[[], object]] = [
        lambda: ssm.put_parameter(Name=f"{wave1.colour_prefix('blue')}/cedar/db-url",
                                  Value="postgres://forged", Type="String", Overwrite=True),
        lambda: ssm.delete_parameter(Name=f"{wave1.colour_prefix('blue')}/cedar/db-url"),
        lambda: ssm.put_parameter(Name=f"{canary.param_prefix}/shared/db-url",
                                  Value="postgres://forged", Type="String"),
    ]
    for call in refused:
        with pytest.raises(ClientError) as denied:
            call()
        assert is_access_denied(denied.value), denied.value
    assert scene.parameters(f"/{scene.app}") == before


def test_the_stack_s_tenant_config_policy_writes_only_its_tenants_settings(
        scene: Scene) -> None:
    """What the program deploys as the cohort's tenant-config policy, attached and tried."""
    iam = scene.moto.client("iam")
    name = resource_names.config_policy(scene.app, "canary")
    arn = next(p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]
               if p["PolicyName"] == name)
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    holder = scene.moto.user("tenant-config-holder", as_moto_enforces(document["Document"]))
    ssm = scene.moto.client("ssm", holder)
    canary, wave1 = scene.cohorts["canary"], scene.cohorts["wave1"]
    for colour in ("blue", "green"):
        own = f"{canary.colour_prefix(colour)}/birch/theme"
        ssm.put_parameter(Name=own, Value="dark", Type="String", Overwrite=True)
        ssm.delete_parameter(Name=own)
    ssm.get_parameters(Names=[f"{canary.colour_prefix('blue')}/aurora/db-url"])
    for name in (f"{canary.colour_prefix('blue')}/not-a-tenant/theme",
                 f"{canary.param_prefix}/theme",
                 f"{wave1.colour_prefix('blue')}/cedar/theme"):
        with pytest.raises(ClientError) as denied:
            ssm.put_parameter(Name=name, Value="dark", Type="String", Overwrite=True)
        assert is_access_denied(denied.value), (name, denied.value)


def test_a_whole_rollout_runs_as_a_user_holding_only_the_printed_policy(
        scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    role = scene.cohort_role("canary", capsys)
    releaser = scene.role("release-role", "canary", scene.release_policy())
    artefact = tmp_path / "service-1.5.0.tar.gz"
    artefact.write_bytes(b"release 1.5.0 of the service\n" * 64)
    outputs: list[subprocess.CompletedProcess[str]] = []

    def step(*args: str, key: AccessKey = role) -> dict[str, Any] | list[Any]:
        done = scene.rollout(key, *args)
        outputs.append(done)
        assert done.returncode == 0, (args[0], done.stderr)
        parsed: dict[str, Any] | list[Any] = json.loads(done.stdout)
        return parsed

    step("release", "publish", "--version", RELEASE, "--notes", str(EXAMPLE_NOTES),
         str(artefact), "--json", key=releaser)
    step("notify", "--release", RELEASE, "--tenants", str(scene.tenants), "--notes",
         str(EXAMPLE_NOTES), "--json", key=releaser)
    started = scene.start(role, "canary")
    outputs.append(started)
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["status"] == "promoted"
    assert scene.weights("canary") == {"blue": 0, "green": 100}
    green = scene.parameters(scene.cohorts["canary"].colour_prefix("green"))
    assert {name.rsplit("/", 2)[-2] + "/" + name.rsplit("/", 1)[-1]: p["Type"]
            for name, p in green.items()} == {"aurora/db-url": "String",
                                              "aurora/api-key": "SecureString"}

    status = step("status", "--cohort", "canary", "--json")
    assert isinstance(status, list)
    assert (status[0]["status"], status[0]["pins"]) == ("promoted", {"birch": "blue"})

    rolled_back = step("rollback", "--cohort", "canary", "--tenants", str(scene.tenants),
                       "--json")
    assert isinstance(rolled_back, dict)
    assert rolled_back["status"] == "rolled_back"
    assert scene.weights("canary") == {"blue": 100, "green": 0}
    # the rollback halted the release on the later waves, under the same policy, which
    # also reads them; the operator (here the administrator) lifts them
    halted = step("halts", "--json")
    assert isinstance(halted, dict)
    assert {(h["cohort"], h["release"]) for h in halted["halts"]} == {
        (cohort, RELEASE) for cohort in ["wave1", *COMPUTE_COHORTS]}
    with scene.moto.acting_as(scene.admin):
        assert rollout("unhalt", "--release", RELEASE, "--json", fleet=scene) == 0
    capsys.readouterr()
    assert not any(SECRET in done.stdout + done.stderr for done in outputs)


def test_without_a_ledger_write_the_rollout_fails_before_changing_anything(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    policy = without("dynamodb:PutItem", scene.printed_policy("wave1", capsys))
    role = scene.role("rollout-role-without-putitem", "wave1", policy)
    before = scene.snapshot("wave1")
    done = scene.start(role, "wave1", "--override-notice", "least-privilege test")
    assert done.returncode == 1
    assert json.loads(done.stdout)["exit_code"] == 1
    # moto answers DynamoDB's refusal with an XML body botocore cannot parse, and the CLI
    # prints that body as it is (two lines); AWS answers in JSON, which makes one line.
    message = " ".join(done.stderr.split())
    assert message.startswith("error: AWS said"), message
    assert "AccessDenied" in message and "dynamodb:PutItem" in message, message
    assert scene.snapshot("wave1") == before


def test_without_modify_listener_the_rollout_stops_at_its_first_step_and_resume_finishes(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    policy = without("elasticloadbalancing:ModifyListener", scene.printed_policy("wave1", capsys))
    role = scene.role("rollout-role-without-modifylistener", "wave1", policy)
    assert scene.weights("wave1") == {"blue": 100, "green": 0}
    done = scene.start(role, "wave1", "--override-notice", "least-privilege test")
    assert done.returncode == 1
    line = denial(done)
    assert "AccessDenied" in line and "elasticloadbalancing:ModifyListener" in line, line
    assert scene.weights("wave1") == {"blue": 100, "green": 0}
    state = scene.state("wave1")
    assert state is not None
    assert (state.status.value, state.step_index) == ("shifting", 0)
    assert "step" not in [event.kind for event in scene.ledger().events("wave1")]
    assert scene.ledger().lock_holder("wave1") is None

    capsys.readouterr()
    with scene.moto.acting_as(scene.admin):
        code = rollout("resume", "--cohort", "wave1", "--tenants", str(scene.tenants),
                       "--check-every", "0.2s", "--json", fleet=scene)
    resumed = capsys.readouterr()
    assert code == 0, resumed.err
    assert json.loads(resumed.out)["status"] == "promoted"
    assert scene.weights("wave1") == {"blue": 0, "green": 100}


@dataclass(frozen=True)
class ComputeStory:
    """A compute cohort's whole rollout as the administrator sees it: the idle colour before
    and after ``start``, the old colour after ``reap`` and after ``rollback``, and the
    capacity steps and the write each command carried out, in order."""

    cohort: str
    idle_before: Serving
    idle_started: Serving
    old_reaped: Serving
    old_restored: Serving
    start_steps: list[str]
    rollback_steps: list[str]


STORIES = [
    ComputeStory("fn", idle_before=(None, ["healthy"]), idle_started=(None, ["healthy"]),
                 old_reaped=(None, ["healthy"]), old_restored=(None, ["healthy"]),
                 start_steps=["wait-healthy", "set-weights"],
                 rollback_steps=["wait-healthy", "set-weights"]),
    ComputeStory("svc", idle_before=(1, ["healthy"]), idle_started=(2, ["healthy"] * 2),
                 old_reaped=(0, []), old_restored=(2, ["healthy"] * 2),
                 start_steps=["resize", "wait-healthy", "set-weights"],
                 rollback_steps=["resize", "wait-healthy", "set-weights"]),
]
CAPACITY_STEPS = ("resize", "wait-healthy", "set-weights")


def capacity_steps(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The sizing, waiting and weight-writing steps a command carried out, in order."""
    steps = json.loads(done.stdout)["plan"]["steps"]
    return [step["kind"] for step in steps if step["kind"] in CAPACITY_STEPS]


def test_an_ecs_cohort_s_policy_sizes_exactly_its_two_services_and_a_lambda_s_sizes_nothing(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    """moto does not check ECS resources, so the ARNs are matched against what ECS reports."""
    statements = scene.printed_policy("svc", capsys)["Statement"]
    sizing = [(s["Action"], s["Resource"]) for s in statements
              if {"ecs:UpdateService", "ecs:DescribeServices"} & set(s["Action"])]
    running = scene.cohorts["svc"].compute["green"]
    services = scene.moto.client("ecs").list_services(cluster=running.cluster)["serviceArns"]
    assert len(services) == 2
    assert sizing == [(["ecs:DescribeServices", "ecs:UpdateService"], sorted(services))]
    actions = [a for s in scene.printed_policy("fn", capsys)["Statement"] for a in s["Action"]]
    assert "elasticloadbalancing:DescribeTargetHealth" in actions
    assert not [a for a in actions if a.startswith("lambda:") and "ProvisionedConcurrency" in a]


@pytest.mark.parametrize("story", [pytest.param(s, id=s.cohort) for s in STORIES])
def test_a_whole_rollout_of_a_compute_cohort_runs_under_the_printed_policy(
        scene: Scene, capsys: pytest.CaptureFixture[str], story: ComputeStory) -> None:
    """start sizes and awaits green, then goes to 100%; reap after a warm period of 0s;
    rollback after it scales blue back up, waits for it, then writes once."""
    cohort = story.cohort
    role = scene.cohort_role(cohort, capsys)
    scene.shrink_idle_service(cohort)
    assert scene.serving(cohort, "green") == story.idle_before
    started = scene.start(role, cohort, "--warm-for", "0s", "--override-notice", "compute",
                          strategy="linear:50:0s")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["status"] == "promoted"
    assert capacity_steps(started)[:len(story.start_steps)] == story.start_steps
    assert scene.serving(cohort, "green") == story.idle_started
    assert scene.weights(cohort) == {"blue": 0, "green": 100}

    reaped = scene.rollout(role, "reap", "--cohort", cohort, "--tenants", str(scene.tenants),
                           "--json")
    assert reaped.returncode == 0, reaped.stderr
    assert scene.serving(cohort, "blue") == story.old_reaped
    state = scene.state(cohort)
    assert state is not None and state.scaled_down_at is not None

    rolled_back = scene.rollout(role, "rollback", "--cohort", cohort, "--tenants",
                                str(scene.tenants), "--json")
    assert rolled_back.returncode == 0, rolled_back.stderr
    assert json.loads(rolled_back.stdout)["status"] == "rolled_back"
    assert capacity_steps(rolled_back) == story.rollback_steps
    assert scene.serving(cohort, "blue") == story.old_restored
    assert scene.weights(cohort) == {"blue": 100, "green": 0}
    with scene.moto.acting_as(scene.admin):  # the later waves' halts, for the next story
        assert rollout("unhalt", "--release", RELEASE, fleet=scene) == 0


@pytest.mark.parametrize(("cohort", "action"), [
    ("fn", "elasticloadbalancing:DescribeTargetHealth"), ("svc", "ecs:UpdateService")])
def test_without_its_compute_kind_s_action_start_fails_naming_it_and_moves_nothing(
        scene: Scene, capsys: pytest.CaptureFixture[str], cohort: str, action: str) -> None:
    """The function's start cannot see its targets' health; the service's cannot size green."""
    policy = without(action, scene.printed_policy(cohort, capsys))
    role = scene.role(f"rollout-role-{cohort}-without-{action.split(':')[1].lower()}", cohort,
                      policy)
    scene.shrink_idle_service(cohort)

    def moved() -> dict[str, Any]:
        return {"weights": scene.weights(cohort), "rules": scene.rule_arns(cohort),
                "green": scene.serving(cohort, "green"), "blue": scene.serving(cohort, "blue")}

    before = moved()
    assert before["weights"] == {"blue": 100, "green": 0}
    done = scene.start(role, cohort, "--override-notice", "compute")
    assert done.returncode == 1
    assert json.loads(done.stdout)["exit_code"] == 1
    line = denial(done)
    assert "AccessDenied" in line and action in line, line
    assert moved() == before
    state = scene.state(cohort)
    assert state is not None and state.step_index == -1
    assert scene.ledger().lock_holder(cohort) is None
