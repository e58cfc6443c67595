"""A 2,000-tenant cohort rolled through ``linear:10:1s``: AWS calls, wall time, peak memory.

One moto server in a child process (``rollout.local.server.moto_in_child_process``: a server in this
process would share its interpreter lock and its memory) serves two cohorts of
one app, each deployed by the local deployer with its tenants in the stack config:

* **baseline**: 20 tenants, the size of a canary cohort;
* **load**: 2,000 tenants.

Each tenant has two settings on the live colour (a String and a SecureString),
and 5% of the tenants are opted out, so they are pinned to the old colour by
host-name listener rules (5 hosts a rule: 100 pins fit ALB's default quota of 100
rules a listener in 20). Both cohorts then run the same ``rollout start --wait``
in this process (notice periods overridden: announcing is ``notify``'s load,
not the rollout's), and the script prints, side by side: wall time, AWS calls
per service and operation, and memory: how much the process's peak RSS grew
during the rollout, and that peak itself (a high-water mark: interpreter,
libraries and the baseline run included). No allocation tracer runs: tracing
every allocation would slow the rollout several times over and skew its time.

What should hold: traffic moves in one ``ModifyListener`` per step whatever the
tenant count (the listener weights are per cohort, not per tenant), pins cost
``ceil(pins / 5)`` rules, and config calls grow linearly (the copy reads 10
values a call).

    .venv/bin/python -m bench.load_rollout [--tenants 2000]

It counts calls with the client hook of ``tests/faults``, so it runs as a module from
the repository root (which puts the root, and ``tests``, on the import path).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import resource
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.cli import run
from rollout.local.fleets import deploy_fleet
from rollout.local.server import moto_in_child_process
from tests.faults.client_hooks import client_hook

APP = "loadbench"
RELEASE, OLD = "1.5.0", "1.4.2"
STRATEGY = "linear:10:1s"
OPTED_OUT_SHARE = 20
"""Every 20th tenant (5%) is opted out."""


@dataclass
class Measured:
    tenants: int
    pins: int
    settings: int
    seconds: float
    calls: Counter[str]
    peak_rss_mb: float
    rss_growth_mb: float
    exit_code: int

    def by_service(self) -> Counter[str]:
        services: Counter[str] = Counter()
        for name, count in self.calls.items():
            services[name.split(":")[0]] += count
        return services


class CallCounter:
    """Every AWS call the toolkit makes, as ``service:Operation``."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.*.*", self._seen,
                                    unique_id="bench-load-rollout-calls")

    def _seen(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1


def tenant_ids(cohort: str, count: int) -> list[str]:
    return [f"{cohort}-t{i:05d}" for i in range(count)]


def tenants_yaml(cohorts: dict[str, list[str]]) -> str:
    lines = ["defaults:", "  notice_days: 0", '  windows: ["daily 00:00-24:00"]', "cohorts:"]
    lines += [f'  - {{name: {c}, order: {i}, strategy: "{STRATEGY}"}}'
              for i, c in enumerate(cohorts, start=1)]
    lines.append("tenants:")
    for cohort, tenants in cohorts.items():
        for index, tenant in enumerate(tenants):
            opt_out = (", opt_out: {until: 2099-01-01, reason: audit season}"
                       if index % OPTED_OUT_SHARE == 0 else "")
            lines.append(f"  - {{id: {tenant}, cohort: {cohort}{opt_out}}}")
    return "\n".join(lines) + "\n"


def seed(clients: AwsClients, prefix: str, tenants: list[str], key: str | None) -> int:
    """Two settings a tenant on the live colour, written 16 at a time (not measured)."""
    ssm = clients.client("ssm")

    def put(tenant: str) -> None:
        ssm.put_parameter(Name=f"{prefix}/{tenant}/theme", Type="String", Value="dark")
        ssm.put_parameter(Name=f"{prefix}/{tenant}/api-token", Type="SecureString",
                          Value=f"token-{tenant}", **({"KeyId": key} if key else {}))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, tenants))
    return 2 * len(tenants)


