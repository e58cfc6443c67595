"""Promises the README makes, through the command line: freezes hold, pins show, text is text.

* No traffic moves forward during a company freeze: ``start`` refuses before writing
  anything, a running rollout that reaches a freeze pauses, and only an explicit
  ``--override-freeze REASON`` (recorded in the ledger) breaks one.
* ``rollout status`` names each pinned tenant with its colour and version.
* A reason holding rich markup (a security command printing ``[/]``) prints as text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from rollout.rollouts.executor import load_state
from rollout.rollouts.state import Status
from tests.conftest import listener_weights
from tests.faults.conftest import SharedApp
from tests.faults.scenario import Scenario
from tests.tenant_files import cohort_entry, tenant_entry

pytestmark = pytest.mark.integration

TENANTS = ["fjord", "fennel"]


@pytest.fixture(scope="module")
def scenario(shared_app: SharedApp) -> Scenario:
    return shared_app.scenario("promise", TENANTS, marker="promise")


def with_freeze_on_now(scenario: Scenario, strategy: str) -> None:
    """The tenants file, with a company freeze that covers today."""
    today = datetime.now(UTC).date()
    first, last = today - timedelta(days=1), today + timedelta(days=10)
    scenario.write_tenants(strategy=strategy, freezes=[
        {"name": "winter-freeze", "from": f"{first:%m-%d}", "to": f"{last:%m-%d}"}])


def error_of(out: str) -> str:
    return str(json.loads(out)["error"])


def test_start_during_a_company_freeze_is_refused_before_anything_is_written(
        fresh: Scenario) -> None:
    scenario = fresh
    with_freeze_on_now(scenario, "canary:50:0.1s")
    before = load_state(scenario.ledger, scenario.cohort)
    refused = scenario.run_here(scenario.start_args(wait=False))
    assert refused.code == 3, refused.stdout
    assert "company freeze winter-freeze" in error_of(refused.stdout)
    assert "until" in error_of(refused.stdout)
    assert listener_weights(scenario.resources) == {"blue": 100, "green": 0}
    after = load_state(scenario.ledger, scenario.cohort)
    assert (after.revision if after else 0) == (before.revision if before else 0)

    overridden = scenario.run_here([*scenario.start_args(wait=False),
                                    "--override-freeze", "security fix CVE-1"])
    assert overridden.code == 0, overridden.stdout + overridden.stderr
    assert listener_weights(scenario.resources) == {"blue": 50, "green": 50}
    started = [e for e in scenario.ledger.events(scenario.cohort) if e.kind == "started"][-1]
    assert started.data["freeze_override"] == "security fix CVE-1"


def test_a_running_rollout_that_reaches_a_freeze_pauses_until_an_override(
        fresh: Scenario) -> None:
    scenario = fresh
    started = scenario.run_here(scenario.start_args(strategy="linear:25:0s", wait=False))
    assert started.code == 0, started.stdout + started.stderr
    assert listener_weights(scenario.resources) == {"blue": 75, "green": 25}
    with_freeze_on_now(scenario, "linear:25:0s")

    held = scenario.run_here(scenario.command_args("step"))
    assert held.code == 3, held.stdout
    assert "winter-freeze" in error_of(held.stdout)
    assert listener_weights(scenario.resources) == {"blue": 75, "green": 25}
    state = load_state(scenario.ledger, scenario.cohort)
    assert state is not None and state.status == Status.PAUSED
    for command in ("promote", "step"):
        again = scenario.run_here(scenario.command_args(command))
        assert again.code == 3, again.stdout
        assert listener_weights(scenario.resources) == {"blue": 75, "green": 25}
    resumed = scenario.run_here(scenario.command_args("resume"))
    assert json.loads(resumed.stdout)["status"] == "paused", resumed.stdout
    assert listener_weights(scenario.resources) == {"blue": 75, "green": 25}

    approved = scenario.run_here(scenario.command_args(
        "promote", "--override-freeze", "approved by the CTO"))
    assert approved.code == 0, approved.stdout + approved.stderr
    assert listener_weights(scenario.resources) == {"blue": 0, "green": 100}
    overrides = [e for e in scenario.ledger.events(scenario.cohort) if e.kind == "override"]
    assert [e.data["reason"] for e in overrides] == ["approved by the CTO"]


def test_status_names_every_pin_and_prints_markup_in_reasons_as_text(
        fresh: Scenario) -> None:
    scenario = fresh
    pinned = scenario.run_here(["pin", "--cohort", scenario.cohort, "--tenant", "fjord",
                                "--colour", "blue", "--tenants", str(scenario.tenants_file)])
    assert pinned.code == 0, pinned.stdout + pinned.stderr
    scenario.write_tenants(security_command="sh -c 'echo [/] [link=http://x]boom; exit 1'")
    refused = scenario.run_here(scenario.start_args(wait=False))
    assert refused.code == 3, refused.stdout

    shown = scenario.run_here(["status", "--cohort", scenario.cohort])
    assert shown.code == 0, shown.stdout + shown.stderr
    assert f"{scenario.cohort}: pinned fjord to blue (1.4.2)" in shown.stdout
    assert "[/] [link=http://x]boom" in shown.stdout


def test_a_rollback_names_each_tenant_edit_it_did_not_carry_back(fresh: Scenario) -> None:
    scenario = fresh
    started = scenario.run_here(scenario.start_args(strategy="canary:50:30s", wait=False))
    assert started.code == 0, started.stdout + started.stderr
    ssm = scenario.fleet.clients.client("ssm")
    for colour, value in (("green", "neon"), ("blue", "sepia")):
        ssm.put_parameter(Name=f"{scenario.resources.colour_prefix(colour)}/fjord/theme",
                          Value=value, Type="String", Overwrite=True)

    as_json = scenario.run_here(scenario.command_args("rollback"))
    assert as_json.code == 0, as_json.stdout + as_json.stderr
    [left] = json.loads(as_json.stdout)["config_left_alone"]
    assert (left["tenant"], left["key"]) == ("fjord", "theme")
    assert "changed on both" in left["reason"]

    shown = scenario.run_here(["status", "--cohort", scenario.cohort])
    assert shown.code == 0
    again = scenario.run_here(["rollback", "--cohort", scenario.cohort, "--tenants",
                               str(scenario.tenants_file)])
    assert again.code == 0, again.stdout + again.stderr
    assert "not carried back: tenant fjord: theme (ssm), changed on both" in again.stdout


def test_pin_refuses_a_tenant_of_another_cohort(fresh: Scenario) -> None:
    scenario = fresh
    scenario.write_tenants(
        more_cohorts=[cohort_entry("elsewhere")],
        more_tenants=[tenant_entry("evil-co", "elsewhere", host="evil-co.example")])
    elbv2 = scenario.fleet.clients.client("elbv2")
    before = elbv2.describe_rules(ListenerArn=scenario.resources.listener_arn)["Rules"]
    refused = scenario.run_here(["pin", "--cohort", scenario.cohort, "--tenant", "evil-co",
                                 "--colour", "green", "--tenants", str(scenario.tenants_file),
                                 "--json"])
    assert refused.code == 2, refused.stdout
    assert "not a member of cohort promise" in error_of(refused.stdout)
    after = elbv2.describe_rules(ListenerArn=scenario.resources.listener_arn)["Rules"]
    assert after == before
