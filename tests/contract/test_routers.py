"""Every registered router keeps the ``TrafficRouter`` contract, against a moto server.

The routers come from the registry, so a new router file is picked up here by
itself, and fails until it has a setup in :data:`SETUPS` (how to give it something
real to route in moto) and then until it keeps every promise: weights round-trip
and verify, a failed read is an answer, pins work exactly where it says it can
pin, its IAM statements name only named actions and cover every call it makes,
and whatever AWS or botocore raises reaches the caller as a ``RolloutError``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.errors import BadInput, RolloutError, RolloutFailed
from rollout.model.stack import TenantRef
from rollout.routers.base import ROUTERS, TrafficRouter, Weights
from tests.conftest import deploy_fleet
from tests.contract.setups import lazy_setups
from tests.router_checks import stand_in_cohort, two_published_versions

pytestmark = pytest.mark.integration

NAMED_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
SID = re.compile(r"^[A-Za-z0-9]+$")
READS = ("Describe", "Get", "List")
SPLIT: Weights = {"blue": 30, "green": 70}


@dataclass
class Calls:
    """Every call made through the clients a router is given, as IAM actions; and a failure
    to raise instead of making them, when one is armed."""

    made: list[str] = field(default_factory=list)
    failure: Exception | None = None
    only_reads: bool = False

    def attach(self, service: str, region: str, client: Any) -> None:
        client.meta.events.register("before-call", self._before_call)

    def _before_call(self, model: Any, **_: Any) -> None:
        self.made.append(f"{model.service_model.signing_name}:{model.name}")
        if self.failure is not None and (not self.only_reads or model.name.startswith(READS)):
            raise self.failure

    def writes(self) -> list[str]:
        return [call for call in self.made if not call.split(":")[1].startswith(READS)]


@dataclass(frozen=True)
class Setup:
    """What one router routes in moto: the cohort, settings that work, settings naming
    something that does not exist, and a tenant to pin (for a router that can)."""

    cohort: CohortResources
    settings: Mapping[str, Any]
    missing: Mapping[str, Any]
    tenant: TenantRef | None = None
    cohort_missing: CohortResources | None = None


def alb_setup(tmp: pytest.TempPathFactory) -> Setup:
    fleet = deploy_fleet(tmp.mktemp("contract-alb"), {"canary": ["aurora", "birch"]})
    cohort = fleet.cohorts["canary"]
    gone = cohort.listener_arn.rsplit("/", 1)[0] + "/0000000000000000"
    return Setup(cohort, {}, {}, tenant=cohort.tenants[0],
                 cohort_missing=cohort.model_copy(update={"listener_arn": gone}))


STAND_IN = stand_in_cohort("dns")
"""A cohort for routers that never look at its listener."""


def route53_setup(tmp: pytest.TempPathFactory) -> Setup:
    zone = boto3.client("route53").create_hosted_zone(
        Name="contract.example", CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]
    name = f"app-{uuid.uuid4().hex[:8]}.contract.example"
    settings = {"hosted_zone_id": zone, "record_name": name,
                "targets": {"blue": f"blue.{name}", "green": f"green.{name}"}}
    return Setup(STAND_IN, settings, {**settings, "hosted_zone_id": "Z0NOSUCHZONE"})


def lambda_alias_setup(tmp: pytest.TempPathFactory) -> Setup:
    function = two_published_versions("contract")
    boto3.client("lambda").create_alias(FunctionName=function.name, Name="live",
                                        FunctionVersion=function.blue)
    settings = {"function_name": function.name, "alias": "live",
                "versions": {"blue": function.blue, "green": function.green}}
    return Setup(STAND_IN, settings, {**settings, "function_name": "no-such-function"})


SETUPS: dict[str, Callable[[pytest.TempPathFactory], Setup]] = {
    "alb": alb_setup,
    "route53": route53_setup,
    "lambda-alias": lambda_alias_setup,
}
"""How each router gets something real to route in moto; a new router needs one here."""


@pytest.fixture(scope="module")
def setups(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Callable[[str], Setup]:
    return lazy_setups(SETUPS, tmp_path_factory, "router", "tests/contract/test_routers.py")


@dataclass
class Subject:
    router: TrafficRouter
    calls: Calls
    setup: Setup


def subject(setups: Callable[[str], Setup], name: str, *, missing: bool = False) -> Subject:
    """``name``'s router over clients that record (and can fail) every call."""
    setup = setups(name)
    calls = Calls()
    clients = AwsClients(max_attempts=1, check=calls.attach)
    cohort = (setup.cohort_missing or setup.cohort) if missing else setup.cohort
    settings = setup.missing if missing else setup.settings
    return Subject(ROUTERS.get(name)(clients, cohort, settings), calls, setup)


