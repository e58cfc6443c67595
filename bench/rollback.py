"""Rollback: one router write, as fast as a single plain ``modify_listener`` call.

Against one embedded moto server, alternating in each round:

* baseline: one plain ``elbv2.modify_listener`` putting 100% back on blue;
* ours, traffic: the router write inside ``rollout rollback`` (``AlbRouter.set_weights``);
* ours, whole command: ``CohortRollout.rollback`` with its ledger bookkeeping.

Prints median wall times, their ratio (target: the traffic write within 1.5x of
the baseline) and the AWS write calls each made, per service.

    .venv/bin/python bench/rollback.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.local.deployer import LocalDeployer
from rollout.local.record import local_discovery
from rollout.local.server import embedded_moto
from rollout.rollouts.executor import CohortRollout
from rollout.rollouts.ledger import Ledger
from rollout.rollouts.strategy import parse_strategy
from rollout.routers.alb import AlbRouter

WRITE_PREFIXES = ("Create", "Modify", "Put", "Update", "Delete", "Set", "Add", "Remove")


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


def main(rounds: int) -> None:
    with embedded_moto(), tempfile.TemporaryDirectory() as tmp:
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
        back = {"blue": 100, "green": 0}
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


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
