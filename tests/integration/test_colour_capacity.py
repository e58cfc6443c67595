"""A colour takes traffic only when it can serve it: sized first, healthy, reaped after its
warm period, and scaled back up before a late rollback's one write.

Through the CLI against moto over HTTP. The ``ecs`` cohorts run Fargate services whose
tasks the embedded server registers as targets (:mod:`rollout.local.ecs_tasks`), so a
desired count of 0 really empties a colour's target group; the ``external`` cohort's
colours hold one stand-in target each, which a test deregisters to empty a colour.

==========  ==============================================================================
cohort      story
==========  ==============================================================================
svc         ecs, blue 1.4.2 at 3 tasks, green 1.5.0 shrunk to 1: started, promoted with
            ``--warm-for 0s``, reaped, then rolled back after its warm period
held        ecs, one tenant opted out (pinned to blue after the promotion): never reaped
warm        ecs, promoted with ``--warm-for 1h``: reap refused until then
ext         external: a colour with no targets gets no traffic (start, then a step)
==========  ==============================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient

from rollout.local.deployer import STAND_IN_TARGET
from rollout.model.stack import ColourArtefact
from rollout.rollouts.executor import load_state
from tests.cli_runner import Finished, address, rollout, rollout_output
from tests.conftest import Fleet, deploy_fleet, listener_weights
from tests.fleet_reads import fleet_ledger
from tests.releases import EXAMPLE_NOTES
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

ECS_COHORTS = {"svc": ["aurora"], "held": ["birch", "cedar"], "warm": ["dune"]}
IMAGES = {version: f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:{digit * 64}"
          for version, digit in (("1.4.2", "a"), ("1.5.0", "b"))}
Call = tuple[str, str, dict[str, Any]]


@contextmanager
def recorded_calls() -> Iterator[list[Call]]:
    """Every AWS call this process makes meanwhile: ``(service, operation, params)``."""
    calls: list[Call] = []
    original = BaseClient._make_api_call

    def record(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append((client.meta.service_model.service_name, operation, params))
        return original(client, operation, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", record)
        yield calls


def desired_count(fleet: Fleet, cohort: str, colour: str) -> int:
    (service,) = boto3.client("ecs").describe_services(
        cluster=f"{fleet.app}-{cohort}", services=[f"{fleet.app}-{cohort}-{colour}"])["services"]
    return int(service["desiredCount"])


def targets(fleet: Fleet, cohort: str, colour: str) -> list[str]:
    arn = fleet.cohorts[cohort].target_group_arns[colour]  # type: ignore[index]
    return [t["TargetHealth"]["State"] for t in boto3.client("elbv2").describe_target_health(
        TargetGroupArn=arn)["TargetHealthDescriptions"]]


def run(*args: str) -> Finished:
    return rollout_output(*args, "--json") if "--dry-run" not in args else rollout_output(*args)


@pytest.fixture(scope="module")
def ecs_fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Every ecs cohort with blue on 1.4.2 (3 tasks) and green deployed with 1.5.0."""
    base = tmp_path_factory.mktemp("capacity")
    fleet = deploy_fleet(base, ECS_COHORTS, compute={"kind": "ecs", "desiredCount": 3})
    for cohort in ECS_COHORTS:
        for colour, version in (("blue", "1.4.2"), ("green", "1.5.0")):
            fleet.deployer.deploy_version(cohort, colour, version, artefact=ColourArtefact(
                version=version, image=IMAGES[version]))
        fleet.refresh(cohort)
    tenants = write_tenants(
        fleet.project_dir / "tenants.yaml",
        [cohort_entry(name, "all-at-once") for name in ECS_COHORTS],
        [tenant_entry(t, cohort, opted_out="quarter close" if t == "birch" else None)
         for cohort, names in ECS_COHORTS.items() for t in names])
    with pytest.MonkeyPatch.context() as patch:
        address(patch, fleet, tenants)
        assert rollout("notify", "--release", "1.5.0", "--tenants", str(tenants),
                       "--notes", str(EXAMPLE_NOTES), "--json") == 0
        yield fleet


