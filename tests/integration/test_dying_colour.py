"""A colour whose processes die under traffic: the load balancer answers 502 itself, the
``lb-error-rate`` gate sees them as ``HTTPCode_ELB_5XX_Count``, and all traffic goes back
in one write.

Both colours run the example app (blue 1.4.2, green 1.5.0) as local processes behind the
local data plane. Once green has answered a tenant at step 1, its process is killed: a
Lambda target group holds one target, so ALB has no healthy target to prefer and sends
to the one it has (failing open), which cannot answer: ALB's own 502. The target's code
answers nothing, so the target groups' 5xx (``error-rate``, the SLA gate) never see it;
only the load balancer's own count does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from rollout.local.data_plane.colour_processes import ColourProcesses
from rollout.local.traffic import Tally, local_colours, traffic_meanwhile
from tests.app_fleet import SECONDS_LONG_STEPS, deploy_app_fleet, seed_settings
from tests.cli_runner import address, rollout, rollout_output
from tests.conftest import Fleet, listener_weights
from tests.integration.test_colour_capacity import recorded_calls
from tests.releases import EXAMPLE_NOTES
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

TENANTS = ["aurora", "birch"]
LB_GATE = {"kind": "metric", "metric": "lb-error-rate", "max": 1, "min_samples": 20}


@pytest.fixture(scope="module")
def dying_fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Fleet]:
    fleet = deploy_app_fleet(tmp_path_factory.mktemp("dying"), {"d": TENANTS},
                             {"blue": "1.4.2", "green": "1.5.0"})
    seed_settings(fleet, "d", {"blue": "light"})
    tenants = write_tenants(fleet.project_dir / "tenants.yaml",
                            [cohort_entry("d", "linear:50:20s", gates=[LB_GATE])],
                            [tenant_entry(t, "d") for t in TENANTS])
    with pytest.MonkeyPatch.context() as patch:
        address(patch, fleet, tenants)
        assert rollout("notify", "--release", "1.5.0", "--tenants", str(tenants),
                       "--notes", str(EXAMPLE_NOTES), "--json") == 0
        yield fleet


def kill_once_served(processes: ColourProcesses, tally: Tally, stop: threading.Event
                     ) -> threading.Thread:
    """A thread that kills green's process as soon as green has answered a tenant."""
    def watch() -> None:
        while not stop.is_set():
            if tally.per_colour["green"] > 0:
                processes.stop("green")
                return
            time.sleep(0.01)

    killer = threading.Thread(target=watch, name="kill-green", daemon=True)
    killer.start()
    return killer


def test_a_colour_whose_processes_die_fails_the_lb_gate_and_traffic_goes_back_in_one_write(
        dying_fleet: Fleet) -> None:
    cohort = dying_fleet.cohorts["d"]
    tally = Tally()
    with local_colours(dying_fleet.clients, cohort, every=SECONDS_LONG_STEPS) as (processes, url), \
            traffic_meanwhile(url, cohort.tenants, rps=40, duration=30, tally=tally) as stop:
        killer = kill_once_served(processes, tally, stop)
        try:
            with recorded_calls() as calls:
                started = rollout_output("start", "--cohort", "d", "--release", "1.5.0",
                                         "--wait", "--check-every", "0.2s")
        finally:
            stop.set()
            killer.join(timeout=10)
    assert started.code == 1, started.stderr
    assert "gate metric lb-error-rate" in started.stderr, started.stderr
    assert "the load balancer's own 5xx answers (HTTPCode_ELB_5XX_Count)" in started.stderr
    assert "above the maximum 1.00%" in started.stderr
    writes = [params for _, operation, params in calls if operation == "ModifyListener"]
    assert len(writes) == 2, "step 1, then the rollback in one write"
    assert listener_weights(cohort) == {"blue": 100, "green": 0}
    assert tally.statuses["502"] > 0 and tally.per_colour["green"] > 0, tally
    assert tally.statuses["200"] > 0 and "500" not in tally.statuses, tally
