"""``rollout report --html`` after real rollouts on a moto server, checked in headless Chromium.

One cohort promotes, the other rolls back when its CloudWatch alarm fires mid-rollout;
the page must then load offline without errors and chart one series per cohort. Under
it, each cohort's requests per colour per second, as CloudWatch holds them: one-second
datapoints published for wave1's rollout come back on the page and in ``--json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import ClientError

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.gates.cloudwatch_stats import ERRORS_5XX, NAMESPACE, REQUESTS, elb_dimensions
from rollout.rollouts.ledger import Ledger
from rollout.vocabulary.colours import Colour
from tests.alarms import firing, put_5xx_alarm
from tests.chromium_page import chromium_page, require_chromium
from tests.cli_runner import rollout, rollout_output
from tests.conftest import Fleet, deploy_fleet
from tests.faults.client_hooks import client_hook
from tests.releases import short_notes_yaml
from tests.tenant_files import cohort_entry, tenant_entry, tenants_yaml

pytestmark = pytest.mark.integration

SECRET = "pa55-report-never-shows"


def report_tenants_yaml(alarm: str) -> str:
    """Both cohorts gated on ``alarm``; ember opted out, so it stays on 1.4.2."""
    return tenants_yaml([
        cohort_entry("canary", "canary:25:1s", alarm=alarm),
        cohort_entry("wave1", "linear:25:30s", alarm=alarm),
    ], [
        *(tenant_entry(name, "canary") for name in ("aurora", "birch")),
        *(tenant_entry(name, "wave1") for name in ("cedar", "dune")),
        tenant_entry("ember", "wave1", opted_out="quarter-end freeze"),
    ])


@dataclass
class RolledOut:
    """A fleet after canary promoted 1.5.0 and wave1 rolled it back."""

    fleet: Fleet
    files: Path


@pytest.fixture(scope="module")
def rolled_out(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> RolledOut:
    base = tmp_path_factory.mktemp("report")
    fleet = deploy_fleet(base, {"canary": ["aurora", "birch"],
                                "wave1": ["cedar", "dune", "ember"]},
                         versions={"blue": "1.4.2", "green": "1.5.0"})
    cloudwatch = boto3.client("cloudwatch")
    alarm = put_5xx_alarm(cloudwatch, f"{fleet.app}-5xx")
    for cohort, tenant in (("canary", "aurora"), ("wave1", "cedar")):
        resources = fleet.cohorts[cohort]
        boto3.client("ssm").put_parameter(
            Name=f"{resources.colour_prefix('blue')}/{tenant}/db/password", Value=SECRET,
            Type="SecureString", KeyId=resources.kms_key_arn or "alias/aws/ssm")
    files = base / "files"
    files.mkdir()
    (files / "tenants.yaml").write_text(report_tenants_yaml(alarm))
    (files / "release.yaml").write_text(short_notes_yaml("1.5.0"))
    done = RolledOut(fleet, files)
    tenants = str(files / "tenants.yaml")
    assert rollout("notify", "--release", "1.5.0", "--tenants", tenants,
                   "--notes", str(files / "release.yaml"), "--json", fleet=fleet) == 0
    assert rollout("start", "--cohort", "canary", "--release", "1.5.0", "--tenants", tenants,
                   "--strategy", "canary:25:1s", "--wait", "--check-every", "1s",
                   "--json", fleet=fleet) == 0
    assert rollout("start", "--cohort", "wave1", "--release", "1.5.0", "--tenants", tenants,
                   "--json", fleet=fleet) == 0
    with firing(cloudwatch, alarm, "5xx spike on green"):
        assert rollout("step", "--cohort", "wave1", "--tenants", tenants, "--json",
                       fleet=fleet) == 0
    return done


@dataclass
class Written:
    """``rollout report --html --json`` run once for the module: the page and what it printed."""

    page: Path
    summary: dict[str, Any]
    printed: str


@pytest.fixture(scope="module")
def written(rolled_out: RolledOut, tmp_path_factory: pytest.TempPathFactory) -> Written:
    target = tmp_path_factory.mktemp("written") / "report.html"
    done = rollout_output("report", "--html", str(target), "--json", fleet=rolled_out.fleet)
    assert done.code == 0
    return Written(target, json.loads(done.stdout), done.stdout + done.stderr)


def test_report_writes_the_page_and_summarises_the_fleet(
        rolled_out: RolledOut, written: Written) -> None:
    summary = written.summary
    assert summary["path"] == str(written.page.resolve())
    statuses = {c["cohort"]: (c["status"], c["weights"], c["rollbacks"])
                for c in summary["cohorts"]}
    assert statuses == {"canary": ("promoted", {"blue": 0, "green": 100}, 0),
                        "wave1": ("rolled_back", {"blue": 100, "green": 0}, 1)}
    assert summary["pinned"] == ["ember"]
    assert summary["tenants"] == 5
    page = written.page.read_text(encoding="utf-8")
    assert f"{rolled_out.fleet.app}-5xx" in page
    assert page.count('<tr data-tenant="') == 5
    assert "config copy blue → green: 1 settings" in page
    assert SECRET not in page + written.printed


def test_report_for_one_cohort_and_human_output(
        rolled_out: RolledOut, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    target = tmp_path / "canary.html"
    assert rollout("report", "--html", str(target), "--cohort", "canary",
                   fleet=rolled_out.fleet) == 0
    out = capsys.readouterr().out
    assert f"report written to {target.resolve()}" in out.replace("\n", "")
    assert "canary: promoted 1.5.0" in out
    page = target.read_text(encoding="utf-8")
    assert page.count("data-series=") == 1
    assert "wave1" not in page


def test_report_refuses_bad_input_with_exit_2_and_writes_nothing(
        rolled_out: RolledOut, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing_dir = tmp_path / "nowhere" / "report.html"
    assert rollout("report", "--html", str(missing_dir), fleet=rolled_out.fleet) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not missing_dir.parent.exists()
    target = tmp_path / "report.html"
    assert rollout("report", "--html", str(target), "--cohort", "nosuch",
                   fleet=rolled_out.fleet) == 2
    assert "unknown cohort 'nosuch'" in capsys.readouterr().err.replace("\n", " ")
    assert not target.exists()


def test_report_loads_offline_in_headless_chromium(
        written: Written, capsys: pytest.CaptureFixture[str]) -> None:
    browser = require_chromium()
    target = written.page
    with chromium_page(browser) as page:
        url = page.open(target)
        series = page.evaluate(
            "[...document.querySelectorAll('svg.chart [data-series]')]"
            ".map(g => [g.dataset.series, g.querySelector('path.line').getBBox().width])")
        markers = page.evaluate(
            "Object.fromEntries(['canary', 'wave1'].map(c => [c, [...document.querySelectorAll("
            "`[data-series=\"${c}\"] [data-marker]`)].map(m => m.dataset.marker)]))")
        tenants = page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('tr[data-tenant]')].map(r => "
            "[r.dataset.tenant, [...r.cells].map(c => c.textContent.trim())]))")
        chart_height = page.evaluate(
            "document.querySelector('svg.chart').getBoundingClientRect().height")
        screenshot = page.screenshot(target.with_suffix(".png"))
    with capsys.disabled():
        print(f"\nreport screenshot: {screenshot}")

    assert page.record.console_errors == []
    assert page.record.requests == [url]
    assert [name for name, _ in series] == ["canary", "wave1"]
    assert all(width > 0 for _, width in series)
    assert chart_height > 200
    assert "promoted" in markers["canary"]
    assert markers["wave1"].count("rolled_back") == 1
    assert tenants["aurora"][2] == "1.5.0"
    assert tenants["ember"][2] == "1.4.2"
    assert tenants["ember"][3].startswith("blue")
    assert "quarter-end freeze" in tenants["ember"][3]
    assert tenants["cedar"][4].endswith("via sns")
    assert screenshot.stat().st_size > 10_000


SERVED = {"blue": (90, 75, 60), "green": (0, 25, 40)}
"""Requests per second on wave1's colours from its ``started`` second on; green's last
second answers 12 of them with a target 5xx."""
GREEN_5XX = 12


def publish_served(clients: AwsClients, cohort: CohortResources, start: datetime) -> None:
    """One-second datapoints, as the local data plane publishes them (StorageResolution=1)."""
    data: list[dict[str, Any]] = []
    for colour, counts in SERVED.items():
        dimensions = elb_dimensions(cohort, cast(Colour, colour))
        for offset, count in enumerate(counts):
            if count:
                data.append({"MetricName": REQUESTS, "Dimensions": dimensions,
                             "Timestamp": start + timedelta(seconds=offset),
                             "Value": float(count), "Unit": "Count", "StorageResolution": 1})
    data.append({"MetricName": ERRORS_5XX, "Dimensions": elb_dimensions(cohort, "green"),
                 "Timestamp": start + timedelta(seconds=2), "Value": float(GREEN_5XX),
                 "Unit": "Count", "StorageResolution": 1})
    clients.for_region(cohort.region).client("cloudwatch").put_metric_data(
        Namespace=NAMESPACE, MetricData=data)


@dataclass
class Served:
    """wave1's requests published for its rollout, then ``rollout report --json`` run."""

    start: datetime
    page: str
    summary: dict[str, Any]


