"""The in-memory ledger and the DynamoDB ledger keep one contract, checked on both.

The executor's unit tests trust :class:`MemoryLedger` to refuse what DynamoDB refuses:
a document written twice with ``only_if_new``, a state saved at a stale revision, by a
holder whose lease was taken over, or past an operator's stop request; a live lock
taken over; a lease renewed or released by someone else. Every rule here runs against
both, the DynamoDB one on moto.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from rollout.aws_clients import AwsClients
from rollout.errors import Blocked
from rollout.rollouts.ledger import Event, Lease, Ledger, StoppedByOperator, StopRequest
from rollout.rollouts.memory_ledger import MemoryLedger
from rollout.vocabulary.ledger_keys import STATE_SK, cohort_pk, stop_sk
from tests.ledger_tables import fresh_ledger
from tests.rollout_doubles import FakeClock

pytestmark = pytest.mark.integration

STARTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Doc(BaseModel):
    text: str


class Contract:
    """One ledger under test, and a way to take a lease judged on the fake clock."""

    def __init__(self, ledger: Ledger | MemoryLedger, clock: FakeClock) -> None:
        self.ledger = ledger
        self.clock = clock

    def acquire(self, holder: str, seconds: float = 5, patience: float = 0.0) -> Lease:
        if isinstance(self.ledger, Ledger):
            return self.ledger.acquire("canary", holder, seconds, patience=patience,
                                       monotonic=self.clock.monotonic, sleep=self.clock.sleep)
        return self.ledger.acquire("canary", holder, seconds, patience=patience)


def memory() -> Contract:
    clock = FakeClock()
    return Contract(MemoryLedger(monotonic=clock.monotonic, sleep=clock.sleep), clock)


def dynamodb() -> Contract:
    return Contract(fresh_ledger(AwsClients(), "contract"), FakeClock())


@pytest.fixture(params=[memory, dynamodb], ids=["memory", "dynamodb"])
def contract(request: pytest.FixtureRequest, moto_endpoint: str) -> Contract:
    make: Callable[[], Contract] = request.param
    return make()


def test_only_if_new_refuses_an_existing_key(contract: Contract) -> None:
    ledger = contract.ledger
    assert ledger.put("P", "S", Doc(text="first"), only_if_new=True)
    assert not ledger.put("P", "S", Doc(text="second"), only_if_new=True)
    assert ledger.get("P", "S", Doc) == Doc(text="first")
    ledger.put("P", "S", Doc(text="third"))
    assert ledger.get("P", "S", Doc) == Doc(text="third")
    ledger.put("P", "S#2", Doc(text="later"))
    assert [d.text for d in ledger.query("P", "S", Doc)] == ["third", "later"]
    ledger.delete("P", "S")
    assert ledger.get("P", "S", Doc) is None


def test_a_state_saves_only_at_the_revision_read(contract: Contract) -> None:
    ledger = contract.ledger
    ledger.save_state("canary", Doc(text="r1"), expected_revision=0, lease=None, fence=None)
    with pytest.raises(Blocked, match="another process changed"):
        ledger.save_state("canary", Doc(text="again"), expected_revision=0, lease=None,
                          fence=None)
    ledger.save_state("canary", Doc(text="r2"), expected_revision=1, lease=None, fence=None)
    with pytest.raises(Blocked, match="another process changed"):
        ledger.save_state("canary", Doc(text="stale"), expected_revision=1, lease=None,
                          fence=None)
    assert ledger.get(cohort_pk("canary"), STATE_SK, Doc) == Doc(text="r2")


def test_a_state_written_without_a_revision_accepts_any(contract: Contract) -> None:
    """Items from before revisions existed (or a plain put) carry none: nothing to compare."""
    ledger = contract.ledger
    ledger.save_state("canary", Doc(text="r1"), expected_revision=0, lease=None, fence=None)
    ledger.put(cohort_pk("canary"), STATE_SK, Doc(text="by hand"))
    ledger.save_state("canary", Doc(text="r8"), expected_revision=7, lease=None, fence=None)
    assert ledger.get(cohort_pk("canary"), STATE_SK, Doc) == Doc(text="r8")


def test_a_holder_whose_lease_was_taken_over_cannot_save(contract: Contract) -> None:
    ledger = contract.ledger
    first = contract.acquire("first")
    ledger.save_state("canary", Doc(text="r1"), expected_revision=0, lease=first, fence=None)
    second = contract.acquire("second")  # first never renews: taken over after one lease
    assert contract.clock.ticks - 1000.0 >= 5
    with pytest.raises(Blocked, match="our lease was taken over"):
        ledger.save_state("canary", Doc(text="r2"), expected_revision=1, lease=first,
                          fence=None)
    with pytest.raises(Blocked, match="taken over"):
        ledger.renew(first)
    ledger.release(first)
    holder = ledger.lock_holder("canary")
    assert holder is not None and holder.token == second.token, "release is only the owner's"
    ledger.save_state("canary", Doc(text="r2"), expected_revision=1, lease=second, fence=None)


def test_a_live_holder_keeps_its_lock(contract: Contract) -> None:
    held = contract.acquire("first")
    contract.clock.on_sleep = lambda: contract.ledger.renew(held)
    with pytest.raises(Blocked, match=r"locked by first \(alive"):
        contract.acquire("second", patience=3)
    assert 3 <= contract.clock.ticks - 1000.0 < 5, "it waited its patience, not a lease"


def test_a_stop_request_fences_every_forward_save(contract: Contract) -> None:
    ledger = contract.ledger
    lease = contract.acquire("holder")
    ledger.save_state("canary", Doc(text="r1"), expected_revision=0, lease=lease,
                      fence=stop_sk(STARTED))
    ledger.request_stop("canary", StopRequest(kind="abort", reason="not today", actor="ops",
                                              at=STARTED, rollout_started_at=STARTED))
    with pytest.raises(StoppedByOperator, match="stopped by ops"):
        ledger.save_state("canary", Doc(text="r2"), expected_revision=1, lease=lease,
                          fence=stop_sk(STARTED))
    ledger.save_state("canary", Doc(text="stopped"), expected_revision=1, lease=None,
                      fence=None)
    stop = ledger.stop_request("canary", STARTED)
    assert stop is not None and stop.reason == "not today"


def test_events_are_numbered_from_one_without_gaps(contract: Contract) -> None:
    ledger = contract.ledger
    for kind in ("started", "step", "promoted"):
        ledger.append_event("canary", Event(kind=kind, message=kind, actor="ci"))
    assert [(e.seq, e.kind) for e in ledger.events("canary")] == [
        (1, "started"), (2, "step"), (3, "promoted")]


def outcome(actor: str) -> Event:
    """The event a rollback's operator and a resumed job both record: same key, own actor."""
    return Event(kind="rolled_back", message="all traffic back on blue", actor=actor,
                 data={"key": f"{STARTED.isoformat()}:rolled_back"})


