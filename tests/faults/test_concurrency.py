"""Eight CI jobs on one cohort: one lock holder at a time, no weight write without the lock.

Operators' stops (``rollback``, ``abort``) are the one exception: they need no lock, and
the rollout they stop writes nothing after them (see ``test_operator_stop``).

Every process runs ``rollout`` through :mod:`tests.faults.crashing_cli` with the lock
audit on, and as a different CI job (``GITHUB_RUN_ID``), so the ledger's event
actors say who did what. Three independent witnesses must agree: the processes'
own audit lines (lease taken, renewed, given back, refused; the ``LOCK`` item read
right before each router write), a thread sampling the ``LOCK`` item meanwhile,
and the event history.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from rollout.rollouts.ledger import Event
from tests.faults.conftest import SharedApp
from tests.faults.convergence import check
from tests.faults.crashes import CRASH_EXIT
from tests.faults.lock_audit import AuditEntry, LockAudit, as_json, audit_lines, read_audit
from tests.faults.scenario import CHECK_EVERY, Scenario
from tests.forked_cli import ForkedProcess

pytestmark = pytest.mark.integration


def actor(job: int) -> str:
    return f"github-actions run {job} (job-{job})"


def job_env(job: int) -> dict[str, str]:
    return {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": str(job), "GITHUB_ACTOR": f"job-{job}"}


@dataclass
class Holding:
    """One lease from acquisition to release (or, for a crashed holder, to its expiry)."""

    token: str
    actor: str
    start: float
    end: float


def holdings(entries: list[AuditEntry]) -> list[Holding]:
    found: dict[str, Holding] = {}
    for entry in entries:
        if entry.token is None or entry.actor is None:
            continue
        if entry.what == "acquired":
            found[entry.token] = Holding(entry.token, entry.actor, entry.at,
                                         entry.expires_at or entry.at)
        elif entry.what == "renewed" and entry.token in found:
            found[entry.token].end = max(found[entry.token].end, entry.expires_at or 0)
        elif entry.what == "released" and entry.token in found:
            found[entry.token].end = entry.at
    return sorted(found.values(), key=lambda h: h.start)


class LockSampler:
    """Reads the ``LOCK`` item every few milliseconds while the jobs run."""

    def __init__(self, scenario: Scenario) -> None:
        self._scenario = scenario
        self.tokens: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        ledger = self._scenario.ledger
        while not self._stop.is_set():
            held = ledger.lock_holder(self._scenario.cohort)
            if held is not None and (not self.tokens or self.tokens[-1] != held.token):
                self.tokens.append(held.token)
            time.sleep(0.05)

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Job:
    number: int
    process: ForkedProcess

    def finish(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=120)
        assert self.process.returncode is not None
        return self.process.returncode, out, err


def launch(scenario: Scenario, job: int, args: list[str], audit: Path,
           crash: str | None = None) -> Job:
    env = scenario.environment(audit=audit, crash=crash, extra=job_env(job))
    return Job(job, scenario.launch(args, env))


def wait_for(audit: Path, what: str, job: int, limit: float = 60) -> AuditEntry:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for entry in audit_lines(read_audit(audit), what):
            if entry.actor == actor(job):
                return entry
        time.sleep(0.05)
    raise TimeoutError(f"job {job} never logged {what!r}")


def wait_for_any(audit: Path, what: str, limit: float = 60) -> AuditEntry:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = audit_lines(read_audit(audit), what)
        if found:
            return found[0]
        time.sleep(0.05)
    raise TimeoutError(f"no job logged {what!r}")


def assert_one_holder_at_a_time(entries: list[AuditEntry], sampled: list[str]) -> None:
    held = holdings(entries)
    for before, after in itertools.pairwise(held):
        assert after.start >= before.end, f"two holders at once:\n{as_json(entries)}"
    tokens = [h.token for h in held]
    assert set(sampled) <= set(tokens), "the LOCK item held a token nobody acquired"
    assert len(sampled) == len(set(sampled)), "a lease came back after another one"
    assert [t for t in tokens if t in sampled] == sampled, "LOCK changed hands out of order"


def assert_router_writes_under_the_lock(entries: list[AuditEntry],
                                        operators: frozenset[str] = frozenset()) -> int:
    """Every router write under the writer's own lock, but an operator's stop's."""
    writes = [w for w in audit_lines(entries, "router-write")
              if not (w.token is None and w.actor in operators)]
    for write in writes:
        assert write.token is not None, f"router write without a lease: {write}"
        assert write.lock_token == write.token, f"router write under someone else's lock: {write}"
        assert write.lock_expires_at is not None and write.lock_expires_at > write.at, write
    return len(writes)


def assert_events_by_the_holder(events: list[Event], entries: list[AuditEntry],
                                since: float, operators: frozenset[str] = frozenset()) -> None:
    held = holdings(entries)
    for event in events:
        at = event.at.timestamp()
        if at < since or event.actor in operators:
            continue
        owners = [h.actor for h in held if h.start - 0.05 <= at <= h.end + 0.05]
        assert owners == [event.actor], f"event {event.seq} ({event.kind}) by {event.actor} " \
                                        f"while the lock was held by {owners}"


