"""`release prune` and restore, with three cohorts on different versions and a pinned tenant.

The fleet (moto server over HTTP, local deployer):

========  =======  =======  ============================================================
cohort    blue     green    ledger
========  =======  =======  ============================================================
canary    1.6.0    1.5.0    promoted from green 1.5.0 to blue 1.6.0 (rollback target 1.5.0)
wave1     1.4.2    1.4.2    promoted from green 1.3.0 to blue 1.4.2, green since redeployed
                            (rollback target 1.3.0 runs nowhere any more)
wave2     1.4.0    1.4.2    paused at 25% on green 1.4.2, tenant gorse pinned to blue
                            (ledger) and fern pinned to green (ALB listener rule)
========  =======  =======  ============================================================

Published: 1.2.0, 1.3.0, 1.4.0, 1.4.2, 1.5.0, 1.6.0. ``prune --keep 1`` may delete
only 1.2.0.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rollout.artefacts.restore import Deploy, restore_version
from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.errors import BadInput, Blocked, RolloutFailed
from rollout.local.deployer import LocalDeployer
from rollout.local.record import local_discovery
from rollout.rollouts.ledger import Ledger
from rollout.rollouts.state import RolloutState, Status
from rollout.routers import for_cohort
from rollout.routers.alb import AlbRouter
from rollout.vocabulary.colours import Colour, other_colour
from rollout.vocabulary.ledger_keys import cohort_pk
from tests.cli_runner import rollout
from tests.conftest import Fleet, shared_yaml, stack_yaml
from tests.fleet_reads import target_group_version
from tests.releases import publish, store_of

pytestmark = pytest.mark.integration

PUBLISHED = ["1.2.0", "1.3.0", "1.4.0", "1.4.2", "1.5.0", "1.6.0"]
COHORTS = {
    "canary": (["aurora", "birch"], "1.6.0", "1.5.0"),
    "wave1": (["cedar", "dune"], "1.4.2", "1.4.2"),
    "wave2": (["ember", "fern", "gorse"], "1.4.0", "1.4.2"),
}
NOW = datetime(2025, 6, 3, 9, 0, tzinfo=UTC)


def rollout_state(cohort: str, *, old: str, new: str, new_colour: Colour, status: Status,
                  last_known_good: str, weights: dict[Colour, int],
                  pinned: dict[str, Colour] | None = None) -> RolloutState:
    old_colour = other_colour(new_colour)
    return RolloutState(
        cohort=cohort, release=new, old_version=old, old_colour=old_colour,
        new_colour=new_colour, strategy="all-at-once", steps=[], weights=weights, status=status,
        started_at=NOW, updated_at=NOW, versions={old_colour: old, new_colour: new},
        last_known_good=last_known_good, pinned=pinned or {})


@pytest.fixture(scope="module")
def fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """Three cohorts on different versions, their ledger states, and six published releases."""
    base = tmp_path_factory.mktemp("retention")
    app = f"r{os.urandom(4).hex()}"
    project = base / app
    project.mkdir()
    (project / "Pulumi.shared.yaml").write_text(shared_yaml(app))
    clients = AwsClients()
    deployer = LocalDeployer(project, clients)
    fleet = Fleet(app, project, clients, deployer)
    for index, (cohort, (tenants, blue, green)) in enumerate(COHORTS.items()):
        (project / f"Pulumi.{cohort}.yaml").write_text(
            stack_yaml(app, cohort, tenants, blue=blue, green=green, cidr_octet=30 + index))
        deployer.up(cohort)
        fleet.refresh(cohort)

    ledger = Ledger(clients, fleet.shared.ledger_table)
    for state in (
        rollout_state("canary", old="1.5.0", new="1.6.0", new_colour="blue",
                      status=Status.PROMOTED, last_known_good="1.6.0",
                      weights={"blue": 100, "green": 0}),
        rollout_state("wave1", old="1.3.0", new="1.4.2", new_colour="blue",
                      status=Status.PROMOTED, last_known_good="1.4.2",
                      weights={"blue": 100, "green": 0}),
        rollout_state("wave2", old="1.4.0", new="1.4.2", new_colour="green",
                      status=Status.PAUSED, last_known_good="1.4.0",
                      weights={"blue": 75, "green": 25}, pinned={"gorse": "blue"}),
    ):
        ledger.put(cohort_pk(state.cohort), "STATE", state)
    wave2 = fleet.cohorts["wave2"]
    clients.client("elbv2").modify_listener(
        ListenerArn=wave2.listener_arn, DefaultActions=[{"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": wave2.target_group_arns["blue"], "Weight": 75},
                             {"TargetGroupArn": wave2.target_group_arns["green"], "Weight": 25}],
        }}])
    router = AlbRouter(clients, wave2)
    router.pin([t for t in wave2.tenants if t.id == "fern"], "green")

    for version in PUBLISHED:
        publish(fleet, base, version)
    return fleet


def deploy_with_local_deployer(fleet: Fleet) -> Deploy:
    """The deploy function a rollback passes: the local deployer with one colour's version set."""

    def deploy(cohort: str, colour: Colour, version: str) -> CohortResources:
        LocalDeployer(fleet.project_dir, fleet.clients).deploy_version(cohort, colour, version)
        return local_discovery(fleet.clients, fleet.app).cohort(cohort)

    return deploy


