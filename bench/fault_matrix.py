"""The full fault matrix: every injection point in a run of its own, and what each one left.

Against an embedded moto server, one cohort (three tenants, four settings each, a
SecureString among them) is rolled out with ``canary:50:0.2s`` again and again.
Each run injects one fault, then recovers the way the docs tell a user to
(``rollout resume``; ``rollout start`` again when the rollout was aborted before
its first step), then checks what a user would check (see
``tests/faults/convergence.py``): listener weights equal to the ledger's, every
setting on both colours, the history numbered without gaps with each step and the
outcome recorded once. Crashes kill a ``rollout`` subprocess (``os._exit(137)``)
at every step boundary, before and after every router write, event and state
save; AWS faults hit every write call of a rollout (and the first of each kind of
read) with throttling, HTTP 500, a read timeout after the write was applied, and
a connection reset, both for two attempts (botocore's retries absorb them) and
for good.

Prints one markdown table, a row as soon as it is measured (paste it into
docs/reliability.md), and on stderr, for any run that did not converge, what was
wrong. The baseline every row is measured against
is the same rollout without a fault (first line).

    .venv/bin/python -m bench.fault_matrix [--quick] [--only TEXT]

It drives the fault harness of ``tests/faults``, so it runs as a module from the
repository root (which puts the root, and ``tests``, on the import path).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollout.local.fleets import listener_weights
from rollout.local.server import embedded_moto
from rollout.rollouts.executor import load_state
from rollout.rollouts.state import Status
from tests.faults.client_hooks import client_hook, is_write
from tests.faults.convergence import check
from tests.faults.crashes import CRASH_EXIT
from tests.faults.injector import (
    PERSISTENT,
    FaultInjector,
    FaultKind,
    FaultRule,
    compressed_backoff,
)
from tests.faults.model_cache import shared_model_cache
from tests.faults.scenario import CHECK_EVERY, LEASE, Scenario, build_scenario

STRATEGY = "canary:50:0.2s"
HELD_STRATEGY = "canary:50:5s"
"""For rollouts a rollback interrupts: long enough to be caught at step 1, short enough that
a wrong recovery which drives it on finishes (and is caught) instead of hanging."""
FIRST_READS = ("dynamodb.GetItem", "dynamodb.Query", "elbv2.DescribeListeners",
               "ssm.DescribeParameters", "ssm.GetParameters", "ssm.ListTagsForResource")


NOT_REACHED = "not reached: this run made fewer such calls than the baseline"


@dataclass
class Run:
    """One run of one injection point."""

    point: str
    code: int
    recovery: list[str]
    problems: list[str]
    lost: int

    @property
    def converged(self) -> bool:
        return not self.problems


@dataclass
class Row:
    """One fault kind: its runs."""

    kind: str
    runs: list[Run] = field(default_factory=list)

    @property
    def reached(self) -> list[Run]:
        return [run for run in self.runs if NOT_REACHED not in run.problems]

    def line(self) -> str:
        runs = self.reached
        points = len({run.point for run in runs})
        converged = sum(run.converged for run in runs)
        absorbed = sum(run.code == 0 for run in runs)
        recovered = Counter(" + ".join(run.recovery) or "nothing needed" for run in runs)
        how = "; ".join(f"{what}: {n}" for what, n in sorted(recovered.items()))
        return (f"| {self.kind} | {points} | {len(runs)} | {converged} | "
                f"{sum(run.lost for run in runs)} | {absorbed} | {how} |")


class CallLabels:
    """Which API calls a rollout makes, in order, labelled by what each one writes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.*.*", self._seen,
                                    unique_id="bench-fault-matrix-labels")

    def _seen(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        name = f"{model.service_model.service_name}.{model.name}"
        item = params.get("Item") or params.get("Key") or {}
        sort_key = str(item.get("sk", {}).get("S", "")) if isinstance(item, dict) else ""
        label = sort_key.split("#")[0].lower() or params.get("Name", "").rsplit("/", 1)[-1]
        self.calls.append((name, label))

    def points(self) -> list[tuple[str, int, str]]:
        """(operation, nth call, label): every write call, the first of each kind of read.

        Setting writes are all alike (one ``PutParameter`` a setting), so only the first
        and the last of them count as points of their own.
        """
        seen: Counter[str] = Counter()
        found = []
        settings = [i for i, (name, _) in enumerate(self.calls) if name == "ssm.PutParameter"]
        for index, (name, label) in enumerate(self.calls):
            seen[name] += 1
            if name == "ssm.PutParameter" and index not in (settings[0], settings[-1]):
                continue
            if is_write(name.split(".", 1)[1]) or (name in FIRST_READS and seen[name] == 1):
                found.append((name, seen[name], label))
        return found


@dataclass
class Matrix:
    scenario: Scenario
    quick: bool
    only: str | None = None
    rows: list[Row] = field(default_factory=list)

    # a rollout and its recovery --------------------------------------------
    def start_args(self, *, wait: bool = True, strategy: str = STRATEGY) -> list[str]:
        return self.scenario.start_args(strategy=strategy, wait=wait)

    def resume(self) -> None:
        self.scenario.wait_for_lease()
        self.scenario.run_here(self.scenario.command_args(
            "resume", "--check-every", CHECK_EVERY, "--lease", LEASE))

    def started_at(self) -> str | None:
        state = load_state(self.scenario.ledger, self.scenario.cohort)
        return state.started_at.isoformat() if state else None

    def recover_start(self, code: int, crashed: bool, before: str | None) -> list[str]:
        """After a failed or killed ``start``, as the docs say: ``resume``; and ``start``
        again if the rollout never got recorded or was stopped before its first step."""
        if code == 0 and not crashed:
            return []
        steps = ["resume"]
        self.resume()
        state = load_state(self.scenario.ledger, self.scenario.cohort)
        never_began = state is None or state.started_at.isoformat() == before
        if never_began or (state is not None and state.status == Status.ABORTED
                           and state.step_index < 0):
            self.scenario.wait_for_lease()
            self.scenario.run_here(self.start_args())
            steps.append("start again")
        return steps

    def recover_rollback(self, code: int, crashed: bool) -> list[str]:
        """After a failed or killed ``rollback``: the same command again (it resumes)."""
        if code == 0 and not crashed:
            return []
        self.scenario.wait_for_lease()
        self.scenario.run_here(self.scenario.command_args("rollback", "--reason", "matrix"))
        return ["rollback again"]

    def judge(self, point: str, code: int, recovery: list[str], expected: str) -> Run:
        outcome = check(self.scenario.fleet, self.scenario.cohort, self.scenario.seeded)
        return Run(point, code, recovery, outcome.problems(expected), outcome.lost)

    # crashes -----------------------------------------------------------------
    def crash_start(self, point: str) -> Run:
        self.scenario.reset()
        before = self.started_at()
        done = self.scenario.run_faulty(self.start_args(), crash=point)
        if done.code == 0:
            return Run(point, done.code, [], [NOT_REACHED], 0)
        recovery = self.recover_start(done.code, done.code == CRASH_EXIT, before)
        return self.judge(point, done.code, recovery, "promoted")

    def crash_rollback(self, point: str) -> Run:
        self.scenario.reset()
        self.scenario.run_here(self.start_args(wait=False, strategy=HELD_STRATEGY))
        done = self.scenario.run_faulty(
            self.scenario.command_args("rollback", "--reason", "matrix"), crash=point)
        if done.code == 0:
            return Run(point, done.code, [], [NOT_REACHED], 0)
        if done.code == CRASH_EXIT:
            self.scenario.expire_lease()
        recovery = self.recover_rollback(done.code, done.code == CRASH_EXIT)
        return self.judge(point, done.code, recovery, "rolled_back")

    # AWS faults --------------------------------------------------------------
    def aws_fault(self, rule: FaultRule) -> Run:
        self.scenario.reset()
        before = self.started_at()
        injector = FaultInjector([rule])
        with injector.installed():
            done = self.scenario.run_here(self.start_args())
        point = f"{rule.service}.{rule.operation}#{rule.nth}"
        if not injector.fired:
            return Run(point, done.code, [], [NOT_REACHED], 0)
        return self.judge(point, done.code, self.recover_start(done.code, False, before),
                          "promoted")

    def lost_answer_on_every_setting_write(self, run: int) -> Run:
        """A tenant added a setting, and every setting write of the copy loses its answer
        once: the overwrites are retried harmlessly, the creation finds itself there."""
        self.scenario.reset()
        self.scenario.add_setting(f"alder/added-{run}", "String", f"new~{run}")
        before = self.started_at()
        rules = [FaultRule("ssm", "PutParameter", n, FaultKind.READ_TIMEOUT)
                 for n in range(1, len(self.scenario.seeded) + 1)]
        injector = FaultInjector(rules)
        with injector.installed():
            done = self.scenario.run_here(self.start_args())
        return self.judge(f"run {run}: {len(injector.fired)} setting writes", done.code,
                          self.recover_start(done.code, False, before), "promoted")

    # races with an operator and with a skewed clock ------------------------
    def _background(self, args: list[str]) -> subprocess.Popen[str]:
        return subprocess.Popen(self.scenario.command(args), env=self.scenario.environment(),
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def _wait_for(self, condition: Callable[[], bool], limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the background rollout never got there")
            time.sleep(0.05)

    def abort_during_preflight(self, run: int) -> Run:
        """The audit's repro: an abort while ``start`` sits in a preflight longer than its
        lease; then ``rollout step`` must find nothing to move."""
        scenario = self.scenario
        scenario.reset()
        scenario.tenants_file.write_text(scenario.tenants_file.read_text().replace(
            'strategy: "', 'security: {command: "sleep 2"}, strategy: "'))
        try:
            holder = self._background(scenario.start_args(wait=False, lease="0.5s"))
            self._wait_for(lambda: self._status() == Status.PREPARING)
            time.sleep(1.0)
            scenario.run_here(scenario.command_args("abort", "--reason", f"matrix {run}"))
            code = holder.wait(timeout=60)
            scenario.run_here(scenario.command_args("step"))
        finally:
            scenario.tenants_file.write_text(scenario.tenants_file.read_text().replace(
                'security: {command: "sleep 2"}, ', ""))
        return self.judge(f"run {run}", code, [], "aborted")

    def stop_while_another_bakes(self, run: int, stop: str) -> Run:
        """``rollout abort`` or ``rollback`` from a second process while ``start --wait``
        bakes its first step: the stop wins, the baking process exits 1."""
        scenario = self.scenario
        scenario.reset()
        holder = self._background(scenario.start_args(strategy="canary:50:30s", lease="2s"))
        self._wait_for(lambda: listener_weights(scenario.resources).get("green") == 50)
        scenario.run_here(scenario.command_args(stop, "--reason", f"matrix {run}"))
        code = holder.wait(timeout=60)
        return self.judge(f"run {run}", code, [],
                          "aborted" if stop == "abort" else "rolled_back")

    def clock_ahead_by_90s(self, run: int) -> Run:
        """A second process 90 s ahead tries ``step`` while the holder bakes: refused."""
        scenario = self.scenario
        scenario.reset()
        holder = self._background(scenario.start_args(strategy="canary:50:4s", lease="2s"))
        self._wait_for(lambda: listener_weights(scenario.resources).get("green") == 50)
        real_time = time.time
        time.time = lambda: real_time() + 90
        try:
            refused = scenario.run_here(scenario.command_args("step"))
        finally:
            time.time = real_time
        code = holder.wait(timeout=60)
        result = self.judge(f"run {run}", code, [], "promoted")
        if refused.code != 3:
            result.problems.append(f"the skewed process got the lock (exit {refused.code})")
        return result

    def _status(self) -> Status | None:
        state = load_state(self.scenario.ledger, self.scenario.cohort)
        return state.status if state else None

    # the matrix --------------------------------------------------------------
    def row(self, kind: str, runs: Iterator[Run]) -> None:
        if self.only is not None and self.only not in kind:
            return
        row = Row(kind)
        started = time.monotonic()
        for run in runs:
            row.runs.append(run)
            if NOT_REACHED in run.problems:
                print(f"  ({kind} @ {run.point}: {NOT_REACHED})", file=sys.stderr, flush=True)
            elif not run.converged:
                print(f"  NOT CONVERGED {kind} @ {run.point}: {run.problems}", file=sys.stderr,
                      flush=True)
        self.rows.append(row)
        print(row.line(), flush=True)
        print(f"  {kind}: {len(row.runs)} runs in {time.monotonic() - started:.0f} s",
              file=sys.stderr, flush=True)

    def thin(self, items: list[Any]) -> list[Any]:
        return items[::3] if self.quick else items


def discover(matrix: Matrix) -> tuple[CallLabels, dict[str, int]]:
    """One clean rollout (the baseline) and one clean rollback: what can be hit, how often."""
    scenario = matrix.scenario
    scenario.reset()
    labels = CallLabels()
    with client_hook(labels.attach):
        clean = scenario.run_here(matrix.start_args())
    assert clean.code == 0, clean.stderr
    outcome = check(scenario.fleet, scenario.cohort, scenario.seeded)
    assert outcome.problems("promoted") == [], outcome.problems("promoted")
    state = load_state(scenario.ledger, scenario.cohort)
    assert state is not None
    begun = state.started_at.isoformat()
    events = [e for e in scenario.ledger.events(scenario.cohort)
              if str(e.data.get("key")).startswith(begun)]
    counts = {"route": len(state.steps), "event": len(events), "state": state.revision,
              "step": sum(e.kind == "step" for e in events)}
    scenario.reset()
    scenario.run_here(matrix.start_args(wait=False, strategy=HELD_STRATEGY))
    before = load_state(scenario.ledger, scenario.cohort)
    scenario.run_here(scenario.command_args("rollback", "--reason", "matrix"))
    after = load_state(scenario.ledger, scenario.cohort)
    assert before is not None and after is not None
    rolled = [e for e in scenario.ledger.events(scenario.cohort)
              if str(e.data.get("key")).startswith(after.started_at.isoformat())
              and e.kind in ("rolled_back", "config")]
    counts.update({"rollback-event": len(rolled), "rollback-state": after.revision
                   - before.revision})
    return labels, counts


def crash_points(counts: dict[str, int]) -> list[tuple[str, Callable[[], list[str]]]]:
    def points(target: str, when: str, n: int) -> list[str]:
        return [f"{target}:{when}:{i}" for i in range(1, n + 1)]

    return [
        ("kill -9 before a router write (ledger ahead of the listener)",
         lambda: points("route", "before", counts["route"])),
        ("kill -9 after a router write, before its event",
         lambda: points("route", "after", counts["route"])),
        ("kill -9 after a state save, before its event",
         lambda: points("event", "before", counts["event"])),
        ("kill -9 at every event boundary (step boundaries included)",
         lambda: points("event", "after", counts["event"])),
        ("kill -9 before a state save", lambda: points("put[STATE]", "before", counts["state"])),
    ]


def rollback_points(counts: dict[str, int]) -> list[str]:
    return ["route:before:1", "route:after:1",
            *(f"event:{when}:{i}" for when in ("before", "after")
              for i in range(1, counts["rollback-event"] + 1)),
            *(f"put[STATE]:before:{i}" for i in range(1, counts["rollback-state"] + 1))]


AWS_ROWS = [
    ("throttling, 2 attempts", FaultKind.THROTTLING, 2),
    ("throttling, every attempt", FaultKind.THROTTLING, PERSISTENT),
    ("HTTP 500, 2 attempts", FaultKind.HTTP_500, 2),
    ("HTTP 500, every attempt", FaultKind.HTTP_500, PERSISTENT),
    ("read timeout after the write was applied, once", FaultKind.READ_TIMEOUT, 1),
    ("read timeout after the write was applied, every attempt", FaultKind.READ_TIMEOUT,
     PERSISTENT),
    ("connection reset before sending, 2 attempts", FaultKind.CONNECTION_RESET, 2),
    ("connection reset before sending, every attempt", FaultKind.CONNECTION_RESET, PERSISTENT),
]
"""(row, fault, how many attempts of the call fail): fewer than botocore's 8 are absorbed."""


def main(quick: bool, only: str | None) -> None:
    began = time.monotonic()
    with embedded_moto(), tempfile.TemporaryDirectory() as tmp, shared_model_cache(), \
            compressed_backoff(0.02):
        scenario = build_scenario(Path(tmp), "matrix", ["alder", "beech", "cedar"],
                                  marker="matrix")
        matrix = Matrix(scenario, quick, only)
        clean_started = time.monotonic()
        labels, counts = discover(matrix)
        clean = time.monotonic() - clean_started
        print(f"baseline: a clean rollout and a clean rollback took {clean:.1f} s; a rollout "
              f"makes {len(labels.calls)} AWS calls, {counts['route']} router writes, "
              f"{counts['event']} events, {counts['state']} state saves", file=sys.stderr)
        print("| fault | injection points tried | runs | converged | data lost | command "
              "still succeeded | recovery used |")
        print("| --- | --- | --- | --- | --- | --- | --- |", flush=True)
        for kind, make in crash_points(counts):
            matrix.row(kind, (matrix.crash_start(p) for p in matrix.thin(make())))
        matrix.row("kill -9 during `rollout rollback` (every write of it)",
                   (matrix.crash_rollback(p) for p in matrix.thin(rollback_points(counts))))
        points = matrix.thin(labels.points())
        for kind, fault, attempts in AWS_ROWS:
            matrix.row(kind, (matrix.aws_fault(FaultRule(name.split(".")[0],
                                                         name.split(".")[1], nth, fault,
                                                         attempts))
                              for name, nth, _ in points))
        matrix.row("read timeout on every setting write, a new setting among them",
                   (matrix.lost_answer_on_every_setting_write(run) for run in range(1, 4)))
        matrix.row("abort during preflight (a 2 s security command, a 0.5 s lease)",
                   (matrix.abort_during_preflight(run) for run in range(1, 4)))
        for stop in ("abort", "rollback"):
            matrix.row(f"{stop} while another process bakes",
                       (matrix.stop_while_another_bakes(run, stop) for run in range(1, 4)))
        matrix.row("clock skew 90 s: a second process ahead tries to step",
                   (matrix.clock_ahead_by_90s(run) for run in range(1, 4)))
    runs = sum(len(row.runs) for row in matrix.rows)
    print(f"\n{runs} runs in {time.monotonic() - began:.0f} s"
          f"{' (--quick: every third point)' if quick else ''}; baseline clean rollout + "
          f"rollback {clean:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every third injection point")
    parser.add_argument("--only", metavar="TEXT", help="only the rows whose fault names TEXT")
    arguments = parser.parse_args()
    main(arguments.quick, arguments.only)
