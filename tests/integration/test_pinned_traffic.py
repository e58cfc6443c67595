"""A pinned tenant is served by the old colour alone across a whole rollout, from 0 to 100%
and the promotion, while the others move to the new colour.

Aurora has opted out, so ``rollout start`` pins her to blue before the first weight moves.
Both colours run the example app (blue 1.4.2, green 1.5.0) as local processes behind the
local data plane, and the cohort's tenants' requests flow through it for the whole
``rollout start --wait``: every answer aurora got must come from blue.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from rollout.local.traffic import Tally, local_listener, traffic_meanwhile
from rollout.routers.alb import AlbRouter
from tests.app_fleet import SECONDS_LONG_STEPS, deploy_app_fleet, seed_settings
from tests.cli_runner import address, rollout, rollout_output
from tests.conftest import Fleet, listener_weights
from tests.releases import EXAMPLE_NOTES
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

PINNED = "aurora"
MOVING = ["birch", "cedar"]
ROLLOUT_WITHIN = 15.0
"""Two steps of a second's bake and the promotion take a few seconds; far more is a hang."""


@pytest.fixture(scope="module")
def pinned_fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Fleet]:
    fleet = deploy_app_fleet(tmp_path_factory.mktemp("pinned-traffic"),
                             {"p": [PINNED, *MOVING]}, {"blue": "1.4.2", "green": "1.5.0"})
    seed_settings(fleet, "p", {"blue": "light"})
    tenants = write_tenants(
        fleet.project_dir / "tenants.yaml", [cohort_entry("p", "linear:50:1s")],
        [tenant_entry(PINNED, "p", opted_out="quarter-end close"),
         *(tenant_entry(t, "p") for t in MOVING)])
    with pytest.MonkeyPatch.context() as patch:
        address(patch, fleet, tenants)
        assert rollout("notify", "--release", "1.5.0", "--tenants", str(tenants),
                       "--notes", str(EXAMPLE_NOTES), "--json") == 0
        yield fleet


def test_a_pinned_tenant_gets_no_request_on_the_new_colour_across_a_whole_rollout(
        pinned_fleet: Fleet) -> None:
    cohort = pinned_fleet.cohorts["p"]
    tally = Tally()
    with local_listener(pinned_fleet.clients, cohort, every=SECONDS_LONG_STEPS) as url, \
            traffic_meanwhile(url, cohort.tenants, rps=40, duration=30, tally=tally):
        began = time.monotonic()
        started = rollout_output("start", "--cohort", "p", "--release", "1.5.0",
                                 "--wait", "--check-every", "0.2s")
        took = time.monotonic() - began
    assert started.code == 0, started.stderr
    assert took < ROLLOUT_WITHIN, took
    assert listener_weights(cohort) == {"blue": 0, "green": 100}
    assert AlbRouter(pinned_fleet.clients, cohort).pins() == {PINNED: "blue"}
    served = {tenant: dict(colours) for tenant, colours in tally.per_tenant.items()}
    assert set(served[PINNED]) == {"blue"} and served[PINNED]["blue"] > 0, served
    for tenant in MOVING:
        assert served[tenant].get("green", 0) > 0, served
    assert tally.failed == 0 and set(tally.statuses) == {"200"}, tally
