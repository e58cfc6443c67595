"""The rollout executor against a moto server: real listener weights, real ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.alarms import firing, put_5xx_alarm
from tests.cli_runner import address, rollout
from tests.conftest import Fleet, deploy_fleet, listener_weights
from tests.releases import EXAMPLE_NOTES
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants


def tenants_file(path: Path, alarm: str) -> Path:
    """Three cohorts; gale (wave2) opted out, so it must stay on the old version."""
    return write_tenants(path, [
        cohort_entry("canary", "linear:25:1s", alarm=alarm),
        cohort_entry("wave1", "linear:25:1s", alarm=alarm),
        cohort_entry("wave2", "canary:50:1s"),
    ], [
        *(tenant_entry(name, "canary") for name in ("aurora", "birch")),
        *(tenant_entry(name, "wave1") for name in ("cedar", "dune", "ember")),
        tenant_entry("fern", "wave2"), tenant_entry("gale", "wave2", opted_out="month-end close"),
    ])


@pytest.fixture(scope="module")
def rollout_fleet(moto_endpoint: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    fleet = deploy_fleet(tmp_path_factory.mktemp("engine"), {
        "canary": ["aurora", "birch"], "wave1": ["cedar", "dune", "ember"],
        "wave2": ["fern", "gale"]},
        versions={"blue": "1.4.2", "green": "1.5.0"})
    put_5xx_alarm(boto3.client("cloudwatch"), f"{fleet.app}-5xx")
    with pytest.MonkeyPatch.context() as patch:
        address(patch, fleet)
        yield fleet


def notify(tenants: Path) -> None:
    """Tell every tenant about 1.5.0 (a zero-day notice period lets the rollout start now)."""
    assert rollout("notify", "--release", "1.5.0", "--tenants", str(tenants), "--notes",
                   str(EXAMPLE_NOTES), "--json") == 0


def test_weights_move_through_every_step_and_promote(
        rollout_fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tenants = tenants_file(tmp_path / "tenants.yaml", f"{rollout_fleet.app}-5xx")
    notify(tenants)
    capsys.readouterr()
    cohort = rollout_fleet.cohorts["canary"]
    seen: list[dict[str, int]] = []
    from rollout.rollouts.executor import CohortRollout

    original = CohortRollout._route

    def spy(self: CohortRollout, weights: dict[str, int]) -> None:  # type: ignore[type-arg]
        original(self, weights)  # type: ignore[arg-type]
        seen.append(listener_weights(cohort))

    CohortRollout._route = spy  # type: ignore[method-assign]
    try:
        code = rollout("start", "--cohort", "canary", "--release", "1.5.0", "--strategy",
                       "linear:25:1s", "--tenants", str(tenants), "--wait", "--check-every",
                       "0.2s", "--json")
    finally:
        CohortRollout._route = original  # type: ignore[method-assign]
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert [w["green"] for w in seen] == [25, 50, 75, 100]
    assert listener_weights(cohort) == {"blue": 0, "green": 100}
    assert out["status"] == "promoted"
    assert out["last_known_good"] == "1.5.0"


def test_a_stage_promotion_waits_until_the_source_cohort_has_baked(
        rollout_fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tenants = tenants_file(tmp_path / "tenants.yaml", f"{rollout_fleet.app}-5xx")
    capsys.readouterr()
    code = rollout("promote", "--from", "canary", "--to", "wave1", "--release", "1.5.0",
                   "--tenants", str(tenants), "--json")
    assert code == 3
    assert "bake" in json.loads(capsys.readouterr().out)["error"]
    code = rollout("promote", "--from", "wave1", "--to", "wave2", "--release", "1.5.0",
                   "--tenants", str(tenants), "--json")
    assert code == 3
    assert "wave1" in json.loads(capsys.readouterr().out)["error"]


def test_alarm_mid_bake_rolls_back_in_one_write_and_keeps_tenant_edits(
        rollout_fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alarm = f"{rollout_fleet.app}-5xx"
    tenants = tenants_file(tmp_path / "tenants.yaml", alarm)
    notify(tenants)
    capsys.readouterr()
    cohort = rollout_fleet.cohorts["wave1"]
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=f"{cohort.colour_prefix('blue')}/cedar/theme", Value="light",
                      Type="String")
    assert rollout("start", "--cohort", "wave1", "--release", "1.5.0", "--strategy",
                   "linear:25:30s", "--tenants", str(tenants), "--json") == 0
    capsys.readouterr()
    assert listener_weights(cohort) == {"blue": 75, "green": 25}
    green_theme = f"{cohort.colour_prefix('green')}/cedar/theme"
    assert ssm.get_parameter(Name=green_theme)["Parameter"]["Value"] == "light"
    ssm.put_parameter(Name=green_theme, Value="midnight", Type="String", Overwrite=True)
    with firing(boto3.client("cloudwatch"), alarm, "5xx spike on green"):
        code = rollout("step", "--cohort", "wave1", "--tenants", str(tenants), "--json")
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert listener_weights(cohort) == {"blue": 100, "green": 0}
    assert out["status"] == "rolled_back"
    assert alarm in out["reason"]
    blue_theme = ssm.get_parameter(Name=f"{cohort.colour_prefix('blue')}/cedar/theme")
    assert blue_theme["Parameter"]["Value"] == "midnight"  # the edit made on green survived
    assert rollout("status", "--cohort", "wave1", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status[0]["status"] == "rolled_back"
    assert alarm in status[0]["reason"]
    assert rollout("status", "--cohort", "wave2", "--json") == 0
    assert [h["release"] for h in json.loads(capsys.readouterr().out)[0]["halts"]] == ["1.5.0"]
    assert rollout("unhalt", "--release", "1.5.0", "--json") == 0  # the later waves may go on
    capsys.readouterr()
    assert rollout("status", "--cohort", "wave2", "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["halts"] == []


def test_an_opted_out_tenant_stays_on_the_old_colour_after_promotion(
        rollout_fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tenants = tenants_file(tmp_path / "tenants.yaml", f"{rollout_fleet.app}-5xx")
    notify(tenants)
    cohort = rollout_fleet.cohorts["wave2"]
    assert rollout("start", "--cohort", "wave2", "--release", "1.5.0", "--tenants", str(tenants),
                   "--wait", "--check-every", "0.2s") == 0
    assert listener_weights(cohort) == {"blue": 0, "green": 100}
    rules = boto3.client("elbv2").describe_rules(ListenerArn=cohort.listener_arn)["Rules"]
    pinned = [r for r in rules if not r["IsDefault"]]
    assert len(pinned) == 1
    hosts = [v for c in pinned[0]["Conditions"] for v in c.get("Values", [])
             + c.get("HostHeaderConfig", {}).get("Values", [])]
    assert f"gale.{rollout_fleet.app}.example" in hosts
    forward = pinned[0]["Actions"][0]["ForwardConfig"]["TargetGroups"]
    assert [(g["TargetGroupArn"], g.get("Weight", 1)) for g in forward if g.get("Weight", 1)] \
        == [(cohort.target_group_arns["blue"], forward[0].get("Weight", 1))]
    capsys.readouterr()
    assert rollout("status", "--cohort", "wave2", "--json") == 0
    status = json.loads(capsys.readouterr().out)[0]
    assert status["tenant_versions"] == {"fern": "1.5.0", "gale": "1.4.2"}
    assert status["pins"] == {"gale": "blue"}
