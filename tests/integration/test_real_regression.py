"""A regression in code, caught from what tenants really got: the SLA gate fails on the real
5xx of the new colour's real code, and all traffic goes back in one write.

Green runs the example app 1.5.0 built with a defect (a fifth of its answers are 500s),
blue runs 1.4.2. Tenants' requests flow through the local data plane the whole time;
the gate reads the metrics that data plane publishes, nothing fabricated.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rollout.local.traffic import Tally, local_listener, traffic_meanwhile
from tests.app_fleet import SECONDS_LONG_STEPS, deploy_app_fleet, seed_settings
from tests.cli_runner import address, rollout, rollout_output
from tests.conftest import Fleet, listener_weights
from tests.integration.test_colour_capacity import recorded_calls
from tests.releases import EXAMPLE_NOTES
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

TENANTS = ["aurora", "birch"]


@pytest.fixture(scope="module")
def faulty_fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Fleet]:
    fleet = deploy_app_fleet(tmp_path_factory.mktemp("regression"), {"r": TENANTS},
                             {"blue": "1.4.2", "green": "1.5.0"}, {"green": "errors:0.2"})
    seed_settings(fleet, "r", {"blue": "light"})
    tenants = write_tenants(
        fleet.project_dir / "tenants.yaml",
        [cohort_entry("r", "linear:50:30s", sla_target=99.0,
                      gates=[{"kind": "sla", "min_samples": 30}])],
        [tenant_entry(t, "r") for t in TENANTS])
    with pytest.MonkeyPatch.context() as patch:
        address(patch, fleet, tenants)
        assert rollout("notify", "--release", "1.5.0", "--tenants", str(tenants),
                       "--notes", str(EXAMPLE_NOTES), "--json") == 0
        yield fleet


def test_real_5xx_of_the_new_code_fail_the_sla_gate_and_traffic_goes_back_in_one_write(
        faulty_fleet: Fleet) -> None:
    cohort = faulty_fleet.cohorts["r"]
    tally = Tally()
    with local_listener(faulty_fleet.clients, cohort, every=SECONDS_LONG_STEPS) as url, \
            traffic_meanwhile(url, cohort.tenants, rps=80, duration=40, tally=tally), \
            recorded_calls() as calls:
        started = rollout_output("start", "--cohort", "r", "--release", "1.5.0",
                                 "--wait", "--check-every", "0.2s")
    assert started.code == 1, started.stderr
    assert "gate sla" in started.stderr and "below the SLA target 99%" in started.stderr
    writes = [params for _, operation, params in calls if operation == "ModifyListener"]
    assert len(writes) == 2, "step 1, then the rollback in one write"
    assert listener_weights(cohort) == {"blue": 100, "green": 0}
    assert tally.statuses["500"] > 0 and tally.per_colour["green"] > 0
    assert tally.per_colour["blue"] > 0
