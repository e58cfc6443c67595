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
    assert {t: versions[t] for t in ("acme-internal", "birch-labs", "cobalt-bank",
                                     "delta-retail", "fjord-shipping")} == dict.fromkeys(
        ("acme-internal", "birch-labs", "cobalt-bank", "delta-retail", "fjord-shipping"),
        "1.5.0")
    # the busy-season tenant and the opted-out tenant of a promoted cohort stayed behind
    assert versions["garnet-tax"] == "1.4.2"
    assert versions["ember-health"] == "1.4.2"
    assert fleet["pinned"]["garnet-tax"] == fleet["pinned"]["ember-health"] == "blue"

    # the failing cohort is back at 100% on its old colour, every tenant on the old version
    wave2 = fleet["cohorts"]["wave2"]
    assert wave2["status"] == "rolled_back"
    assert wave2["weights"] == {"blue": 100, "green": 0}
    assert {versions[t] for t in ("harbor-media", "iris-edu", "juniper-games")} == {"1.4.1"}
    assert "sla" in fleet["rolled_back"]["wave2"]
    assert fleet["cohorts"]["canary"]["status"] == "promoted"
    assert fleet["cohorts"]["canary"]["weights"] == {"blue": 0, "green": 100}

    # every colour runs a release's zip, as Lambda reports it: the very bytes a build gives
    compute = {name: cohort["compute"] for name, cohort in fleet["cohorts"].items()}
    release = hashlib.sha256(
        build_app_zip("1.5.0", tmp_path / "dist", project_dir=REPO).read_bytes()).hexdigest()
    assert {compute[name]["green"]["sha256"] for name in compute} == {release}
    assert compute["canary"]["green"]["function"] == "acme-canary-green:2"
    assert compute["wave2"]["blue"]["version"] == "1.4.1"
    assert compute["wave2"]["blue"]["sha256"] != release
    assert all(code["object_version"] for colours in compute.values()
               for code in colours.values())

    # chapter 8's real requests: the pinned tenants were served by blue's code only
    requests = fleet["requests"]
    assert set(requests["ember-health"]) == set(requests["garnet-tax"]) == {"blue"}
    assert set(requests["delta-retail"]) == set(requests["fjord-shipping"]) == {"green"}

    page = report.read_text()
    assert "wave2" in page and "<svg" in page
    assert fleet["seconds"] < 90
