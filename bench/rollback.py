"""Rollback: one router write, as fast as a single plain ``modify_listener`` call; and
what a rollback costs once the old colour's warm period is over and it was reaped.

Against one embedded moto server, alternating in each round:

* baseline: one plain ``elbv2.modify_listener`` putting 100% back on blue;
* ours, traffic: the router write inside ``rollout rollback`` (``AlbRouter.set_weights``);
* ours, whole command: ``CohortRollout.rollback`` with its ledger bookkeeping.

Then, side by side on one ``ecs`` cohort (blue 1.4.2 and green 1.5.0 at 3 tasks each),
each round promoting green and rolling it back as an operator does (no lease):

* (a) within the warm period: blue still runs its 3 tasks, so the rollback is the one
  listener write and its ledger bookkeeping;
* (b) after the warm period, blue reaped to 0 tasks (``rollout reap``): the rollback
  scales blue back up (``UpdateService``), waits until its targets are healthy, then
  makes the same one listener write.

Each rollback runs its plan step by step, timed by step kind with ``time.perf_counter``,
and every AWS call it makes is counted (``BaseClient._make_api_call`` patched).

    .venv/bin/python -m bench.rollback [ROUNDS] [ECS_ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

from botocore.client import BaseClient
from rich.console import Console
from rich.table import Table

from rollout.aws_clients import AwsClients
from rollout.capacity import for_cohort as capacity_for
from rollout.local.deployer import LocalDeployer
from rollout.local.fleets import Fleet, deploy_fleet, listener_weights
from rollout.local.record import local_discovery
from rollout.local.server import embedded_moto
from rollout.model.stack import ColourArtefact
from rollout.rollouts.capacity_plans import reap_plan
from rollout.rollouts.command_plans import rollback_plan
from rollout.rollouts.executor import CohortRollout, RolloutHooks, RolloutSettings
from rollout.rollouts.ledger import Ledger
from rollout.rollouts.strategy import parse_strategy
from rollout.routers.alb import AlbRouter
from rollout.vocabulary.colours import Colour

WRITE_PREFIXES = ("Create", "Modify", "Put", "Update", "Delete", "Set", "Add", "Remove")
OLD, NEW = "1.4.2", "1.5.0"
TASKS = 3
IMAGES = {version: f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:{digit * 64}"
          for version, digit in ((OLD, "a"), (NEW, "b"))}
WARM, REAPED = "(a) within warm period", "(b) after warm period, reaped"


class WriteCounter:
    """Counts the AWS write calls made through a set of clients."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def watch(self, client: Any) -> None:
        client.meta.events.register("before-call.*.*", self._seen)

    def _seen(self, model: Any, **_: Any) -> None:
        if model.name.startswith(WRITE_PREFIXES):
            self.calls[f"{model.service_model.service_name}:{model.name}"] += 1


def project(base: Path) -> Path:
    (base / "Pulumi.shared.yaml").write_text(
        "config:\n  tenant-rollout:stack:\n    role: shared\n    app: bench\n")
    (base / "Pulumi.canary.yaml").write_text(
        "config:\n  tenant-rollout:stack:\n    role: cohort\n    app: bench\n"
        "    cohort: canary\n    sharedStack: organization/tenant-rollout/shared\n"
        "    versions: {blue: 1.4.2, green: 1.5.0}\n")
    return base


def timed(action: Callable[[], Any], counter: WriteCounter) -> tuple[float, Counter[str]]:
    counter.calls.clear()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started, Counter(counter.calls)


