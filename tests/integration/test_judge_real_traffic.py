"""The statistical judge on what tenants really got: real requests, real code, real latency.

Each fleet runs the example app's real zips behind the local data plane: blue 1.4.2, green
1.5.0, either built with a defect that makes ``/`` wait 200 ms first, or built as it is.
Tenants' requests flow through the local listener while ``rollout start --wait`` moves
half of them to green; the judge reads the one-second ALB metrics that data plane
publishes, nothing fabricated, and decides the step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rollout.gates.base import GateContext, Verdict
from rollout.gates.load import load_gate
from rollout.local.traffic import Tally, local_listener, traffic_meanwhile
from rollout.rollouts.ledger import Ledger
from rollout.vocabulary.colours import Colour
from tests.app_fleet import SECONDS_LONG_STEPS, deploy_app_fleet, seed_settings
from tests.cli_runner import Finished, rollout, rollout_output
from tests.conftest import Fleet, listener_weights
from tests.releases import EXAMPLE_NOTES
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

TENANTS = ["aurora", "birch"]
SLOW_HOME = "slow:/:0.2s"
"""200 ms on every answer of ``/``: far above a loaded machine's noise of a few ms."""
JUDGE: dict[str, Any] = {
    "kind": "judge", "window": "20s", "period": "1s", "min_samples": 8,
    "metrics": [
        {"metric": "latency", "direction": "increase", "tolerance": 50, "critical": True},
        {"metric": "error-rate", "tolerance": 1},
    ],
}
"""Eight one-second samples per colour: what the first seconds of a half-and-half step
give. A 50 ms tolerance: the slow build is 150 ms past it, identical builds far within."""
STEPS = {"steps": [{"weight": 50, "bake": "10s", "gates": [JUDGE]}, {"weight": 100}]}
"""The judge on the half-and-half step, the one it can judge: at 100% the old colour has
no traffic to compare with, and a judge passes such a step saying so."""
RPS = 20
MAX_SECONDS = 30


def rehearsal_fleet(base: Path, defects: Mapping[Colour, str]) -> Fleet:
    """Cohort ``r`` on the example app, its tenants file and steps in the project, and
    release 1.5.0 announced, so ``rollout start`` may begin at once."""
    fleet = deploy_app_fleet(base, {"r": TENANTS}, {"blue": "1.4.2", "green": "1.5.0"},
                             defects)
    seed_settings(fleet, "r", {"blue": "light"})
    (fleet.project_dir / "judged-steps.yaml").write_text(json.dumps(STEPS))
    tenants = write_tenants(fleet.project_dir / "tenants.yaml",
                            [cohort_entry("r", "file:judged-steps.yaml", duration="5m")],
                            [tenant_entry(t, "r") for t in TENANTS])
    assert rollout("notify", "--release", "1.5.0", "--tenants", str(tenants),
                   "--notes", str(EXAMPLE_NOTES), "--json", fleet=fleet) == 0
    return fleet


@pytest.fixture(scope="module")
def slow_green(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return rehearsal_fleet(tmp_path_factory.mktemp("judge-slow"), {"green": SLOW_HOME})


@pytest.fixture(scope="module")
def same_builds(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return rehearsal_fleet(tmp_path_factory.mktemp("judge-same"), {})


def start_under_traffic(fleet: Fleet, tally: Tally) -> Finished:
    """``rollout start --wait`` while tenants' requests flow through the local listener.

    Checked every second: after the bake, ten inconclusive checks in a row pause the
    rollout, so a loaded machine has ten seconds more to gather the samples."""
    cohort = fleet.cohorts["r"]
    with local_listener(fleet.clients, cohort, every=SECONDS_LONG_STEPS) as url, \
            traffic_meanwhile(url, cohort.tenants, rps=RPS, duration=MAX_SECONDS, tally=tally):
        return rollout_output("start", "--cohort", "r", "--release", "1.5.0", "--wait",
                              "--check-every", "1s", fleet=fleet)


def step_times(fleet: Fleet) -> tuple[datetime, datetime]:
    """When the rollout of cohort ``r`` went to 50%, and when it went on to 100%: the
    window its judge passed before the step could advance."""
    steps = [event.at for event in Ledger(fleet.clients, fleet.shared.ledger_table).events("r")
             if event.kind == "step"]
    assert len(steps) == 2, steps
    return steps[0], steps[1]


def test_a_build_200ms_slower_fails_the_judge_on_latency_and_traffic_goes_back(
        slow_green: Fleet) -> None:
    tally = Tally()

    started = start_under_traffic(slow_green, tally)

    assert started.code == 1, started.stderr
    assert "gate judge" in started.stderr, started.stderr
    assert "critical metric latency is High" in started.stderr, started.stderr
    assert "error-rate Pass" in started.stderr, "slower, not failing: its errors are judged alike"
    assert listener_weights(slow_green.cohorts["r"]) == {"blue": 100, "green": 0}
    assert tally.per_colour["green"] > 0 and tally.per_colour["blue"] > 0
    assert tally.failed == 0 and set(tally.statuses) == {"200"}


def test_two_identical_builds_pass_the_judge_and_the_new_colour_goes_live(
        same_builds: Fleet) -> None:
    tally = Tally()

    started = start_under_traffic(same_builds, tally)

    assert started.code == 0, started.stderr
    assert listener_weights(same_builds.cohorts["r"]) == {"blue": 0, "green": 100}
    assert tally.per_colour["green"] > 0 and tally.per_colour["blue"] > 0
    assert tally.failed == 0 and set(tally.statuses) == {"200"}
    half, whole = step_times(same_builds)
    verdict = load_gate(JUDGE).check(GateContext(
        clients=same_builds.clients, cohort=same_builds.cohorts["r"], old_colour="blue",
        new_colour="green", rollout_started_at=half, step_started_at=half, now=whole))
    assert verdict.verdict is Verdict.PASS, verdict
    assert "latency Pass" in verdict.reason and "error-rate Pass" in verdict.reason
    assert (verdict.metric, verdict.observed) == ("score", 100.0)
