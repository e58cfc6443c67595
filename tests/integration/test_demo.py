"""``rollout demo --json``: the whole story ends with the fleet a new user is promised."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from rollout.local.app_bundle import build_app_zip

REPO = Path(__file__).resolve().parents[2]


def test_the_demo_ends_with_a_mixed_fleet_and_a_rolled_back_cohort(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ROLLOUT_", "AWS_ENDPOINT_URL"))}
    done = subprocess.run(
        [sys.executable, "-m", "rollout.cli", "--project-dir", str(REPO), "demo", "--json",
         "--report", str(report)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    fleet = json.loads(done.stdout)

    versions = fleet["tenant_versions"]
    upgraded = ("acme-internal", "cobalt-bank", "delta-retail", "fjord-shipping")
    assert {t: versions[t] for t in upgraded} == dict.fromkeys(upgraded, "1.5.0")
    # the busy-season tenant and the opted-out tenant of a promoted cohort stayed behind,
    # and so did birch-labs, which chose its Sunday window from the link in its notice
    assert versions["garnet-tax"] == versions["ember-health"] == versions["birch-labs"] == \
        "1.4.2"
    assert fleet["pinned"]["garnet-tax"] == fleet["pinned"]["ember-health"] == "blue"
    assert fleet["pinned"]["birch-labs"] == "blue"

    # the failing cohort is back at 100% on its old colour, every tenant on the old version
    wave2 = fleet["cohorts"]["wave2"]
    assert wave2["status"] == "rolled_back"
    assert wave2["weights"] == {"blue": 100, "green": 0}
    assert {versions[t] for t in ("harbor-media", "iris-edu", "juniper-games")} == {"1.4.1"}
    assert "sla" in fleet["rolled_back"]["wave2"]
    assert fleet["cohorts"]["canary"]["status"] == "promoted"
    assert fleet["cohorts"]["canary"]["weights"] == {"blue": 0, "green": 100}
    # on-call's fleet-wide halt refused wave1's start; once lifted, wave1 went on
    assert list(fleet["refused_while_halted"]) == ["wave1"]
    assert "halted by on-call" in fleet["refused_while_halted"]["wave1"]
    assert fleet["cohorts"]["wave1"]["status"] == "promoted"
    # the fleet walk would stop at the rolled-back cohort, for a human to decide
    assert fleet["fleet_start"] == {"canary": "done", "wave1": "done", "wave2": "stopped"}

    # every colour runs a release's zip, as Lambda reports it: the very bytes a build gives
    compute = {name: cohort["compute"] for name, cohort in fleet["cohorts"].items()}
    release = hashlib.sha256(
        build_app_zip("1.5.0", tmp_path / "dist", project_dir=REPO).read_bytes()).hexdigest()
    assert {compute[name]["green"]["sha256"] for name in ("canary", "wave1")} == {release}
    assert compute["wave2"]["green"]["sha256"] != release  # its broken build of 1.5.0
    assert compute["canary"]["green"]["function"] == "acme-canary-green:2"
    assert compute["wave2"]["blue"]["version"] == "1.4.1"
    assert compute["wave2"]["blue"]["sha256"] != release
    assert all(code["object_version"] for colours in compute.values()
               for code in colours.values())

    # real requests flowed while every cohort rolled out: what tenants got
    traffic = fleet["traffic"]
    wave1 = traffic["wave1"]
    assert wave1["strays"] == {"ember-health": 0, "garnet-tax": 0}
    assert set(wave1["per_tenant"]["ember-health"]) == {"blue"}
    assert set(wave1["per_tenant"]["garnet-tax"]) == {"blue"}
    assert {"blue", "green"} <= set(wave1["per_tenant"]["delta-retail"])
    assert traffic["canary"]["same_settings"] == ["acme-internal", "cobalt-bank"]
    assert traffic["canary"]["strays"] == {"birch-labs": 0}
    for name in ("canary", "wave1"):
        last = traffic[name]["steps"][-1]
        assert last["weight"] == 100 and last["requests"] > 0 and last["percent"] >= 90
    # canary's smoke test passed through the test route (else canary would be aborted),
    # and while only that route led to green no tenant request reached it
    for name in ("canary", "wave1", "wave2"):
        before = traffic[name]["while_test_route"]
        assert before["requests"] > 0 and before["percent"] == 0.0, (name, before)
    # wave2's defect failed real requests; the rollback stopped green from serving
    failing = traffic["wave2"]
    assert [step["weight"] for step in failing["steps"]] == [25]
    assert failing["first_failure_to_write_ms"] is not None
    assert failing["served_after_applied"] == 0

    page = report.read_text()
    assert "wave2" in page and "<svg" in page
    assert fleet["seconds"] < 90