ROUTER_NAMES = ROUTERS.names()


def test_the_suite_covers_every_registered_router() -> None:
    assert ROUTER_NAMES, "no router registered"
    assert set(ROUTER_NAMES) <= set(SETUPS), sorted(set(ROUTER_NAMES) - set(SETUPS))


@pytest.mark.parametrize("name", ROUTER_NAMES)
def test_weights_set_are_the_weights_read_back_in_one_write(
        setups: Callable[[str], Setup], name: str) -> None:
    tested = subject(setups, name)

    for weights in (SPLIT, {"blue": 100, "green": 0}, {"blue": 0, "green": 100}):
        tested.calls.made.clear()
        tested.router.set_weights(weights)

        assert len(tested.calls.writes()) == 1, tested.calls.made
        assert tested.router.read_weights() == weights


@pytest.mark.parametrize("name", ROUTER_NAMES)
def test_verify_weights_says_whether_aws_routes_as_expected(
        setups: Callable[[str], Setup], name: str) -> None:
    tested = subject(setups, name)
    tested.router.set_weights(SPLIT)

    same = tested.router.verify_weights({"blue": 3, "green": 7})
    other = tested.router.verify_weights({"blue": 100, "green": 0})

    assert same.verified and same.actual == SPLIT and same.problem is None
    assert not other.verified and other.actual == SPLIT
    assert "not as expected" in other.describe()


@pytest.mark.parametrize("name", ROUTER_NAMES)
def test_a_failed_read_is_an_answer_not_an_exception(
        setups: Callable[[str], Setup], name: str) -> None:
    tested = subject(setups, name)
    tested.calls.failure = ClientError(
        {"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Read")

    check = tested.router.verify_weights(SPLIT)

    assert not check.verified and check.actual is None
    assert check.problem is not None and "Throttling" in check.problem
    assert "Throttling" in check.describe()


@pytest.mark.parametrize("name", ROUTER_NAMES)
@pytest.mark.parametrize("failure", [
    ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Call"),
    ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "Call"),
    EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
], ids=["throttled", "denied", "unreachable"])
def test_what_aws_raises_is_a_rollout_failure_saying_what_was_done(
        setups: Callable[[str], Setup], name: str, failure: Exception) -> None:
    tested = subject(setups, name)
    tested.calls.failure = failure
    calls: list[Callable[[], object]] = [tested.router.read_weights,
                                         lambda: tested.router.set_weights(SPLIT)]
    for call in calls:
        with pytest.raises(RolloutFailed) as raised:
            call()

        message = str(raised.value)
        assert "\n" not in message
        assert message.startswith(("reading", "setting")), message
        if isinstance(failure, ClientError):
            assert failure.response["Error"]["Code"] in message


@pytest.mark.parametrize("name", ROUTER_NAMES)
def test_settings_naming_what_does_not_exist_are_bad_input(
        setups: Callable[[str], Setup], name: str) -> None:
    tested = subject(setups, name, missing=True)

    with pytest.raises(BadInput):
        tested.router.set_weights(SPLIT)
    assert not tested.router.verify_weights(SPLIT).verified


@pytest.mark.parametrize("name", ROUTER_NAMES)
def test_an_unknown_setting_is_bad_input_naming_it(
        setups: Callable[[str], Setup], name: str) -> None:
    setup = setups(name)

    with pytest.raises(BadInput, match=rf"^{name} router settings: no_such_setting: "):
        ROUTERS.get(name)(AwsClients(), setup.cohort, {**setup.settings, "no_such_setting": 1})


