"""Keep the local listener's routing as fresh as the listener in moto.

The router writes weights and pins to the listener with the elbv2 API; ALB applies a
change within moments, so the stand-in must too. A daemon thread reads the listener's
rules and the colours' registered targets through the API (never moto's insides)
every ``every`` seconds and swaps in a new :class:`Snapshot` in one assignment: a
request routes by one consistent reading, never half of one. One ``DescribeRules``
holds the weights too (the default rule carries the listener's default action), so a
reading never pairs new pins with old weights. Two polls at the default 20 ms plus
their reads keep a change within 100 ms of the ``ModifyListener``
(``bench/data_plane.py`` measures it). Target health is read every ``targets_every``
seconds only: a target registering is not part of that promise (ALB takes a health
check or more itself), and its two reads cost twice what the rules' does, time the
listener would rather spend forwarding.

A failed read, whatever failed, keeps the previous snapshot (ALB keeps routing when its
control plane hiccups) and is kept in :attr:`ListenerWatcher.last_error`, so the thread
never dies quietly; only the first read, in :meth:`ListenerWatcher.start`, raises.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.local.data_plane.background import Repeating
from rollout.local.data_plane.routing import RoutingTable, table_from_aws

DESCRIBE_RULES_PAGE = 400
LISTENER_READ_EVERY = 0.02
"""Seconds between two readings: what keeps a change within 100 ms (see above)."""
UNSERVED_STATES = frozenset({"draining", "unused"})
"""Target states ALB sends no new requests to."""


@dataclass(frozen=True)
class Snapshot:
    """One reading of the listener: its routing, each target group's targets, and when
    it was read (``time.monotonic()``)."""

    table: RoutingTable
    targets: dict[str, tuple[str, ...]]
    read_at: float


def serving_targets(descriptions: list[dict[str, Any]]) -> tuple[str, ...]:
    """The target ids ALB would send to: the healthy ones; when none is healthy, every one
    not draining (ALB fails open rather than dropping all traffic)."""
    live = [d for d in descriptions if d["TargetHealth"]["State"] not in UNSERVED_STATES]
    healthy = [d for d in live if d["TargetHealth"]["State"] == "healthy"]
    return tuple(d["Target"]["Id"] for d in healthy or live)


class ListenerWatcher:
    """Polls one cohort's listener, rules and colour target groups into a :class:`Snapshot`."""

    def __init__(self, clients: AwsClients, cohort: CohortResources,
                 every: float = LISTENER_READ_EVERY, *, targets_every: float = 0.2,
                 on_change: Callable[[float], None] | None = None) -> None:
        """``on_change`` is called with ``time.time()`` right after a reading whose routing
        differs from the one before has been swapped in: from then on requests route by it
        (a rehearsal measures what a colour served after a rollback took effect)."""
        self._elbv2 = clients.for_region(cohort.region).client("elbv2")
        self._cohort = cohort
        self._every = every
        self._targets_every = targets_every
        self._targets_read_at = -math.inf
        self._snapshot: Snapshot | None = None
        self._on_change = on_change
        self._loop = Repeating("listener-watcher", every, self._poll)

    @property
    def cohort(self) -> CohortResources:
        return self._cohort

    def read(self) -> Snapshot:
        """Read the listener's rules and the colours' targets now."""
        return self._read(with_targets=True)

    def _read(self, *, with_targets: bool) -> Snapshot:
        """A new snapshot; the previous one's targets unless ``with_targets``."""
        pages = self._elbv2.get_paginator("describe_rules").paginate(
            ListenerArn=self._cohort.listener_arn,
            PaginationConfig={"PageSize": DESCRIBE_RULES_PAGE})
        rules = [rule for page in pages for rule in page["Rules"]]
        if with_targets or self._snapshot is None:
            targets = {arn: serving_targets(self._elbv2.describe_target_health(
                TargetGroupArn=arn)["TargetHealthDescriptions"])
                for arn in self._cohort.target_group_arns.values()}
            self._targets_read_at = time.monotonic()
        else:
            targets = self._snapshot.targets
        return Snapshot(table_from_aws(rules), targets, time.monotonic())

    def snapshot(self) -> Snapshot:
        """The latest reading; :class:`RuntimeError` before :meth:`start`."""
        if self._snapshot is None:
            raise RuntimeError("the listener watcher has not been started")
        return self._snapshot

    def start(self) -> ListenerWatcher:
        """Read once (raising what that raises), then keep reading in a daemon thread."""
        if not self._loop.running:
            self._snapshot = self.read()
            self._loop.start()
        return self

    def stop(self) -> None:
        self._loop.stop()

    @property
    def last_error(self) -> Exception | None:
        """Why the latest read failed (the table in use is the last one read), or None."""
        return self._loop.last_error

    def _poll(self) -> None:
        due = time.monotonic() - self._targets_read_at >= self._targets_every
        before = self._snapshot
        self._snapshot = self._read(with_targets=due)
        if self._on_change is not None and before is not None \
                and before.table != self._snapshot.table:
            self._on_change(time.time())

    def __enter__(self) -> ListenerWatcher:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
