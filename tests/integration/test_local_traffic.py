"""``rollout local traffic``: tenants' real requests reach each colour's real code, through a
local stand-in of the load balancer that follows the weights and pins in moto.

The cohort's colours run the example app's zips (blue 1.4.2, green 1.5.0) as local
processes; the command's ``--json`` tally is checked against what the listener in moto
says, and a few answers are compared with what the app itself reports.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from rollout.routers.alb import AlbRouter
from tests.app_fleet import deploy_app_fleet, seed_settings
from tests.cli_runner import address, rollout_output
from tests.conftest import Fleet

pytestmark = pytest.mark.integration

TENANTS = ["aurora", "birch"]


@pytest.fixture(scope="module")
def app_fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    fleet = deploy_app_fleet(tmp_path_factory.mktemp("traffic"), {"c": TENANTS},
                             {"blue": "1.4.2", "green": "1.5.0"})
    seed_settings(fleet, "c", {"blue": "light", "green": "dark"})
    with pytest.MonkeyPatch.context() as patch:
        address(patch, fleet)
        yield fleet


def traffic(*args: str) -> dict[str, Any]:
    done = rollout_output("local", "traffic", "--cohort", "c", *args, "--json")
    assert done.code == 0, done.stderr
    return dict(json.loads(done.stdout))


def within_999(observed: int, total: int, share: float) -> bool:
    """``observed`` of ``total`` is within the 99.9% normal interval around ``share``."""
    spread = 3.29 * math.sqrt(total * share * (1 - share))
    return abs(observed - total * share) <= spread


def test_the_split_follows_the_listener_s_weights(app_fleet: Fleet) -> None:
    AlbRouter(app_fleet.clients, app_fleet.cohorts["c"]).set_weights({"blue": 25, "green": 75})
    summary = traffic("--rps", "150", "--duration", "2s")
    assert summary["requests"] == 300 and summary["failed"] == 0
    assert summary["statuses"] == {"200": 300}
    assert within_999(summary["per_colour"]["blue"], 300, 0.25), summary["per_colour"]
    assert set(summary["per_tenant"]) == set(TENANTS)


def test_a_pinned_tenant_stays_on_its_colour_while_the_rest_follow_the_weights(
        app_fleet: Fleet) -> None:
    router = AlbRouter(app_fleet.clients, app_fleet.cohorts["c"])
    router.set_weights({"blue": 0, "green": 100})
    router.pin([t for t in app_fleet.cohorts["c"].tenants if t.id == "aurora"], "blue")
    try:
        summary = traffic("--rps", "100", "--duration", "2s")
    finally:
        router.unpin(["aurora"])
    assert summary["per_tenant"] == {"aurora": {"blue": 100}, "birch": {"green": 100}}


def test_the_tally_is_printed_per_colour_and_per_tenant(app_fleet: Fleet) -> None:
    AlbRouter(app_fleet.clients, app_fleet.cohorts["c"]).set_weights({"blue": 100, "green": 0})
    done = rollout_output("local", "traffic", "--cohort", "c", "--rps", "50",
                          "--duration", "1s")
    assert done.code == 0, done.stderr
    assert "50 requests in" in done.stdout and "50 on blue" in done.stdout
    assert "status codes: 200 x50" in done.stdout


@pytest.mark.parametrize(("args", "said"), [
    (["--rps", "0"], "--rps must be above 0"), (["--rps", "5000"], "at most 2000"),
    (["--duration", "2h"], "at most 1h"), (["--duration", "soon"], "--duration"),
])
def test_unbounded_traffic_is_refused_before_anything_starts(
        app_fleet: Fleet, args: list[str], said: str) -> None:
    done = rollout_output("local", "traffic", "--cohort", "c", *args)
    assert done.code == 2 and said in done.stderr