def write_only(rounds: int) -> float:
    """The first table: the one router write against a plain call; the baseline's median."""
    with tempfile.TemporaryDirectory() as tmp:
        clients = AwsClients()
        LocalDeployer(project(Path(tmp)), clients).up("canary")
        cohort = local_discovery(clients, "bench").cohort("canary")
        counter = WriteCounter()
        for service in ("elbv2", "dynamodb"):
            counter.watch(clients.client(service))
        router = AlbRouter(clients, cohort)
        engine = CohortRollout(clients=clients, cohort=cohort,
                               ledger=Ledger(clients, cohort.ledger_table),
                               router=router, gates=[])
        plan = parse_strategy("linear:50:1h")
        back: dict[Colour, int] = {"blue": 100, "green": 0}
        plain = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": cohort.target_group_arns[c], "Weight": w}
            for c, w in back.items()]}}]
        elbv2 = clients.client("elbv2")
        samples: dict[str, list[float]] = {"baseline": [], "traffic": [], "command": []}
        writes: dict[str, Counter[str]] = {}
        for _ in range(rounds):
            router.set_weights({"blue": 50, "green": 50})
            took, writes["baseline"] = timed(lambda: elbv2.modify_listener(
                ListenerArn=cohort.listener_arn, DefaultActions=plain), counter)
            samples["baseline"].append(took)
            router.set_weights({"blue": 50, "green": 50})
            took, writes["traffic"] = timed(lambda: router.set_weights(back), counter)
            samples["traffic"].append(took)
            with engine.lease():
                engine.start("1.5.0", "linear:50:1h", plan)
                took, writes["command"] = timed(lambda: engine.rollback("bench"), counter)
            samples["command"].append(took)
            assert router.read_weights() == back
    return report_write_only(rounds, samples, writes)


def report_write_only(rounds: int, samples: dict[str, list[float]],
                      writes: dict[str, Counter[str]]) -> float:
    base = statistics.median(samples["baseline"])
    print(f"rollback against moto, {rounds} rounds, median wall time")
    print(f"{'what':<44}{'ms':>8}{'x baseline':>12}  writes")
    rows = [("plain elbv2.modify_listener (baseline)", "baseline"),
            ("rollout rollback: the traffic write", "traffic"),
            ("rollout rollback: whole command + ledger", "command")]
    for label, key in rows:
        median = statistics.median(samples[key])
        calls = ", ".join(f"{n} {name}" for name, n in sorted(writes[key].items()))
        print(f"{label:<44}{median * 1000:>8.1f}{median / base:>12.2f}  {calls}")
    traffic_writes = sum(n for name, n in writes["command"].items()
                         if name.startswith("elbv2:"))
    ratio = statistics.median(samples["traffic"]) / base
    print(f"traffic writes per rollback: {traffic_writes} (target 1); "
          f"traffic write vs baseline: {ratio:.2f}x (target <= 1.5x)")
    return base


# ------------------------------------------------- after the warm period (ecs)
@dataclass(frozen=True)
class Call:
    """One AWS call a rollback made, and how long it took."""

    operation: str
    params: dict[str, Any]
    seconds: float


