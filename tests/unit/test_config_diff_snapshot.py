"""The snapshot a copy records, the bounded runner, and the debug-log guard; no AWS.

The ledger here is an in-memory stand-in with the same put/get/query/delete
behaviour as :class:`rollout.rollouts.ledger.Ledger`, so the tests check what the
snapshot book asks of it: parts, stale parts, tenant scoping, vouching.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, TypeVar, cast

import pytest
from pydantic import BaseModel

from rollout.configcopy.parallel import Parallel, StoppedEarly
from rollout.configcopy.snapshot import PART_SIZE, SnapshotBook, SnapshotEntry
from rollout.configcopy.wire_log import WITHHELD, guard_wire_logs
from rollout.rollouts.ledger import Ledger

M = TypeVar("M", bound=BaseModel)


class MemoryLedger:
    """Documents by (pk, sk), as JSON, like the DynamoDB ledger."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def put(self, pk: str, sk: str, doc: BaseModel, *, only_if_new: bool = False) -> bool:
        self.items[(pk, sk)] = doc.model_dump_json()
        return True

    def get(self, pk: str, sk: str, model: type[M]) -> M | None:
        found = self.items.get((pk, sk))
        return model.model_validate_json(found) if found else None

    def query(self, pk: str, sk_prefix: str, model: type[M]) -> list[M]:
        return [model.model_validate_json(doc) for (p, s), doc in sorted(self.items.items())
                if p == pk and s.startswith(sk_prefix)]

    def delete(self, pk: str, sk: str) -> None:
        self.items.pop((pk, sk), None)


def entry(source: str, target: str, left_alone: bool = False) -> SnapshotEntry:
    return SnapshotEntry(kind="String", source_stamp=source, target_stamp=target,
                         left_alone=left_alone)


@pytest.fixture
def ledger() -> MemoryLedger:
    return MemoryLedger()


def book(ledger: MemoryLedger) -> SnapshotBook:
    return SnapshotBook(cast(Ledger, ledger), "wave1", Parallel(workers=4))


def test_a_big_tenant_is_stored_in_parts_and_shrinks_cleanly(ledger: MemoryLedger) -> None:
    many = {f"acme/key{i:05d}": entry(f"{i}@s", f"{i}@t") for i in range(PART_SIZE * 2 + 5)}
    book(ledger).save("ssm", "blue", "green", {"acme": many, "globex": {}})

    acme_parts = [sk for _, sk in ledger.items if sk.startswith("SNAPSHOT#ssm#blue>green#acme#")]
    assert len(acme_parts) == 3
    assert book(ledger).entries("ssm", "blue", "green", "acme") == many

    book(ledger).save("ssm", "blue", "green", {"acme": {"acme/only": entry("1@s", "1@t")}})

    acme_parts = [sk for _, sk in ledger.items if sk.startswith("SNAPSHOT#ssm#blue>green#acme#")]
    assert len(acme_parts) == 1
    assert list(book(ledger).entries("ssm", "blue", "green")) == ["acme/only"]
    record = book(ledger).record("ssm", "blue", "green")
    assert record is not None and record.tenants == ["acme", "globex"]


def test_entries_of_one_tenant_exclude_tenants_sharing_its_prefix(ledger: MemoryLedger) -> None:
    book(ledger).save("ssm", "blue", "green", {"acme": {"acme/a": entry("1@s", "1@t")},
                                               "acme-eu": {"acme-eu/a": entry("2@s", "2@t")}})
    assert list(book(ledger).entries("ssm", "blue", "green", "acme")) == ["acme/a"]


def test_vouched_stamps_come_from_both_directions_but_never_from_a_left_alone_target(
        ledger: MemoryLedger) -> None:
    book(ledger).save("ssm", "blue", "green", {"acme": {
        "acme/copied": entry("1@blue", "1@green"),
        "acme/conflict": entry("2@blue", "9@green", left_alone=True)}})
    book(ledger).save("ssm", "green", "blue", {"acme": {
        "acme/source": entry("5@green", "6@blue")}})

    vouched = book(ledger).vouched("ssm", "green", "blue")

    assert vouched == {"acme/copied": frozenset({"1@green"}),
                       "acme/source": frozenset({"5@green"})}


# the bounded runner -------------------------------------------------------------
def test_the_runner_keeps_order_reports_progress_and_bounds_concurrency() -> None:
    progress: list[tuple[str, int, int]] = []
    running, peak = 0, 0
    lock = threading.Lock()

    def work(item: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threading.Event().wait(0.002)
        with lock:
            running -= 1
        return item * 2

    results = Parallel(workers=3, progress=lambda *step: progress.append(step)).map(
        "writing", work, list(range(30)))

    assert results == [i * 2 for i in range(30)]
    assert peak <= 3
    assert progress[-1] == ("writing", 30, 30)
    assert [done for _, done, _ in progress] == sorted(done for _, done, _ in progress)


def test_the_runner_stops_at_the_first_failure_and_says_how_far_it_got() -> None:
    def work(item: int) -> int:
        if item == 5:
            raise OSError("network gone")
        return item

    with pytest.raises(StoppedEarly) as stopped:
        Parallel(workers=1).map("writing", work, list(range(20)))

    assert (stopped.value.completed, stopped.value.total) == (5, 20)
    assert isinstance(stopped.value.cause, OSError)


# botocore's debug log -----------------------------------------------------------------
def test_a_wire_body_mentioning_a_secret_is_withheld(caplog: pytest.LogCaptureFixture) -> None:
    guard_wire_logs()
    caplog.set_level(logging.DEBUG)
    body: dict[str, Any] = {"body": b'{"Name": "/a/b", "Value": "hunter2", "Type": "SecureString"}'}
    logging.getLogger("botocore.endpoint").debug("Making request with params: %s", body)
    logging.getLogger("botocore.parsers").debug("Response body:\n%r", b'{"Value": "plain"}')

    assert "hunter2" not in caplog.text
    assert WITHHELD in caplog.text
    assert "plain" in caplog.text
