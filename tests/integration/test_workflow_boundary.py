"""``start --engine stepfunctions`` creates the workflow role under the cohort's permissions
boundary, and refuses (exit 3, nothing moved) when it cannot.

moto stores a role's boundary but evaluates neither boundaries nor IAM conditions: what the
boundary allows is checked as a document (``tests/unit/test_workflow_boundary.py``); here,
that the role AWS would evaluate carries it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from rollout.vocabulary import resource_names
from tests.cli_runner import Finished, rollout_output
from tests.conftest import Fleet, deploy_fleet, listener_weights
from tests.integration.test_sfn_engine import OLD_ONLY, RELEASE, state_machines
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

COHORTS = {"bounded": ["ash"], "unprovisioned": ["beech"], "legacy": ["cherry"]}
"""``unprovisioned``'s stack lost its boundary (as one deployed before it existed);
``legacy`` has a workflow role made without one."""


class Scene:
    def __init__(self, fleet: Fleet, tenants: Path) -> None:
        self.fleet = fleet
        self.tenants = tenants
        self.iam = boto3.client("iam")
        self.account = str(boto3.client("sts").get_caller_identity()["Account"])

    def start(self, cohort: str) -> Finished:
        return rollout_output("start", "--cohort", cohort, "--release", RELEASE, "--engine",
                              "stepfunctions", "--override-notice", "boundary test",
                              "--tenants", str(self.tenants), fleet=self.fleet)

    def boundary(self, cohort: str) -> str:
        name = resource_names.workflow_boundary(self.fleet.app, cohort)
        return f"arn:aws:iam::{self.account}:policy/{name}"

    def role(self, cohort: str) -> str:
        return resource_names.workflow_role(self.fleet.app, cohort)

    def role_exists(self, cohort: str) -> bool:
        names = [r["RoleName"] for page in self.iam.get_paginator("list_roles").paginate()
                 for r in page["Roles"]]
        return self.role(cohort) in names

    def machine_deployed(self, cohort: str) -> bool:
        return resource_names.rollout_workflow(self.fleet.app, cohort) in state_machines()


@pytest.fixture(scope="module")
def scene(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    base = tmp_path_factory.mktemp("workflow-boundary")
    fleet = deploy_fleet(base, COHORTS, versions={"blue": "1.4.2", "green": RELEASE})
    tenants = write_tenants(base / "tenants.yaml",
                            [cohort_entry(name, "linear:50:1s") for name in COHORTS],
                            [tenant_entry(t, name) for name, ts in COHORTS.items() for t in ts])
    scene = Scene(fleet, tenants)
    scene.iam.delete_policy(PolicyArn=scene.boundary("unprovisioned"))
    scene.iam.create_role(RoleName=scene.role("legacy"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}))
    yield scene


def test_the_workflow_role_is_created_with_the_cohort_s_boundary(scene: Scene) -> None:
    started = scene.start("bounded")
    assert started.code == 0, started.stderr
    role = scene.iam.get_role(RoleName=scene.role("bounded"))["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == scene.boundary("bounded")
    assert scene.machine_deployed("bounded")


def test_a_stack_without_the_boundary_refuses_the_start_and_nothing_moves(scene: Scene) -> None:
    refused = scene.start("unprovisioned")
    assert refused.code == 3, refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    name = resource_names.workflow_boundary(scene.fleet.app, "unprovisioned")
    assert f"permissions boundary {name} is missing" in line
    assert "rollout stacks up --cohort unprovisioned" in line
    assert not scene.role_exists("unprovisioned")
    assert not scene.machine_deployed("unprovisioned")
    assert listener_weights(scene.fleet.cohorts["unprovisioned"]) == OLD_ONLY
    status = rollout_output("status", "--cohort", "unprovisioned", "--json", fleet=scene.fleet)
    assert status.code == 0, status.stderr
    (row,) = json.loads(status.stdout)
    assert row["status"] in (None, "idle", "aborted"), "nothing was recorded"


def test_a_workflow_role_made_without_the_boundary_is_refused_not_used(scene: Scene) -> None:
    refused = scene.start("legacy")
    assert refused.code == 3, refused.stderr
    assert f"{scene.role('legacy')} exists without the permissions boundary" in refused.stderr
    assert "PermissionsBoundary" not in scene.iam.get_role(RoleName=scene.role("legacy"))["Role"]
    assert scene.iam.list_role_policies(RoleName=scene.role("legacy"))["PolicyNames"] == []
    assert not scene.machine_deployed("legacy")
    assert listener_weights(scene.fleet.cohorts["legacy"]) == OLD_ONLY