def test_a_keyed_event_appended_twice_is_recorded_once(contract: Contract) -> None:
    ledger = contract.ledger
    ledger.append_event("canary", Event(kind="started", message="started", actor="ci"))
    first = ledger.append_event("canary", outcome("ops@laptop"))
    second = ledger.append_event("canary", outcome("ci@runner"))
    assert second == first, "the second append answers with the event already recorded"
    assert [(e.seq, e.kind, e.actor) for e in ledger.events("canary")] == [
        (1, "started", "ci"), (2, "rolled_back", "ops@laptop")]
    ledger.append_event("canary", Event(kind="config", message="carried back", actor="ci"))
    assert [e.seq for e in ledger.events("canary")] == [1, 2, 3]


def test_eight_processes_appending_one_keyed_event_at_once_record_it_once(
        contract: Contract) -> None:
    ledger = contract.ledger
    together = threading.Barrier(8)

    def append(actor: str) -> Event:
        together.wait()
        return ledger.append_event("canary", outcome(actor))

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(append, [f"job-{n}" for n in range(8)]))
    recorded = ledger.events("canary")
    assert [(e.seq, e.kind) for e in recorded] == [(1, "rolled_back")]
    assert all(answer == recorded[0] for answer in answers), "each is told what was recorded"


def test_a_keyed_event_that_loses_its_number_leaves_no_claim_behind(
        contract: Contract, monkeypatch: pytest.MonkeyPatch) -> None:
    """The event and its claim are written together or not at all: a write refused for
    its number (another process took it) claims nothing, so the retry still records it,
    as ``resume`` still records an outcome whose write a crash stopped."""
    ledger = contract.ledger
    ledger.append_event("canary", Event(kind="started", message="started", actor="ci"))
    real = ledger.last_event
    stale: list[Event | None] = [None]  # a look at the history from before "started"
    monkeypatch.setattr(ledger, "last_event",
                        lambda cohort: stale.pop() if stale else real(cohort))
    recorded = ledger.append_event("canary", outcome("ops@laptop"))
    assert not stale, "the append numbered its event on the stale look first"
    assert recorded.seq == 2
    assert [(e.seq, e.kind) for e in ledger.events("canary")] == [(1, "started"),
                                                                   (2, "rolled_back")]


def test_an_event_without_a_key_is_appended_every_time(contract: Contract) -> None:
    ledger = contract.ledger
    pin = Event(kind="pinned", message="gale pinned to blue", actor="ops",
                data={"tenants": {"gale": "opted out"}})
    ledger.append_event("canary", pin)
    ledger.append_event("canary", pin)
    assert [(e.seq, e.kind) for e in ledger.events("canary")] == [(1, "pinned"), (2, "pinned")]


def test_the_key_layout_is_the_one_the_table_holds(contract: Contract) -> None:
    """Existing ledgers hold these keys: a change of layout would orphan every rollout."""
    ledger = contract.ledger
    lease = contract.acquire("holder")
    ledger.save_state("canary", Doc(text="r1"), expected_revision=0, lease=lease, fence=None)
    ledger.append_event("canary", Event(kind="started", message="started", actor="ci"))
    ledger.append_event("canary", outcome("ops"))
    ledger.request_stop("canary", StopRequest(kind="rollback", reason="r", actor="ops",
                                              at=STARTED, rollout_started_at=STARTED))
    if isinstance(ledger, Ledger):
        items = ledger._db.scan(TableName=ledger.table)["Items"]
        keys = sorted((item["pk"]["S"], item["sk"]["S"]) for item in items)
    else:
        keys = ledger.keys()
    assert keys == [("COHORT#canary", "EVENT#000000001"), ("COHORT#canary", "EVENT#000000002"),
                    ("COHORT#canary", "EVENTKEY#2026-03-02T09:00:00+00:00:rolled_back"),
                    ("COHORT#canary", "LOCK"), ("COHORT#canary", "STATE"),
                    ("COHORT#canary", "STOP#2026-03-02T09:00:00+00:00")]