@contextmanager
def recorded_calls() -> Iterator[list[Call]]:
    """Every AWS call this process makes meanwhile, whichever client makes it."""
    calls: list[Call] = []
    original: Callable[..., Any] = vars(BaseClient)["_make_api_call"]

    def record(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return original(client, operation, params)
        finally:
            calls.append(Call(operation, params, time.perf_counter() - started))

    with patch.object(BaseClient, "_make_api_call", record):
        yield calls


@dataclass(frozen=True)
class TimedRollback:
    """One rollback: seconds per phase (plan steps by kind, ``plan`` for building it)."""

    phases: dict[str, float]
    total: float
    traffic_back: float
    """From the command's start until its listener write returned: blue serves again."""
    calls: list[Call]

    def count(self, operation: str) -> int:
        return sum(1 for call in self.calls if call.operation == operation)

    def call_seconds(self, operation: str) -> float:
        return sum(call.seconds for call in self.calls if call.operation == operation)


def timed_rollback(engine: CohortRollout) -> TimedRollback:
    """``rollout rollback`` as an operator runs it (no lease), one plan step at a time."""
    phases: dict[str, float] = defaultdict(float)
    traffic_back = 0.0
    with recorded_calls() as calls:
        started = time.perf_counter()
        command = rollback_plan(engine, "bench")
        phases["plan"] = time.perf_counter() - started
        for step in command.plan.steps:
            began = time.perf_counter()
            step.apply()
            phases[step.kind] += time.perf_counter() - began
            if step.kind == "set-weights":
                traffic_back = time.perf_counter() - started
        total = time.perf_counter() - started
    return TimedRollback(dict(phases), total, traffic_back, list(calls))


def ecs_fleet(base: Path) -> Fleet:
    """One ecs cohort, blue on 1.4.2 and green on 1.5.0, 3 tasks each (not measured)."""
    fleet = deploy_fleet(base, {"svc": ["aurora"]},
                         compute={"kind": "ecs", "desiredCount": TASKS})
    versions: tuple[tuple[Colour, str], ...] = (("blue", OLD), ("green", NEW))
    for colour, version in versions:
        fleet.deployer.deploy_version("svc", colour, version, artefact=ColourArtefact(
            version=version, image=IMAGES[version]))
    fleet.refresh("svc")
    return fleet


def ecs_rollout(fleet: Fleet, warm_for: timedelta) -> CohortRollout:
    """The cohort's executor as the CLI assembles it, minus preflight and gates."""
    resources = fleet.cohorts["svc"]
    clients = fleet.clients.for_region(resources.region)
    return CohortRollout(
        clients=clients, cohort=resources, ledger=Ledger(clients, resources.ledger_table),
        router=AlbRouter(clients, resources), gates=[],
        hooks=RolloutHooks(capacity=capacity_for(clients, resources)),
        settings=RolloutSettings(check_interval=0.2, warm_for=warm_for, ready_within=30.0,
                                 actor="bench"))


def promote(engine: CohortRollout) -> None:
    with engine.lease():
        engine.start(NEW, "all-at-once", parse_strategy("all-at-once"))
        engine.drive()


def desired_count(fleet: Fleet, colour: Colour) -> int:
    (service,) = fleet.clients.client("ecs").describe_services(
        cluster=f"{fleet.app}-svc", services=[f"{fleet.app}-svc-{colour}"])["services"]
    return int(service["desiredCount"])


def healthy_targets(fleet: Fleet, colour: Colour) -> int:
    found = fleet.clients.client("elbv2").describe_target_health(
        TargetGroupArn=fleet.cohorts["svc"].target_group_arns[colour])
    return sum(1 for t in found["TargetHealthDescriptions"]
               if t["TargetHealth"]["State"] == "healthy")


def check_reaped_rollback(fleet: Fleet, done: TimedRollback) -> None:
    """What the bench claims: scaled up, then checked healthy, then exactly one write."""
    order = [c.operation for c in done.calls
             if c.operation in ("UpdateService", "DescribeTargetHealth", "ModifyListener")]
    assert order.count("ModifyListener") == 1, order
    resized = [c.params.get("desiredCount") for c in done.calls
               if c.operation == "UpdateService"]
    assert resized == [TASKS], resized
    assert order.index("UpdateService") < order.index("DescribeTargetHealth") \
        < order.index("ModifyListener"), order
    assert listener_weights(fleet.cohorts["svc"]) == {"blue": 100, "green": 0}
    assert desired_count(fleet, "blue") == TASKS == healthy_targets(fleet, "blue")


def after_warm_period(rounds: int) -> dict[str, list[TimedRollback]]:
    """Each round: promote and roll back within the warm period, then promote, reap and
    roll back after it; both rollbacks timed."""
    runs: dict[str, list[TimedRollback]] = {WARM: [], REAPED: []}
    with tempfile.TemporaryDirectory() as tmp:
        fleet = ecs_fleet(Path(tmp))
        warm = ecs_rollout(fleet, timedelta(hours=1))
        cold = ecs_rollout(fleet, timedelta(0))
        for _ in range(rounds):
            promote(warm)
            done = timed_rollback(warm)
            assert done.count("ModifyListener") == 1 and not done.count("UpdateService")
            assert listener_weights(fleet.cohorts["svc"]) == {"blue": 100, "green": 0}
            runs[WARM].append(done)
            promote(cold)
            with cold.lease():
                reap_plan(cold).execute()
            assert desired_count(fleet, "blue") == 0 == healthy_targets(fleet, "blue")
            done = timed_rollback(cold)
            check_reaped_rollback(fleet, done)
            runs[REAPED].append(done)
    return runs


@dataclass(frozen=True)
class Phase:
    """A row of the side-by-side table: plan step kinds, and the AWS call inside them."""

    label: str
    kinds: tuple[str, ...]
    call: str | None = None


PHASES = (
    Phase("build the plan (reads the state)", ("plan",)),
    Phase("scale-up: Resize (0 → 3 tasks, event recorded)", ("resize",), "UpdateService"),
    Phase("health wait: WaitServing until healthy", ("wait-healthy",),
          "DescribeTargetHealth"),
    Phase("stop request (ledger)", ("request-stop",)),
    Phase("the one write: RouteBack (state, then listener)", ("set-weights",),
          "ModifyListener"),
    Phase("history event + carry-back (ledger)", ("record-event", "carry-back")),
)
CALLS = (("listener writes (ModifyListener)", "ModifyListener"),
         ("UpdateService calls", "UpdateService"),
         ("DescribeTargetHealth calls", "DescribeTargetHealth"))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def counts(runs: list[TimedRollback], operation: str | None) -> str:
    seen = sorted({run.count(operation) if operation else len(run.calls) for run in runs})
    return str(seen[0]) if len(seen) == 1 else f"{seen[0]}-{seen[-1]}"


def phase_ms(runs: list[TimedRollback], phase: Phase) -> str:
    """The median of the phase's steps, or a dash when the plan had no such step."""
    if not any(kind in run.phases for run in runs for kind in phase.kinds):
        return "-"
    return ms(statistics.median(sum(run.phases.get(kind, 0.0) for kind in phase.kinds)
                                for run in runs))


def call_ms(runs: list[TimedRollback], operation: str) -> str:
    if not any(run.count(operation) for run in runs):
        return "-"
    return ms(statistics.median(run.call_seconds(operation) for run in runs))


def side_by_side(runs: dict[str, list[TimedRollback]], baseline: float) -> Table:
    table = Table(title=f"rollout rollback of an ecs cohort, {len(runs[WARM])} rounds each, "
                        "median ms against moto", title_justify="left")
    table.add_column("phase (plan step)")
    for case in runs:
        table.add_column(case, justify="right")
    for phase in PHASES:
        table.add_row(phase.label, *(phase_ms(done, phase) for done in runs.values()))
        if phase.call:
            table.add_row(f"  of which the {phase.call} call",
                          *(call_ms(done, phase.call) for done in runs.values()))
    totals = {case: statistics.median(run.total for run in done) for case, done in runs.items()}
    table.add_row("[bold]total", *(f"[bold]{ms(total)}" for total in totals.values()))
    table.add_row("x case (a)", *(f"{total / totals[WARM]:.2f}" for total in totals.values()))
    table.add_row("x one plain modify_listener",
                  *(f"{total / baseline:.1f}" for total in totals.values()))
    table.add_row("traffic back on blue after (its write returned)",
                  *(ms(statistics.median(run.traffic_back for run in done))
                    for done in runs.values()))
    table.add_section()
    for label, operation in (*CALLS, ("AWS calls, all", None)):
        table.add_row(label, *(counts(done, operation) for done in runs.values()))
    return table


NOTE = ("moto registers an ECS service's tasks as healthy targets the moment UpdateService "
        "returns (rollout/local/ecs_tasks.py), so the health wait above is the cost of the "
        "checks (DescribeServices for the size needed, DescribeTargetHealth), not of tasks "
        "starting. On AWS it is the new tasks' start-up plus the target group's health checks "
        "(typically tens of seconds or more), bounded by --ready-within (default 10m); within the "
        "warm period the rollback skips both and stays one listener write.")


def main(rounds: int, ecs_rounds: int) -> None:
    with embedded_moto():
        baseline = write_only(rounds)
        runs = after_warm_period(ecs_rounds)
    console = Console(width=110)
    console.print()
    console.print(side_by_side(runs, baseline))
    console.print(f"listener writes per rollback: (a) {counts(runs[WARM], 'ModifyListener')}, "
                  f"(b) {counts(runs[REAPED], 'ModifyListener')} (target 1 each); (b) scaled "
                  "up and saw its targets healthy before that write, every round.")
    console.print(f"note: {NOTE}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30,
         int(sys.argv[2]) if len(sys.argv) > 2 else 10)