@pytest.fixture(scope="module")
def served(rolled_out: RolledOut, tmp_path_factory: pytest.TempPathFactory) -> Served:
    fleet = rolled_out.fleet
    shared = fleet.shared
    events = Ledger(fleet.clients.for_region(shared.shared_region),
                    shared.ledger_table).events("wave1")
    started = max(e.at for e in events if e.kind == "started").replace(microsecond=0)
    publish_served(fleet.clients, fleet.cohorts["wave1"], started)
    target = tmp_path_factory.mktemp("served") / "report.html"
    done = rollout_output("report", "--html", str(target), "--json", fleet=fleet)
    assert done.code == 0, done.stderr
    return Served(started, target.read_text(encoding="utf-8"), json.loads(done.stdout))


def test_report_charts_the_requests_each_colour_served_per_second(served: Served) -> None:
    chart = served.page.split('data-served="wave1"')[1].split("</figure>")[0]
    for colour, counts in SERVED.items():
        for offset, count in enumerate(counts):
            second = (served.start + timedelta(seconds=offset)).strftime("%H:%M:%S")
            assert (f"<title>{second} {colour}: {count} requests</title>" in chart) == (count > 0)
    last = (served.start + timedelta(seconds=2)).strftime("%H:%M:%S")
    assert f"<title>{last} green: {GREEN_5XX} 5xx responses</title>" in chart
    assert "requests per second" in chart
    boundaries = re.findall(r'data-boundary="(\w+)"', chart)
    assert boundaries[0] == "started" and "step" in boundaries
    assert boundaries[-1] == "rolled_back"
    assert re.search(r'data-verdict="fail"[^>]*><title>[^<]*gate alarm failed', chart)
    canary = served.page.split('data-served="canary"')[1].split("</figure>")[0]
    assert "no traffic recorded" in canary