@pytest.fixture(scope="module")
def promoted_svc(ecs_fleet: Fleet) -> list[Call]:
    """svc's green shrunk to 1 task, then ``start --wait --warm-for 0s``; its calls."""
    boto3.client("ecs").update_service(cluster=f"{ecs_fleet.app}-svc",
                                       service=f"{ecs_fleet.app}-svc-green", desiredCount=1)
    with recorded_calls() as calls:
        started = run("start", "--cohort", "svc", "--release", "1.5.0", "--wait",
                      "--check-every", "0.1s", "--warm-for", "0s")
    assert started.code == 0, started.stderr
    return calls


def test_start_brings_the_idle_colour_to_the_live_colours_size_before_any_traffic(
        ecs_fleet: Fleet, promoted_svc: list[Call]) -> None:
    resized = [i for i, (_, operation, params) in enumerate(promoted_svc)
               if operation == "UpdateService" and params.get("desiredCount") == 3]
    first_write = next(i for i, (_, operation, _p) in enumerate(promoted_svc)
                       if operation == "ModifyListener")
    assert resized and resized[0] < first_write
    assert desired_count(ecs_fleet, "svc", "green") == 3
    assert listener_weights(ecs_fleet.cohorts["svc"]) == {"blue": 0, "green": 100}


def test_reap_scales_the_old_colour_down_and_keeps_what_it_runs(
        ecs_fleet: Fleet, promoted_svc: list[Call]) -> None:
    dry = run("reap", "--cohort", "svc", "--dry-run")
    assert dry.code == 0 and "scale blue (1.4.2) down from 3 tasks to 0" in dry.stdout
    assert desired_count(ecs_fleet, "svc", "blue") == 3

    reaped = run("reap", "--cohort", "svc")
    assert reaped.code == 0, reaped.stderr
    assert desired_count(ecs_fleet, "svc", "blue") == 0
    assert targets(ecs_fleet, "svc", "blue") == []
    task = boto3.client("ecs").describe_task_definition(taskDefinition=f"{ecs_fleet.app}-svc-blue")
    assert task["taskDefinition"]["containerDefinitions"][0]["image"] == IMAGES["1.4.2"]
    state = load_state(fleet_ledger(ecs_fleet), "svc")
    assert state is not None and state.scaled_down_from == 3

    again = rollout_output("reap", "--cohort", "svc")
    assert again.code == 0 and "nothing to do" in again.stdout


def test_rollback_after_the_warm_period_scales_up_then_waits_then_writes_once(
        ecs_fleet: Fleet, promoted_svc: list[Call]) -> None:
    if desired_count(ecs_fleet, "svc", "blue"):
        assert run("reap", "--cohort", "svc").code == 0
    with recorded_calls() as calls:
        rolled = run("rollback", "--cohort", "svc", "--reason", "late regression")
    assert rolled.code == 0, rolled.stderr
    order = [(operation, params) for _, operation, params in calls
             if operation in ("UpdateService", "DescribeTargetHealth", "ModifyListener")]
    names = [operation for operation, _ in order]
    assert names.count("ModifyListener") == 1
    scale_up = names.index("UpdateService")
    write = names.index("ModifyListener")
    assert order[scale_up][1]["desiredCount"] == 3
    assert scale_up < names.index("DescribeTargetHealth", scale_up) < write
    assert listener_weights(ecs_fleet.cohorts["svc"]) == {"blue": 100, "green": 0}
    assert targets(ecs_fleet, "svc", "blue") == ["healthy"] * 3
    assert run("unhalt", "--release", "1.5.0").code == 0  # the rollback halted the later cohorts


def test_reap_refuses_a_colour_that_serves_pinned_tenants(ecs_fleet: Fleet) -> None:
    assert run("start", "--cohort", "held", "--release", "1.5.0", "--wait",
               "--check-every", "0.1s", "--warm-for", "0s").code == 0
    refused = rollout_output("reap", "--cohort", "held")
    assert refused.code == 3
    assert "serves pinned tenants (birch)" in refused.stderr
    assert desired_count(ecs_fleet, "held", "blue") == 3


