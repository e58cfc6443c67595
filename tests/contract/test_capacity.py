"""Every registered compute kind keeps the ``ColourCapacity`` contract, against a moto server.

The kinds come from the registry, so a new kind's file is picked up here by itself, and
fails until it has a setup in :data:`SETUPS` (a cohort of that kind deployed by the
local deployer, with a version in each colour), then until it keeps every promise: a
colour whose targets are registered serves and an emptied one does not, a size set is
the size read back (or there is no size of ours to set), and its IAM statements name
only named actions on exact resources (target health, which IAM cannot scope, aside)
and cover every call it makes.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from rollout.aws_clients import AwsClients
from rollout.capacity.base import CAPACITIES, ColourCapacity
from rollout.discovery import CohortResources, Discovery
from rollout.local.deployer import STAND_IN_TARGET
from rollout.model.stack import ColourArtefact, ZipArtefact
from rollout.vocabulary.colours import Colour
from tests.conftest import Fleet, deploy_fleet
from tests.contract.setups import lazy_setups

pytestmark = pytest.mark.integration

NAMED_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
UNSCOPED = {"elasticloadbalancing:DescribeTargetHealth"}
IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:{'c' * 64}"


@dataclass
class Calls:
    """Every call made through the clients a kind is given, as IAM actions."""

    made: list[str] = field(default_factory=list)

    def attach(self, service: str, region: str, client: Any) -> None:
        client.meta.events.register("before-call", self._before_call)

    def _before_call(self, model: Any, **_: Any) -> None:
        self.made.append(f"{model.service_model.signing_name}:{model.name}")


@dataclass(frozen=True)
class Setup:
    """A cohort of one kind with a version in each colour, and how to empty a colour."""

    cohort: CohortResources
    empty: Callable[[ColourCapacity, CohortResources], None]


def deregister_every_target(_capacity: ColourCapacity, cohort: CohortResources) -> None:
    elbv2 = boto3.client("elbv2")
    arn = cohort.target_group_arns["green"]
    found = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[found_target["Target"]
                                                          for found_target in found])


def scale_to_zero(capacity: ColourCapacity, _cohort: CohortResources) -> None:
    capacity.resize("green", 0)


def deployed(fleet: Fleet, artefacts: dict[Colour, ColourArtefact]) -> CohortResources:
    for colour, artefact in artefacts.items():
        fleet.deployer.deploy_version("c", colour, artefact.version, artefact=artefact)
    return fleet.refresh("c")


def external_setup(tmp: pytest.TempPathFactory) -> Setup:
    fleet = deploy_fleet(tmp.mktemp("capacity-external"), {"c": ["aurora"]})
    return Setup(fleet.cohorts["c"], deregister_every_target)


def lambda_setup(tmp: pytest.TempPathFactory) -> Setup:
    fleet = deploy_fleet(tmp.mktemp("capacity-lambda"), {"c": ["aurora"]},
                         compute={"kind": "lambda"})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    code = buffer.getvalue()
    key = "releases/1.5.0/app.zip"
    made = boto3.client("s3").put_object(Bucket=fleet.shared.artefact_bucket, Key=key, Body=code)
    artefact = ColourArtefact(version="1.5.0", zip=ZipArtefact(
        key=key, object_version=made["VersionId"], sha256=hashlib.sha256(code).hexdigest()))
    return Setup(deployed(fleet, {"blue": artefact, "green": artefact}),
                 deregister_every_target)


def ecs_setup(tmp: pytest.TempPathFactory) -> Setup:
    fleet = deploy_fleet(tmp.mktemp("capacity-ecs"), {"c": ["aurora"]},
                         compute={"kind": "ecs", "desiredCount": 2})
    artefact = ColourArtefact(version="1.5.0", image=IMAGE)
    return Setup(deployed(fleet, {"blue": artefact, "green": artefact}), scale_to_zero)


SETUPS: dict[str, Callable[[pytest.TempPathFactory], Setup]] = {
    "external": external_setup,
    "lambda": lambda_setup,
    "ecs": ecs_setup,
}
"""How each compute kind gets a cohort in moto; a new kind needs one here."""
KINDS = CAPACITIES.names()


@pytest.fixture(scope="module")
def setups(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Callable[[str], Setup]:
    return lazy_setups(SETUPS, tmp_path_factory, "compute kind", "tests/contract/test_capacity.py")


def subject(setup: Setup, name: str) -> tuple[ColourCapacity, Calls]:
    calls = Calls()
    clients = AwsClients(max_attempts=1, check=calls.attach)
    return CAPACITIES.get(name)(clients, setup.cohort), calls


def test_the_suite_covers_every_registered_kind() -> None:
    assert set(KINDS) == {"external", "lambda", "ecs"} | (set(KINDS) - set(SETUPS))
    assert set(KINDS) <= set(SETUPS), sorted(set(KINDS) - set(SETUPS))


@pytest.mark.parametrize("name", KINDS)
def test_a_deployed_colour_serves_and_an_emptied_one_does_not(
        setups: Callable[[str], Setup], name: str) -> None:
    setup = setups(name)
    capacity, _ = subject(setup, name)
    assert capacity.kind == name
    blue = capacity.health("blue")
    assert blue.serves and blue.healthy >= 1, blue.describe()

    setup.empty(capacity, setup.cohort)
    green = capacity.health("green")
    assert not green.serves
    assert green.describe().startswith("green: ")


@pytest.mark.parametrize("name", KINDS)
def test_a_size_set_is_the_size_read_back_or_there_is_none_to_set(
        setups: Callable[[str], Setup], name: str) -> None:
    capacity, calls = subject(setups(name), name)
    size = capacity.size("blue")
    if size is None:
        capacity.resize("blue", 5)
        assert capacity.size("blue") is None
        assert not [call for call in calls.made if "Update" in call or "Put" in call]
        return
    capacity.resize("blue", size + 1)
    assert capacity.size("blue") == size + 1
    assert capacity.health("blue").needed == size + 1
    capacity.resize("blue", size)
    assert capacity.size("blue") == size


@pytest.mark.parametrize("name", KINDS)
def test_the_iam_statements_name_every_call_made_on_exact_resources(
        setups: Callable[[str], Setup], name: str) -> None:
    capacity, calls = subject(setups(name), name)
    size = capacity.size("blue")
    capacity.resize("blue", size or 0)
    capacity.health("blue")
    statements = capacity.iam_statements("123456789012")
    granted = {action for statement in statements for action in statement.actions}
    assert set(calls.made) <= granted, sorted(set(calls.made) - granted)
    for statement in statements:
        assert all(NAMED_ACTION.match(action) for action in statement.actions)
        if statement.resources == ["*"]:
            assert set(statement.actions) <= UNSCOPED, statement
        else:
            assert not any("*" in resource.split(":")[-2] for resource in statement.resources
                           if resource.count(":") > 5)


def test_the_stand_in_of_an_external_colour_is_what_an_empty_colour_lacks(
        setups: Callable[[str], Setup]) -> None:
    setup = setups("external")
    capacity, _ = subject(setup, "external")
    targets = [t.target for t in capacity.health("blue").targets]
    assert targets == [STAND_IN_TARGET]


@pytest.mark.parametrize("name", KINDS)
def test_a_cohort_found_by_its_tags_alone_is_sized_as_its_stack_outputs_say(
        setups: Callable[[str], Setup], name: str) -> None:
    cohort = setups(name).cohort
    tagged = Discovery(AwsClients(), cohort.app).cohort(cohort.cohort)
    assert tagged.compute_kind == cohort.compute_kind == name
    fields = ("function", "provisioned_concurrency", "cluster", "service")
    assert ({colour: {f: getattr(running, f) for f in fields}
             for colour, running in tagged.compute.items()}
            == {colour: {f: getattr(running, f) for f in fields}
                for colour, running in cohort.compute.items() if running.function
                or running.service})