@pytest.mark.parametrize("name", ROUTER_NAMES)
def test_pins_work_exactly_where_the_router_says_it_can_pin(
        setups: Callable[[str], Setup], name: str) -> None:
    tested = subject(setups, name)
    router = tested.router

    if not router.can_pin:
        with pytest.raises(BadInput, match=rf"the {name} router cannot pin tenants"):
            router.pin([TenantRef(id="aurora", host="aurora.example")], "green")
        router.unpin(["aurora"])
        assert router.pins() == {}
        assert tested.calls.writes() == []
        return
    tenant = tested.setup.tenant
    assert tenant is not None, f"the {name} setup names no tenant to pin"
    router.pin([tenant], "green")
    try:
        assert router.pins() == {tenant.id: "green"}
    finally:
        router.unpin([tenant.id])
    assert router.pins() == {}


@pytest.mark.parametrize("name", ROUTER_NAMES)
def test_a_test_route_is_read_back_with_its_token_replaced_and_closed(
        setups: Callable[[str], Setup], name: str) -> None:
    """A router that can pin can route tests (both tell requests apart); one that cannot
    has no test route, says so with None, and writes nothing."""
    tested = subject(setups, name)
    router = tested.router

    opened = router.open_test_route("green", "first-token")
    if not router.can_pin:
        assert opened is None and router.test_route() is None
        router.close_test_route()
        assert tested.calls.writes() == []
        return
    try:
        assert opened is not None and opened.colour == "green"
        assert router.test_route() == opened
        again = router.open_test_route("blue", "second-token")
        assert again is not None and again.rule == opened.rule
        read = router.test_route()
        assert read is not None and (read.colour, read.token) == ("blue", "second-token")
        assert "second-token" not in repr(read) and "second-token" not in read.describe()
        assert router.pins() == {}
    finally:
        router.close_test_route()
    assert router.test_route() is None
    router.close_test_route()


@pytest.mark.parametrize("name", ROUTER_NAMES)
def test_iam_statements_name_only_named_actions_on_named_resources(
        setups: Callable[[str], Setup], name: str) -> None:
    statements = subject(setups, name).router.iam_statements("123456789012")

    assert statements
    assert len({s.sid for s in statements}) == len(statements)
    for statement in statements:
        assert SID.match(statement.sid), statement.sid
        assert statement.actions and statement.resources, statement.sid
        for action in statement.actions:
            assert NAMED_ACTION.match(action), (statement.sid, action)
        for resource in statement.resources:
            assert resource == "*" or resource.startswith("arn:"), (statement.sid, resource)
            if resource == "*":
                assert all(a.split(":")[1].startswith(READS) for a in statement.actions), (
                    f"{statement.sid} writes on every resource")


@pytest.mark.parametrize("name", ROUTER_NAMES)
def test_iam_statements_grant_every_call_the_router_makes(
        setups: Callable[[str], Setup], name: str) -> None:
    tested = subject(setups, name)
    router = tested.router
    router.set_weights(SPLIT)
    router.read_weights()
    router.verify_weights(SPLIT)
    router.pins()
    if router.can_pin and tested.setup.tenant is not None:
        router.pin([tested.setup.tenant], "blue")
        router.unpin([tested.setup.tenant.id])
    router.open_test_route("green", "contract-token")
    router.test_route()
    router.close_test_route()

    granted = {action for s in router.iam_statements("123456789012") for action in s.actions}
    assert tested.calls.made
    assert set(tested.calls.made) <= granted, sorted(set(tested.calls.made) - granted)


@pytest.mark.parametrize("name", ROUTER_NAMES)
def test_every_error_a_router_raises_is_a_rollout_error(
        setups: Callable[[str], Setup], name: str) -> None:
    """Bad weights included: refused before any write, as BadInput."""
    tested = subject(setups, name)

    with pytest.raises(RolloutError):
        tested.router.set_weights({"blue": 0, "green": 0})
    with pytest.raises(BadInput):
        tested.router.set_weights({"blue": 50, "red": 50})  # type: ignore[dict-item]
    assert tested.calls.writes() == []
