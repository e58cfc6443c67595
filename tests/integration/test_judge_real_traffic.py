"""The statistical judge on what tenants really got: real requests, real code, real latency.

One fleet runs the example app's real zips behind the local data plane in two cohorts:
blue 1.4.2, green 1.5.0, in ``slow`` built with a defect that makes ``/`` wait 200 ms
first, in ``same`` built as it is. Tenants' requests flow through each cohort's local
listener while ``rollout start --wait`` moves half of them to green, in both cohorts at
once (``same``'s command in a process of its own, as another CI job would run it); the
judge reads the one-second ALB metrics that data plane publishes, nothing fabricated,
and decides the step.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from rollout.gates.base import GateContext, Verdict
from rollout.gates.load import load_gate
from rollout.local.traffic import Tally, traffic_meanwhile
from rollout.rollouts.ledger import Ledger
from tests.app_fleet import app_listener, deploy_app_fleet, seed_settings
from tests.cli_runner import Finished, app_options, rollout, rollout_output
from tests.conftest import Fleet, listener_weights
from tests.forked_cli import run_forked
from tests.releases import EXAMPLE_NOTES
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

COHORTS = {"slow": ["aurora", "birch"], "same": ["cedar", "dune"]}
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
WATCH_EVERY = 0.2
"""How often the listeners read their rules: steps here last seconds."""


@dataclass
class Driven:
    """The fleet, and what each cohort's ``rollout start`` and its tenants got."""

    fleet: Fleet
    tallies: dict[str, Tally]
    finished: dict[str, Finished] = field(default_factory=dict)
    failed: dict[str, BaseException] = field(default_factory=dict)

    def started(self, cohort: str) -> Finished:
        """What the cohort's ``rollout start`` gave (what stopped its thread is raised)."""
        if cohort in self.failed:
            raise self.failed[cohort]
        return self.finished[cohort]


def start_args(fleet: Fleet, cohort: str) -> list[str]:
    """Checked every second: after the bake, ten inconclusive checks in a row pause the
    rollout, so a loaded machine has ten seconds more to gather the samples."""
    return ["start", "--cohort", cohort, "--release", "1.5.0", "--wait", "--check-every", "1s",
            "--tenants", str(fleet.project_dir / f"tenants-{cohort}.yaml")]


def start_under_traffic(driven: Driven, cohort: str) -> None:
    """``rollout start --wait`` while the cohort's tenants' requests flow through its
    local listener: ``slow``'s in this process, ``same``'s in one of its own."""
    fleet, tally = driven.fleet, driven.tallies[cohort]
    resources = fleet.cohorts[cohort]
    try:
        with app_listener(fleet, resources, every=WATCH_EVERY) as url, traffic_meanwhile(
                url, resources.tenants, rps=RPS, duration=MAX_SECONDS, tally=tally):
            if cohort == "slow":
                driven.finished[cohort] = rollout_output(*start_args(fleet, cohort), fleet=fleet)
            else:
                done = run_forked([*app_options(fleet), *start_args(fleet, cohort)],
                                  fleet.env())
                driven.finished[cohort] = Finished(done.returncode, done.stdout, done.stderr)
    except BaseException as failed:  # the test that reads it raises it
        driven.failed[cohort] = failed


@pytest.fixture(scope="module")
def driven(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Driven:
    """Both cohorts rolled out at once, release 1.5.0 announced first."""
    fleet = deploy_app_fleet(tmp_path_factory.mktemp("judge"), COHORTS,
                             {"blue": "1.4.2", "green": "1.5.0"},
                             cohort_defects={"slow": {"green": SLOW_HOME}})
    for cohort in COHORTS:
        seed_settings(fleet, cohort, {"blue": "light"})
    (fleet.project_dir / "judged-steps.yaml").write_text(json.dumps(STEPS))
    for cohort, tenants in COHORTS.items():  # a file each: slow's rollback halts no other
        written = write_tenants(fleet.project_dir / f"tenants-{cohort}.yaml",
                                [cohort_entry(cohort, "file:judged-steps.yaml", duration="5m")],
                                [tenant_entry(t, cohort) for t in tenants])
        assert rollout("notify", "--release", "1.5.0", "--tenants", str(written),
                       "--notes", str(EXAMPLE_NOTES), "--json", fleet=fleet) == 0
    driven = Driven(fleet, {cohort: Tally() for cohort in COHORTS})
    threads = [threading.Thread(target=start_under_traffic, args=(driven, cohort),
                                name=f"start-{cohort}") for cohort in COHORTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * MAX_SECONDS)
    return driven


def step_times(fleet: Fleet, cohort: str) -> tuple[datetime, datetime]:
    """When the rollout of ``cohort`` went to 50%, and when it went on to 100%: the
    window its judge passed before the step could advance."""
    steps = [event.at for event in Ledger(fleet.clients, fleet.shared.ledger_table).events(
        cohort) if event.kind == "step"]
    assert len(steps) == 2, steps
    return steps[0], steps[1]


def test_a_build_200ms_slower_fails_the_judge_on_latency_and_traffic_goes_back(
        driven: Driven) -> None:
    started, tally = driven.started("slow"), driven.tallies["slow"]

    assert started.code == 1, started.stderr
    assert "gate judge" in started.stderr, started.stderr
    assert "critical metric latency is High" in started.stderr, started.stderr
    assert "error-rate Pass" in started.stderr, "slower, not failing: its errors are judged alike"
    assert listener_weights(driven.fleet.cohorts["slow"]) == {"blue": 100, "green": 0}
    assert tally.per_colour["green"] > 0 and tally.per_colour["blue"] > 0
    assert tally.failed == 0 and set(tally.statuses) == {"200"}


def test_two_identical_builds_pass_the_judge_and_the_new_colour_goes_live(
        driven: Driven) -> None:
    fleet, started, tally = driven.fleet, driven.started("same"), driven.tallies["same"]

    assert started.code == 0, started.stderr
    assert listener_weights(fleet.cohorts["same"]) == {"blue": 0, "green": 100}
    assert tally.per_colour["green"] > 0 and tally.per_colour["blue"] > 0
    assert tally.failed == 0 and set(tally.statuses) == {"200"}
    half, whole = step_times(fleet, "same")
    verdict = load_gate(JUDGE).check(GateContext(
        clients=fleet.clients, cohort=fleet.cohorts["same"], old_colour="blue",
        new_colour="green", rollout_started_at=half, step_started_at=half, now=whole))
    assert verdict.verdict is Verdict.PASS, verdict
    assert "latency Pass" in verdict.reason and "error-rate Pass" in verdict.reason
    assert (verdict.metric, verdict.observed) == ("score", 100.0)