def test_reap_waits_for_the_end_of_the_warm_period_and_status_reaps_once_it_is_over(
        ecs_fleet: Fleet) -> None:
    assert run("start", "--cohort", "warm", "--release", "1.5.0", "--wait",
               "--check-every", "0.1s", "--warm-for", "1h").code == 0
    refused = rollout_output("reap", "--cohort", "warm")
    assert refused.code == 3 and "stays warm until" in refused.stderr
    assert desired_count(ecs_fleet, "warm", "blue") == 3

    ledger = fleet_ledger(ecs_fleet)
    state = load_state(ledger, "warm")
    assert state is not None and state.warm_until is not None
    ended = state.model_copy(update={"warm_until": state.started_at,
                                     "revision": state.revision + 1})
    ledger.save_state("warm", ended, expected_revision=state.revision, lease=None, fence=None)
    shown = rollout_output("status", "--cohort", "warm")
    assert shown.code == 0, shown.stderr
    assert "scaled down after its warm period: warm: scale blue (1.4.2) down" in shown.stdout
    assert desired_count(ecs_fleet, "warm", "blue") == 0


@pytest.fixture(scope="module")
def external_fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[Fleet]:
    fleet = deploy_fleet(tmp_path_factory.mktemp("external"), {"ext": ["elm"]},
                         versions={"blue": "1.4.2", "green": "1.5.0"})
    tenants = write_tenants(fleet.project_dir / "tenants.yaml",
                            [cohort_entry("ext", "linear:50:0s")], [tenant_entry("elm", "ext")])
    with pytest.MonkeyPatch.context() as patch:
        address(patch, fleet, tenants)
        assert rollout("notify", "--release", "1.5.0", "--tenants", str(tenants),
                       "--notes", str(EXAMPLE_NOTES), "--json") == 0
        yield fleet


def empty_green(fleet: Fleet) -> None:
    boto3.client("elbv2").deregister_targets(
        TargetGroupArn=fleet.cohorts["ext"].target_group_arns["green"],
        Targets=[{"Id": STAND_IN_TARGET, "Port": 8080}])


def fill_green(fleet: Fleet) -> None:
    boto3.client("elbv2").register_targets(
        TargetGroupArn=fleet.cohorts["ext"].target_group_arns["green"],
        Targets=[{"Id": STAND_IN_TARGET, "Port": 8080}])


def test_a_start_onto_a_colour_with_no_healthy_targets_exits_3_and_moves_nothing(
        external_fleet: Fleet, tmp_path: Path) -> None:
    empty_green(external_fleet)
    with recorded_calls() as calls:
        refused = rollout_output("start", "--cohort", "ext", "--release", "1.5.0",
                                 "--ready-within", "1s", "--check-every", "0.5s")
    assert refused.code == 3
    assert "green: no targets registered" in refused.stderr
    assert "ModifyListener" not in [operation for _, operation, _p in calls]
    assert listener_weights(external_fleet.cohorts["ext"]) == {"blue": 100, "green": 0}


def test_a_step_onto_a_colour_whose_targets_went_away_exits_3_and_moves_nothing(
        external_fleet: Fleet) -> None:
    fill_green(external_fleet)
    assert rollout("start", "--cohort", "ext", "--release", "1.5.0", "--json") == 0
    assert listener_weights(external_fleet.cohorts["ext"]) == {"blue": 50, "green": 50}
    empty_green(external_fleet)
    with recorded_calls() as calls:
        refused = rollout_output("step", "--cohort", "ext")
    assert refused.code == 3
    assert "step 2 of cohort ext would send traffic to a colour that cannot serve it: " \
           "green: no targets registered; nothing moved" in refused.stderr
    assert "ModifyListener" not in [operation for _, operation, _p in calls]
    assert listener_weights(external_fleet.cohorts["ext"]) == {"blue": 50, "green": 50}
    fill_green(external_fleet)
    assert rollout("step", "--cohort", "ext", "--json") == 0
    assert listener_weights(external_fleet.cohorts["ext"]) == {"blue": 0, "green": 100}
