"""The test route and the lifecycle hooks, on real requests through the local data plane.

Both colours run the example app (blue 1.4.2, green 1.5.0) as local processes. Cohort ``t``
has a smoke test as its ``after_test_traffic`` hook: it sends requests carrying the test
header and token through the cohort's listener (some with the pinned tenant's host), and
some without the token, while the tenants' own traffic flows. Its ``before_allow_traffic``
hook then fails, so no tenant's weight ever moves. Cohort ``h`` has an ``after_allow_traffic``
HTTP callback that answers 500: the first step goes out and comes straight back. Cohort
``d`` has a dry-run gate no real request can pass (a p99 latency under a microsecond): it
fails on what the tenants' requests really took, and the rollout is promoted anyway (``d``
comes first in the fleet's order: ``h``'s rollback halts the release on the later waves).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from rollout.local.traffic import Tally, local_listener, traffic_meanwhile
from rollout.routers.alb import TEST_ROUTE_TAG, AlbRouter
from tests.app_fleet import SECONDS_LONG_STEPS, deploy_app_fleet, seed_settings
from tests.cli_runner import address, rollout, rollout_output
from tests.conftest import Fleet, listener_weights
from tests.fleet_reads import fleet_ledger
from tests.integration.test_colour_capacity import recorded_calls
from tests.releases import EXAMPLE_NOTES
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

PINNED = "aurora"
ROUTE_TENANTS = [PINNED, "birch"]
HOOKED_TENANTS = ["cedar", "dahlia"]
WATCHED_TENANTS = ["elm", "fir"]
WATCHED = "p99 under 1 microsecond"
URL_ENV = "SMOKE_LISTENER_URL"
SMOKE_REQUESTS = 10
SEEN = "seen.json"

SMOKE = '''
import json, os, sys, urllib.request
url, out, hosts = os.environ["SMOKE_LISTENER_URL"], sys.argv[1], sys.argv[2:]
header, token = os.environ["ROLLOUT_TEST_HEADER"], os.environ["ROLLOUT_TEST_TOKEN"]
def colour(host, with_token):
    headers = {"Host": host, **({header: token} if with_token else {})}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
        return r.headers["X-Rollout-Colour"]
seen = {host: {"token": [colour(host, True) for _ in range(COUNT)],
               "plain": [colour(host, False) for _ in range(3)]} for host in hosts}
json.dump({"seen": seen, "token": token}, open(out, "w"))
print("smoke test: every request with the token reached", set(seen[hosts[0]]["token"]))
sys.exit(0 if all(set(s["token"]) == {os.environ["ROLLOUT_NEW_COLOUR"]} for s in seen.values())
         else 1)
'''.replace("COUNT", str(SMOKE_REQUESTS))


class Callback:
    """A loopback HTTP server answering every hook POST with ``status``; keeps the bodies."""

    def __init__(self, status: int) -> None:
        bodies: list[dict[str, Any]] = []
        self.bodies = bodies

        class Answer(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        self.url = f"http://127.0.0.1:{self.server.server_port}/rollout-hook?key=not-shown"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def callback() -> Iterator[Callback]:
    answering = Callback(500)
    yield answering
    answering.server.shutdown()


@pytest.fixture(scope="module")
def hooked_fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory,
                 callback: Callback) -> Iterator[Fleet]:
    fleet = deploy_app_fleet(tmp_path_factory.mktemp("test-route"),
                             {"t": ROUTE_TENANTS, "h": HOOKED_TENANTS, "d": WATCHED_TENANTS},
                             {"blue": "1.4.2", "green": "1.5.0"})
    for cohort in ("t", "h", "d"):
        seed_settings(fleet, cohort, {"blue": "light", "green": "light"})
    smoke = fleet.project_dir / "smoke.py"
    smoke.write_text(SMOKE)
    hosts = " ".join(str(t.host) for t in fleet.cohorts["t"].tenants)
    route_hooks = {
        "after_test_traffic": [{"name": "smoke", "env": [URL_ENV], "timeout": "30s",
                                "command": f"{sys.executable} {smoke} {fleet.project_dir / SEEN} "
                                           f"{hosts}"}],
        "before_allow_traffic": [{"name": "change-board",
                                  "command": f"{sys.executable} -c 'raise SystemExit(4)'"}]}
    tenants = write_tenants(
        fleet.project_dir / "tenants.yaml",
        [cohort_entry("d", "linear:50:3s", gates=[
            {"kind": "metric", "metric": "latency-p99", "max": 0.001, "min_samples": 20,
             "window": "3s", "name": WATCHED, "dry_run": True}]),
         cohort_entry("t", "linear:50:1s", hooks=route_hooks),
         cohort_entry("h", "linear:50:30s", hooks={"after_allow_traffic": [
             {"name": "qa-signoff", "url": callback.url, "timeout": "5s"}]}),
],
        [tenant_entry(PINNED, "t", opted_out="quarter-end close"), tenant_entry("birch", "t"),
         *(tenant_entry(t, "h") for t in HOOKED_TENANTS),
         *(tenant_entry(t, "d") for t in WATCHED_TENANTS)])
    with pytest.MonkeyPatch.context() as patch:
        address(patch, fleet, tenants)
        assert rollout("notify", "--release", "1.5.0", "--tenants", str(tenants),
                       "--notes", str(EXAMPLE_NOTES), "--json") == 0
        yield fleet


def _test_rules(fleet: Fleet, cohort: str) -> list[dict[str, Any]]:
    elbv2 = boto3.client("elbv2")
    rules = [r for r in elbv2.describe_rules(ListenerArn=fleet.cohorts[cohort].listener_arn)[
        "Rules"] if not r["IsDefault"]]
    if not rules:
        return []
    tags = elbv2.describe_tags(ResourceArns=[r["RuleArn"] for r in rules])["TagDescriptions"]
    tagged = {t["ResourceArn"] for t in tags if any(k["Key"] == TEST_ROUTE_TAG
                                                     for k in t["Tags"])}
    return [rule for rule in rules if rule["RuleArn"] in tagged]


def _events(fleet: Fleet, cohort: str) -> list[dict[str, Any]]:
    return [event.model_dump(mode="json") for event in fleet_ledger(fleet).events(cohort)]


def test_test_route_requests_reach_the_idle_colour_and_no_tenant_request_does(
        hooked_fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    """...ahead of the pinned tenant's rule; then a failing before_allow_traffic hook stops
    the rollout with exit 3, the weights untouched and the test route gone."""
    cohort = hooked_fleet.cohorts["t"]
    tally = Tally()
    with local_listener(hooked_fleet.clients, cohort, every=SECONDS_LONG_STEPS) as url, \
            traffic_meanwhile(url, cohort.tenants, rps=30, duration=30, tally=tally):
        monkeypatch.setenv(URL_ENV, url)
        started = rollout_output("start", "--cohort", "t", "--release", "1.5.0", "--wait",
                                 "--check-every", "0.2s")

    assert started.code == 3, started.stderr
    assert "hook before_allow_traffic change-board failed" in started.stderr
    seen = json.loads((hooked_fleet.project_dir / SEEN).read_text())
    for host, colours in seen["seen"].items():
        assert colours["token"] == ["green"] * SMOKE_REQUESTS, host
        assert set(colours["plain"]) == {"blue"}, host
    assert tally.per_colour.get("green", 0) == 0 and tally.per_colour["blue"] > 0, tally
    assert listener_weights(cohort) == {"blue": 100, "green": 0}
    assert _test_rules(hooked_fleet, "t") == []
    assert AlbRouter(hooked_fleet.clients, cohort).pins() == {PINNED: "blue"}

    events = _events(hooked_fleet, "t")
    kinds = [event["kind"] for event in events]
    assert kinds.index("test_route") < kinds.index("hook") < kinds.index("aborted")
    hooks = [(e["data"]["stage"], e["data"]["passed"]) for e in events if e["kind"] == "hook"]
    assert hooks == [("after_test_traffic", True), ("before_allow_traffic", False)]
    token = seen["token"]
    assert token not in started.stdout + started.stderr
    assert token not in json.dumps(events)


def test_a_failing_after_allow_traffic_hook_rolls_back_in_one_write(
        hooked_fleet: Fleet, callback: Callback, tmp_path: Path) -> None:
    cohort = hooked_fleet.cohorts["h"]
    tally = Tally()
    with local_listener(hooked_fleet.clients, cohort, every=SECONDS_LONG_STEPS) as url, \
            traffic_meanwhile(url, cohort.tenants, rps=30, duration=30, tally=tally), \
            recorded_calls() as calls:
        started = rollout_output("start", "--cohort", "h", "--release", "1.5.0", "--wait",
                                 "--check-every", "0.2s")

    assert started.code == 1, started.stderr
    assert "hook after_allow_traffic qa-signoff failed" in started.stderr
    writes = [params for _, operation, params in calls if operation == "ModifyListener"]
    assert len(writes) == 2, "step 1, then the rollback in one write"
    assert listener_weights(cohort) == {"blue": 100, "green": 0}
    assert _test_rules(hooked_fleet, "h") == []
    (body,) = callback.bodies
    assert (body["stage"], body["cohort"], body["new_colour"]) == (
        "after_allow_traffic", "h", "green")
    assert "not-shown" not in started.stdout + started.stderr
    kinds = [event["kind"] for event in _events(hooked_fleet, "h")]
    assert kinds.index("step") < kinds.index("hook") < kinds.index("rolled_back")
    page = tmp_path / "report.html"
    assert rollout_output("report", "--html", str(page)).code == 0
    assert "hook after_allow_traffic qa-signoff failed" in page.read_text()


def test_a_dry_run_gate_failing_on_real_requests_never_blocks_and_shows_in_the_report(
        hooked_fleet: Fleet, tmp_path: Path) -> None:
    cohort = hooked_fleet.cohorts["d"]
    tally = Tally()
    with local_listener(hooked_fleet.clients, cohort, every=SECONDS_LONG_STEPS) as url, \
            traffic_meanwhile(url, cohort.tenants, rps=40, duration=30, tally=tally):
        started = rollout_output("start", "--cohort", "d", "--release", "1.5.0", "--wait",
                                 "--check-every", "0.2s", "--json")

    assert started.code == 0, started.stderr
    assert json.loads(started.stdout)["status"] == "promoted"
    assert listener_weights(cohort) == {"blue": 0, "green": 100}
    assert tally.per_colour["green"] > 0 and tally.failed == 0
    dry = [e for e in fleet_ledger(hooked_fleet).events("d") if e.kind == "dry_run"]
    assert dry and dry[0].message.startswith(f"dry-run gate {WATCHED} would have rolled back")
    assert dry[0].data["gate"]["observed"] > 0.001, "what real requests took, in ms"
    page = tmp_path / "report.html"
    assert rollout_output("report", "--html", str(page)).code == 0
    assert f"{WATCHED} (dry run: not obeyed)" in page.read_text()