def test_list_shows_pins_and_rollback_targets(
        fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout("release", "list", "--json", fleet=fleet) == 0

    listing = {e["version"]: e["in_use"] for e in json.loads(capsys.readouterr().out)}
    assert listing["1.6.0"][:2] == ["canary/blue runs it", "last known-good of canary"]
    assert listing["1.5.0"][:2] == ["canary/green runs it", "rollback target of canary"]
    assert "tenant gorse pinned to wave2/blue" in listing["1.4.0"]
    assert "tenant fern pinned to wave2/green" in listing["1.4.2"]
    assert "rollback target of wave1" in listing["1.3.0"]
    assert set(listing["1.4.2"]) >= {"wave1/blue runs it", "wave2/green runs it"}
    assert rollout("release", "list", fleet=fleet) == 0
    human = capsys.readouterr().out
    assert "tenant gorse pinned to wave2/blue" in human
    assert "1.6.0  published" in human


def test_prune_keep_1_spares_versions_in_use_pinned_and_rollback_targets(
        fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    store = store_of(fleet)
    before = store.versions()

    assert rollout("release", "prune", "--keep", "1", "--dry-run", fleet=fleet) == 0
    dry = capsys.readouterr().out
    assert store.versions() == before
    if "1.2.0" in before:
        assert "would delete 1.2.0: older than the newest 1 and not in use" in dry

    assert rollout("release", "prune", "--keep", "1", "--json", fleet=fleet) == 0

    result = json.loads(capsys.readouterr().out)
    assert store.versions() == ["1.6.0", "1.5.0", "1.4.2", "1.4.0", "1.3.0"]
    assert result["deleted"] == (["1.2.0"] if "1.2.0" in before else [])
    reasons = {d["version"]: d["reasons"] for d in result["plan"]["decisions"]}
    assert reasons["1.6.0"][0] == "one of the newest 1"
    assert reasons["1.3.0"] == ["rollback target of wave1"]
    assert "tenant gorse pinned to wave2/blue" in reasons["1.4.0"]
    assert "rollback target of canary" in reasons["1.5.0"]
    for version in store.versions():
        assert store.verify(version).ok


def test_restore_a_retained_version_into_the_idle_colour(fleet: Fleet) -> None:
    assert rollout("release", "prune", "--keep", "1", fleet=fleet) == 0
    store = store_of(fleet)
    wave1 = fleet.refresh("wave1")
    assert "1.3.0" in store.versions() and "1.2.0" not in store.versions()
    weights_before = AlbRouter(fleet.clients, wave1).read_weights()

    report = restore_version(store, wave1, "1.3.0", deploy_with_local_deployer(fleet),
                             router=for_cohort(fleet.clients, wave1))

    assert (report.colour, report.replaced_version, report.version) == ("green", "1.4.2",
                                                                        "1.3.0")
    assert target_group_version(fleet.clients, wave1.target_group_arns["green"]) == "1.3.0"
    assert target_group_version(fleet.clients, wave1.target_group_arns["blue"]) == "1.4.2"
    assert AlbRouter(fleet.clients, wave1).read_weights() == weights_before
    assert report.verified_files == ["app.tar.gz"]
    with pytest.raises(BadInput, match=r"release 1\.2\.0 .* is not in the artefact store"):
        restore_version(store, wave1, "1.2.0", deploy_with_local_deployer(fleet),
                        router=for_cohort(fleet.clients, wave1))


def test_restore_refuses_a_tampered_release_and_deploys_nothing(fleet: Fleet) -> None:
    store = store_of(fleet)
    canary = fleet.refresh("canary")
    fleet.clients.client("s3").put_object(
        Bucket=store.bucket, Key=f"{store.prefix('1.4.0')}app.tar.gz", Body=b"tampered")
    deployed: list[tuple[str, str, str]] = []

    def deploy(cohort: str, colour: Colour, version: str) -> CohortResources:
        deployed.append((cohort, colour, version))
        return canary

    with pytest.raises(RolloutFailed, match=r"app\.tar\.gz does not match its manifest"):
        restore_version(store, canary, "1.4.0", deploy, router=for_cohort(fleet.clients, canary))

    assert deployed == []
    assert target_group_version(fleet.clients, canary.target_group_arns["green"]) == "1.5.0"


def test_restore_is_blocked_while_both_colours_carry_traffic(fleet: Fleet) -> None:
    store = store_of(fleet)
    wave2 = fleet.refresh("wave2")
    deployed: list[str] = []

    def deploy(cohort: str, colour: Colour, version: str) -> CohortResources:
        deployed.append(version)
        return wave2

    with pytest.raises(Blocked, match=r"no single idle colour .*blue 75, green 25"):
        restore_version(store, wave2, "1.4.2", deploy, router=for_cohort(fleet.clients, wave2))

    assert deployed == []


def test_restore_is_blocked_while_tenants_are_pinned_to_the_idle_colour(fleet: Fleet) -> None:
    store = store_of(fleet)
    canary = fleet.refresh("canary")
    router = AlbRouter(fleet.clients, canary)
    router.pin([t for t in canary.tenants if t.id == "aurora"], "green")
    deployed: list[str] = []

    def deploy(cohort: str, colour: Colour, version: str) -> CohortResources:
        deployed.append(version)
        return canary

    try:
        with pytest.raises(Blocked, match=r"tenants aurora are pinned to canary/green"):
            restore_version(store, canary, "1.5.0", deploy, router=router)
    finally:
        router.unpin(["aurora"])

    assert deployed == []
    assert target_group_version(fleet.clients, canary.target_group_arns["green"]) == "1.5.0"


def test_prune_dry_run_prints_the_steps_the_real_run_then_takes(
        fleet: Fleet, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for version in ("1.0.0", "1.1.0"):
        publish(fleet, tmp_path, version)
    store = store_of(fleet)
    doomed = [v for v in store.versions() if v in ("1.2.0", "1.1.0", "1.0.0")]

    assert rollout("release", "prune", "--keep", "1", "--dry-run", fleet=fleet) == 0
    dry = capsys.readouterr().out.splitlines()
    assert store_of(fleet).versions() == store.versions()
    assert rollout("release", "prune", "--keep", "1", fleet=fleet) == 0
    real = capsys.readouterr().out.splitlines()

    assert dry[0] == "dry run of `release prune --keep 1`: nothing was changed"
    assert [line.removeprefix("would ") for line in dry[1:]] == real[:-1]
    assert [line for line in real if line.startswith("delete ")] == [
        f"delete {version}: older than the newest 1 and not in use (2 objects)"
        for version in doomed]
    assert real[-1].startswith(f"{len(doomed)} release(s) deleted ({2 * len(doomed)} objects;")
    assert store_of(fleet).versions() == ["1.6.0", "1.5.0", "1.4.2", "1.4.0", "1.3.0"]