def assert_refusal_names_the_holder(refusal: AuditEntry, entries: list[AuditEntry]) -> None:
    """A refused job names whoever held the lock then (or, if it was just given back,
    says another process had it)."""
    message = refusal.message or ""
    if "locked by another process" in message:
        return
    holders = [h.actor for h in holdings(entries) if h.start - 0.5 <= refusal.at <= h.end + 0.5]
    assert any(f"locked by {who} " in message for who in holders), (refusal, holders)


def assert_history_whole(scenario: Scenario) -> list[Event]:
    events = scenario.ledger.events(scenario.cohort)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    keys = [str(e.data.get("key")) for e in events]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    assert not twice, f"events recorded twice: {twice}"
    return events


@pytest.fixture(scope="module")
def scenario(shared_app: SharedApp) -> Scenario:
    return shared_app.scenario("race", ["rook", "rhea"], marker="race")


def test_eight_jobs_on_one_cohort_take_turns_and_write_weights_only_under_the_lock(
        fresh: Scenario, tmp_path: Path) -> None:
    scenario = fresh
    audit = tmp_path / "audit.jsonl"
    since = time.time()
    slow_start = scenario.start_args(strategy="linear:50:1.5s", lease="5s")
    contenders: dict[int, list[str]] = {
        2: scenario.start_args(strategy="linear:50:0.3s", lease="5s"),
        3: scenario.command_args("step"), 4: scenario.command_args("step"),
        7: scenario.command_args("resume", "--check-every", CHECK_EVERY),
        8: scenario.command_args("step"),
    }
    stops = {5: scenario.command_args("rollback", "--reason", "job 5 says no"),
             6: scenario.command_args("rollback", "--reason", "job 6 says no")}
    with LockSampler(scenario) as sampler:
        first = launch(scenario, 1, slow_start, audit)
        wait_for(audit, "acquired", 1)
        jobs = [first, *(launch(scenario, n, args, audit) for n, args in contenders.items())]
        wait_for_any(audit, "refused")  # contended first; then the operators stop it
        jobs += [launch(scenario, n, args, audit) for n, args in stops.items()]
        results = {job.number: job.finish() for job in jobs}
    entries = read_audit(audit)

    for number, (code, _out, err) in results.items():
        assert code in (0, 1, 2, 3), f"job {number} exited {code}: {err}"  # 2: already runs
        assert "Traceback" not in err, err
    operators = frozenset({actor(5), actor(6)})  # the two rollbacks
    first_code, first_out, first_err = results[1]
    assert first_code == 0 or (first_code == 1 and "stopped by" in first_out), first_err
    refusals = audit_lines(entries, "refused")
    assert refusals, "no job ever found the cohort locked: nothing was contended"
    for refusal in refusals:
        assert_refusal_names_the_holder(refusal, entries)
    assert_one_holder_at_a_time(entries, sampler.tokens)
    assert assert_router_writes_under_the_lock(entries, operators) >= 1
    events = assert_history_whole(scenario)
    assert_events_by_the_holder(events, entries, since, operators)
    outcome = check(scenario.fleet, scenario.cohort, scenario.seeded)
    assert outcome.ledger_weights == outcome.listener_weights


def test_a_crashed_holders_lock_is_taken_over_after_one_lease_on_the_waiters_clock(
        fresh: Scenario, tmp_path: Path) -> None:
    """The waiter watches the lock's record version stay unchanged for a whole lease."""
    scenario = fresh
    audit = tmp_path / "audit.jsonl"
    crashed = launch(scenario, 99, scenario.start_args(lease="2.5s"), audit,
                     crash="route:after:1")
    finished = crashed.finish()
    assert finished[0] == CRASH_EXIT, finished
    expiry = max(e.expires_at or 0 for e in read_audit(audit) if e.actor == actor(99))

    began = time.monotonic()
    with LockAudit(str(audit)).installed():
        taken_over = scenario.run_here(
            scenario.command_args("resume", "--check-every", CHECK_EVERY))
    assert taken_over.code == 0, taken_over.stdout + taken_over.stderr
    assert time.monotonic() - began >= 2.5, "the lock was taken before a whole lease passed"

    entries = read_audit(audit)
    takeovers = [e for e in audit_lines(entries, "acquired") if e.actor != actor(99)]
    assert len(takeovers) == 1
    assert takeovers[0].at >= expiry
    assert_one_holder_at_a_time(entries, [])
    assert assert_router_writes_under_the_lock(entries) >= 2
    assert_history_whole(scenario)
    outcome = check(scenario.fleet, scenario.cohort, scenario.seeded)
    assert outcome.problems("promoted") == []
    assert outcome.lost == 0
