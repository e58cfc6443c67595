"""Local deployer: a fork server per host process versus a fresh interpreter per stack.

Deploys the same fleet (shared + three cohorts, then every cohort again) into one
embedded moto server with each start method, alternating, and prints the
seconds per step side by side. The baseline, ``fresh-interpreter``, is how every
stack used to run: a new Python process importing pulumi and pulumi_aws.

    .venv/bin/python bench/local_deployer.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rollout.aws_clients import AwsClients
from rollout.local.child_process import StartMethod
from rollout.local.deployer import LocalDeployer
from rollout.local.server import embedded_moto

METHODS: tuple[StartMethod, StartMethod] = ("fresh-interpreter", "fork-server")
STEPS = ["shared", "canary", "wave1", "wave2", "canary again", "wave1 again"]


def write_project(project: Path, app: str) -> None:
    """Stack configs of one app: the shared stack and three cohorts."""
    project.mkdir()
    (project / "Pulumi.shared.yaml").write_text(
        f"config:\n  tenant-rollout:stack:\n    role: shared\n    app: {app}\n")
    for index, cohort in enumerate(("canary", "wave1", "wave2")):
        (project / f"Pulumi.{cohort}.yaml").write_text(
            "config:\n  tenant-rollout:stack:\n    role: cohort\n"
            f"    app: {app}\n    cohort: {cohort}\n"
            "    sharedStack: organization/tenant-rollout/shared\n"
            "    versions: {blue: 1.4.2, green: 1.4.2}\n"
            f"    network: {{cidr: 10.{20 + index}.0.0/16}}\n")


def fleet_timings(method: StartMethod, base: Path) -> list[float]:
    app = f"b{uuid.uuid4().hex[:8]}"
    project = base / app
    write_project(project, app)
    deployer = LocalDeployer(project, AwsClients(), start_method=method)
    timings = []
    for step in STEPS:
        started = time.perf_counter()
        deployer.up(step.split()[0])
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    results: dict[str, list[list[float]]] = {method: [] for method in METHODS}
    with embedded_moto(), tempfile.TemporaryDirectory() as base:
        fleet_timings("fork-server", Path(base))  # warm moto's own backends once, untimed
        for _ in range(rounds):
            for method in METHODS:
                results[method].append(fleet_timings(method, Path(base)))
    print(f"local deployer, seconds per `up` (median of {rounds} rounds; the fork server is "
          "already running after the warm-up)")
    print(f"{'step':<14}{METHODS[0]:>20}{METHODS[1]:>14}{'speed-up':>10}")
    totals = {method: 0.0 for method in METHODS}
    for index, step in enumerate(STEPS):
        medians = {m: statistics.median(r[index] for r in results[m]) for m in METHODS}
        for method in METHODS:
            totals[method] += medians[method]
        print(f"{step:<14}{medians[METHODS[0]]:>20.2f}{medians[METHODS[1]]:>14.2f}"
              f"{medians[METHODS[0]] / medians[METHODS[1]]:>9.1f}x")
    print(f"{'whole fleet':<14}{totals[METHODS[0]]:>20.2f}{totals[METHODS[1]]:>14.2f}"
          f"{totals[METHODS[0]] / totals[METHODS[1]]:>9.1f}x")


if __name__ == "__main__":
    main()
