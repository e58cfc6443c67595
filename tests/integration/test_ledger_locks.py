"""The lease lock against a moto server, judged on a fake monotonic clock.

A waiter takes a lock over only after watching its record version stay unchanged
for a whole lease on its own clock, including a lock item an older version of the
toolkit wrote (no record version): such a lock must not hang every later command.
"""

from __future__ import annotations

import time

import pytest

from rollout.aws_clients import AwsClients
from rollout.errors import Blocked
from rollout.rollouts.ledger import Ledger
from rollout.vocabulary.ledger_keys import LOCK_SK, cohort_pk
from tests.ledger_tables import fresh_ledger
from tests.rollout_doubles import FakeClock

pytestmark = pytest.mark.integration


@pytest.fixture
def ledger(aws: AwsClients) -> Ledger:
    return fresh_ledger(aws, "ledger")


def test_a_lock_written_before_record_versions_is_taken_over_after_one_lease(
        ledger: Ledger, aws: AwsClients) -> None:
    aws.client("dynamodb").put_item(TableName=ledger.table, Item={
        "pk": {"S": cohort_pk("canary")}, "sk": {"S": LOCK_SK}, "holder": {"S": "old-ci"},
        "token": {"S": "old"}, "expires_at": {"N": repr(time.time() + 3600)}})
    clock = FakeClock()
    lease = ledger.acquire("canary", "new-ci", 5, monotonic=clock.monotonic, sleep=clock.sleep)
    assert clock.ticks - 1000.0 >= 60, "taken before a whole (default) lease of watching"
    holder = ledger.lock_holder("canary")
    assert holder is not None and holder.token == lease.token


def test_a_holder_that_renews_is_alive_and_the_waiter_stops(ledger: Ledger) -> None:
    held = ledger.acquire("canary", "first", 5)
    clock = FakeClock()

    def renewing_sleep(seconds: float) -> None:
        clock.sleep(seconds)
        ledger.renew(held)

    with pytest.raises(Blocked, match=r"locked by first \(alive"):
        ledger.acquire("canary", "second", 5, monotonic=clock.monotonic, sleep=renewing_sleep)
    assert clock.ticks - 1000.0 < 5, "a live holder is seen within one lease"