def rollout(project: Path, tenants_file: Path, cohort: str) -> tuple[int, float, Counter[str],
                                                                         float, float]:
    counter = CallCounter()
    argv = ["--app", APP, "--project-dir", str(project), "start", "--cohort", cohort,
            "--release", RELEASE, "--strategy", STRATEGY, "--tenants", str(tenants_file),
            "--wait", "--check-every", "0.25s", "--override-notice", "load benchmark",
            "--json"]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with client_hook(counter.attach), contextlib.redirect_stdout(io.StringIO()):
        code = run(argv)
    seconds = time.perf_counter() - started
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return code, seconds, counter.calls, peak_rss / 1024, (peak_rss - rss_before) / 1024


def main(size: int) -> None:
    cohorts = {"baseline": tenant_ids("base", 20), "load": tenant_ids("load", size)}
    with moto_in_child_process(), tempfile.TemporaryDirectory() as tmp:
        deploying = time.perf_counter()
        fleet = deploy_fleet(Path(tmp), cohorts, app=APP,
                             versions={"blue": OLD, "green": RELEASE})
        print(f"deployed both cohorts in {time.perf_counter() - deploying:.0f} s "
              "(not measured)", file=sys.stderr)
        project = fleet.project_dir
        tenants_file = project / "tenants.yaml"
        tenants_file.write_text(tenants_yaml(cohorts))
        with contextlib.redirect_stdout(io.StringIO()):  # imports and first model parses
            run(["--app", APP, "--project-dir", str(project), "status", "--json"])
        results: list[Measured] = []
        for cohort, tenants in cohorts.items():
            resources = fleet.cohorts[cohort]
            settings = seed(fleet.clients, resources.colour_prefix("blue"), tenants,
                            resources.kms_key_arn)
            code, seconds, calls, rss, growth = rollout(project, tenants_file, cohort)
            pins = math.ceil(len(tenants) / OPTED_OUT_SHARE)
            results.append(Measured(len(tenants), pins, settings, seconds, calls, rss,
                                    growth, code))
    report(results)


def report(results: list[Measured]) -> None:
    base, load = results
    print(f"rollout start --wait --strategy {STRATEGY}: baseline cohort vs load cohort")
    print(f"{'':<34}{'baseline':>14}{'load':>14}{'load/base':>11}")

    def line(label: str, a: float, b: float, unit: str = "") -> None:
        ratio = f"{b / a:.1f}x" if a else "-"
        print(f"{label:<34}{a:>13,.1f}{unit}{b:>13,.1f}{unit}{ratio:>11}")

    line("tenants", base.tenants, load.tenants)
    line("pinned tenants (opted out)", base.pins, load.pins)
    line("settings copied", base.settings, load.settings)
    line("exit code", base.exit_code, load.exit_code)
    line("wall time (s)", base.seconds, load.seconds)
    line("AWS calls, all", sum(base.calls.values()), sum(load.calls.values()))
    services = sorted(set(base.by_service()) | set(load.by_service()))
    for service in services:
        line(f"  {service}", base.by_service()[service], load.by_service()[service])
    for name in ("elbv2:ModifyListener", "elbv2:CreateRule", "ssm:PutParameter",
                 "ssm:GetParameters", "ssm:ListTagsForResource", "dynamodb:PutItem"):
        line(f"  {name}", base.calls[name], load.calls[name])
    line("peak RSS growth in the rollout (MB)", base.rss_growth_mb, load.rss_growth_mb)
    line("process peak RSS so far (MB)", base.peak_rss_mb, load.peak_rss_mb)
    per_tenant = (sum(load.calls.values()) - sum(base.calls.values())) / (
        load.tenants - base.tenants)
    print(f"\nweight writes: {base.calls['elbv2:ModifyListener']} vs "
          f"{load.calls['elbv2:ModifyListener']} (one per step, whatever the tenant count); "
          f"pin rules: {load.calls['elbv2:CreateRule']} for {load.pins} pins "
          f"(ceil(pins/5) = {math.ceil(load.pins / 5)}); "
          f"{per_tenant:.1f} extra AWS calls per extra tenant")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=2000, help="size of the load cohort")
    main(parser.parse_args().tenants)
