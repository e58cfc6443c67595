"""What a rollout on Step Functions costs: state transitions per rollout of the example fleet.

Standard workflows are billed per state transition (every state entered, retries
included). A rollout's transitions are a fixed part (recording each step, routing it,
the promotion) plus a part per gate check during the bakes, so this script measures
both on moto, which executes the very definitions AWS would run: each cohort of
``examples/tenants.yaml`` (its strategy's steps, its gates) is rolled out twice with
``rollout start --engine stepfunctions``, once with bakes of one check and once of three
(a check a second), and the transitions of each execution are counted from its history
(``*StateEntered`` events). The difference gives the transitions per check; the fixed
part follows. Then the real strategies are priced: each bake checked every
``CHECK_EVERY`` seconds, at $0.025 per 1,000 transitions (us-east-1, eu-west-1).

wave1's manual gate is approved with ``rollout promote`` as soon as it waits; wave2's
SLA gate is fed a healthy request count so that it judges (with no data it would hold).

    .venv/bin/python -m bench.workflow_cost
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import yaml

from rollout.cli import run
from rollout.gates.cloudwatch_stats import ERRORS_5XX, NAMESPACE, REQUESTS, arn_suffix
from rollout.local.fleets import Fleet, deploy_fleet
from rollout.local.server import embedded_moto
from rollout.model.tenants import load_tenants
from rollout.rollouts.state import RolloutState, Status
from rollout.rollouts.strategy import parse_strategy
from rollout.vocabulary.ledger_keys import STATE_SK, cohort_pk

REPOSITORY = Path(__file__).resolve().parents[1]
EXAMPLE = REPOSITORY / "examples" / "tenants.yaml"
RELEASE = "1.5.0"
CHECK_EVERY = 60
"""Seconds between gate checks when the real strategies are priced."""
PRICE_PER_TRANSITION = 0.025 / 1000
FREE_PER_MONTH = 4000
SHORT, LONG = 1, 3
"""Checks per bake in the two measured runs (a check a second)."""
WITHIN = 90.0


@dataclass(frozen=True)
class Measured:
    cohort: str
    steps: int
    short: int
    long: int

    @property
    def per_check(self) -> float:
        """Transitions one more gate check adds, per step."""
        return (self.long - self.short) / ((LONG - SHORT) * self.steps)

    def for_bakes(self, checks_per_step: list[int]) -> float:
        fixed = self.short - self.per_check * SHORT * self.steps
        return fixed + self.per_check * sum(checks_per_step)


def example_tenants(base: Path, bake_seconds: int) -> Path:
    """examples/tenants.yaml with each strategy's bakes cut to ``bake_seconds``
    (``canary:10:30m`` becomes ``canary:10:3s``: the same steps), every tenant free now."""
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    for cohort in document["cohorts"]:
        kind, weight, _ = cohort["strategy"].split(":")
        cohort["strategy"] = f"{kind}:{weight}:{bake_seconds}s"
        cohort.pop("min_gap", None)
    for tenant in document["tenants"]:  # any time today: pins do not change the transitions
        tenant["windows"] = ["daily 00:00-24:00"]
        for choice in ("busy_seasons", "opt_out", "opted_out"):
            tenant.pop(choice, None)
    path = base / f"tenants-{bake_seconds}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def rollout(fleet: Fleet, *args: str) -> int:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = run(["--app", fleet.app, "--project-dir", str(fleet.project_dir), *args])
    if code != 0:
        print(err.getvalue().strip())
    return code


def state(fleet: Fleet, cohort: str) -> RolloutState:
    item = boto3.client("dynamodb").get_item(
        TableName=fleet.shared.ledger_table, ConsistentRead=True,
        Key={"pk": {"S": cohort_pk(cohort)}, "sk": {"S": STATE_SK}})["Item"]
    return RolloutState.model_validate_json(item["doc"]["S"])


def feed_healthy_requests(fleet: Fleet, cohort: str) -> None:
    resources = fleet.cohorts[cohort]
    green = arn_suffix(resources.target_group_arns["green"])
    dimensions = [{"Name": "TargetGroup", "Value": green},
                  {"Name": "LoadBalancer", "Value": arn_suffix(resources.load_balancer_arn)}]
    boto3.client("cloudwatch").put_metric_data(Namespace=NAMESPACE, MetricData=[
        {"MetricName": REQUESTS, "Dimensions": dimensions, "Value": 1000.0,
         "Timestamp": datetime.now(UTC)},
        {"MetricName": ERRORS_5XX, "Dimensions": dimensions, "Value": 0.0,
         "Timestamp": datetime.now(UTC)}])


def transitions(execution: str) -> int:
    pages = boto3.client("stepfunctions").get_paginator("get_execution_history").paginate(
        executionArn=execution)
    return sum(1 for page in pages for event in page["events"]
               if event["type"].endswith("StateEntered"))


def roll(fleet: Fleet, cohort: str, tenants: Path) -> int:
    """One rollout of ``cohort`` on Step Functions to the end; its transitions."""
    started = rollout(fleet, "start", "--cohort", cohort, "--release", RELEASE, "--engine",
                      "stepfunctions", "--tenants", str(tenants), "--check-every", "1s",
                      "--override-notice", "bench", "--override-freeze", "bench")
    if started != 0:
        raise SystemExit(f"{cohort}: start exited {started}")
    feed_healthy_requests(fleet, cohort)
    deadline = time.monotonic() + WITHIN
    while (now := state(fleet, cohort)).status != Status.PROMOTED:
        if now.status == Status.PAUSED:
            rollout(fleet, "promote", "--cohort", cohort, "--tenants", str(tenants))
        if now.status.value in ("rolled_back", "aborted") or time.monotonic() > deadline:
            raise SystemExit(f"{cohort}: {now.status.value} ({now.reason})")
        time.sleep(0.3)
    assert now.execution is not None
    while boto3.client("stepfunctions").describe_execution(
            executionArn=now.execution)["status"] == "RUNNING":
        time.sleep(0.2)
    return transitions(now.execution)


def measure(base: Path, cohorts: list[str], tenant_ids: dict[str, list[str]]) -> list[Measured]:
    runs: dict[int, dict[str, int]] = {}
    for bake in (SHORT, LONG):
        fleet = deploy_fleet(base / f"bake{bake}", tenant_ids,
                             versions={"blue": "1.4.2", "green": RELEASE})
        boto3.client("cloudwatch").put_metric_alarm(
            AlarmName="api-5xx", MetricName=ERRORS_5XX, Namespace=NAMESPACE, Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=10,
            ComparisonOperator="GreaterThanThreshold")
        tenants = example_tenants(base, bake)
        runs[bake] = {cohort: roll(fleet, cohort, tenants) for cohort in cohorts}
    steps = {c.name: len(parse_strategy(c.strategy).steps)
             for c in load_tenants(EXAMPLE).cohorts}
    return [Measured(c, steps[c], runs[SHORT][c], runs[LONG][c]) for c in cohorts]


def main() -> None:
    example = load_tenants(EXAMPLE)
    cohorts = [c.name for c in example.cohorts]
    tenant_ids = {c: [t.id for t in example.tenants if t.cohort == c] for c in cohorts}
    with embedded_moto(), tempfile.TemporaryDirectory() as tmp:
        measured = measure(Path(tmp), cohorts, tenant_ids)
    print(f"state transitions per rollout of examples/tenants.yaml on Step Functions "
          f"(measured on moto; gates checked every {CHECK_EVERY} s for the real bakes)")
    print(f"{'cohort':8} {'steps':>5} {f'{SHORT} check/step':>14} {f'{LONG} checks/step':>15} "
          f"{'per check':>9} {'real bakes':>10} {'cost':>9}")
    total = 0.0
    for cohort, row in zip(example.cohorts, measured, strict=True):
        checks = [max(1, -(-int(step.bake_seconds) // CHECK_EVERY))
                  for step in parse_strategy(cohort.strategy).steps]
        real = row.for_bakes(checks)
        total += real
        print(f"{row.cohort:8} {row.steps:>5} {row.short:>14} {row.long:>15} "
              f"{row.per_check:>9.1f} {real:>10.0f} ${real * PRICE_PER_TRANSITION:>8.4f}")
    print(f"one release across the example fleet: {total:.0f} transitions, "
          f"${total * PRICE_PER_TRANSITION:.4f} (the first {FREE_PER_MONTH:,} a month are free)")


if __name__ == "__main__":
    main()