def test_report_json_totals_the_requests_each_colour_served(served: Served) -> None:
    cohorts = {c["cohort"]: c for c in served.summary["cohorts"]}
    assert cohorts["wave1"]["served"] == {
        "period_seconds": 1, "requests": {"blue": 225, "green": 65},
        "errors_5xx": {"blue": 0, "green": GREEN_5XX}}
    assert cohorts["canary"]["served"]["requests"] == {"blue": 0, "green": 0}
    assert cohorts["wave1"]["served_error"] is None


def test_report_without_cloudwatch_says_so_and_still_writes_the_page(
        rolled_out: RolledOut, tmp_path: Path) -> None:
    def deny(client: Any) -> None:
        client.meta.events.register("before-call.cloudwatch.GetMetricStatistics", _denied,
                                    unique_id="tests-report-cloudwatch-denied")

    target = tmp_path / "report.html"
    with client_hook(deny):
        done = rollout_output("report", "--html", str(target), "--cohort", "wave1", "--json",
                              fleet=rolled_out.fleet)
    assert done.code == 0, done.stderr
    wave1 = json.loads(done.stdout)["cohorts"][0]
    assert wave1["served"] is None
    assert "AccessDenied" in wave1["served_error"]
    page = target.read_text(encoding="utf-8")
    assert "traffic not available: " in page and "AccessDenied" in page
    assert page.count("data-series=") == 1


def _denied(**_: Any) -> None:
    raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorised to "
                                 "perform cloudwatch:GetMetricStatistics"}},
                      "GetMetricStatistics")
