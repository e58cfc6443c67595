"""An audit trail of the cohort lock and the router writes made under it, across processes.

Each process running the ``rollout`` command through :mod:`tests.faults.crashing_cli`
appends JSON lines to one shared file:

* ``acquired`` / ``renewed`` / ``released`` / ``refused``: its lease operations, with
  the lease token, expiry and the wall-clock time;
* ``router-write``: every ``ModifyListener``/``CreateRule``/``ModifyRule``/``DeleteRule``,
  with the lease the process believes it holds *and* the ``LOCK`` item read from
  DynamoDB (consistently, with a client of its own) just before the call.

A test reads the lines back as :class:`AuditEntry` objects and checks that lock
holdings never overlap and that no router write happened without the lock.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from pydantic import BaseModel

from rollout.errors import Blocked
from rollout.rollouts.ledger import Lease, Ledger, default_actor
from rollout.vocabulary.ledger_keys import LOCK_SK, cohort_pk
from tests.faults.client_hooks import add_client_hook, remove_client_hook
from tests.faults.injector import append_line

ROUTER_WRITES = ("ModifyListener", "CreateRule", "ModifyRule", "DeleteRule")


class AuditEntry(BaseModel):
    """One line of the audit file."""

    what: str
    pid: int
    actor: str | None = None
    at: float
    token: str | None = None
    expires_at: float | None = None
    cohort: str | None = None
    operation: str | None = None
    lock_token: str | None = None
    lock_holder: str | None = None
    lock_expires_at: float | None = None
    message: str | None = None


def read_audit(path: Path) -> list[AuditEntry]:
    if not path.exists():
        return []
    return [AuditEntry.model_validate_json(line)
            for line in path.read_text().splitlines() if line.strip()]


class LockAudit:
    """Installs the logging patches in the current process."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lease: Lease | None = None
        self._table: str | None = None
        self._dynamodb: Any = None
        self._active = False
        self._originals: tuple[Callable[..., Lease], Callable[..., Lease], Callable[..., None]] = (
            Ledger.acquire, Ledger.renew, Ledger.release)

    def _write(self, what: str, **data: Any) -> None:
        entry = AuditEntry(what=what, pid=os.getpid(), at=time.time(), **data)
        append_line(self._path, entry.model_dump_json(exclude_none=True))

    def install(self) -> None:
        self._active = True
        self._patch_ledger()
        add_client_hook(self._attach)

    def uninstall(self) -> None:
        Ledger.acquire, Ledger.renew, Ledger.release = self._originals  # type: ignore[method-assign]
        remove_client_hook(self._attach)
        self._active = False
        self._lease = None

    @contextmanager
    def installed(self) -> Iterator[LockAudit]:
        """Audit this process (the test's own in-process commands) for a block."""
        self.install()
        try:
            yield self
        finally:
            self.uninstall()

    def _patch_ledger(self) -> None:
        acquire, renew, release = self._originals
        audit = self

        def audited_acquire(ledger: Ledger, cohort: str, holder: str,
                            seconds: float = 60, **waiting: Any) -> Lease:
            try:
                lease = acquire(ledger, cohort, holder, seconds, **waiting)
            except Blocked as refused:
                audit._write("refused", actor=holder, cohort=cohort, message=str(refused))
                raise
            audit._lease, audit._table = lease, ledger.table
            audit._write("acquired", actor=holder, cohort=cohort, token=lease.token,
                         expires_at=lease.expires_at)
            return lease

        def audited_renew(ledger: Ledger, lease: Lease, seconds: float | None = None) -> Lease:
            renewed = renew(ledger, lease, seconds)
            audit._lease = renewed
            audit._write("renewed", actor=lease.holder, cohort=lease.cohort,
                         token=lease.token, expires_at=renewed.expires_at)
            return renewed

        def audited_release(ledger: Ledger, lease: Lease) -> None:
            audit._write("released", actor=lease.holder, cohort=lease.cohort, token=lease.token)
            audit._lease = None
            release(ledger, lease)

        Ledger.acquire = audited_acquire  # type: ignore[method-assign,assignment]
        Ledger.renew = audited_renew  # type: ignore[method-assign,assignment]
        Ledger.release = audited_release  # type: ignore[method-assign,assignment]

    def _attach(self, client: Any) -> None:
        client.meta.events.register("before-call.elastic-load-balancing-v2.*",
                                    self._router_write, unique_id="tests-faults-lock-audit")

    def _router_write(self, model: Any, **_: Any) -> None:
        if model.name not in ROUTER_WRITES or not self._active:
            return
        lease = self._lease
        lock: dict[str, Any] = {}
        if lease is not None and self._table is not None:
            if self._dynamodb is None:
                self._dynamodb = boto3.client("dynamodb")
            lock = self._dynamodb.get_item(
                TableName=self._table, ConsistentRead=True,
                Key={"pk": {"S": cohort_pk(lease.cohort)}, "sk": {"S": LOCK_SK}}).get("Item", {})
        self._write(
            "router-write", operation=model.name,
            actor=lease.holder if lease else default_actor(),
            cohort=lease.cohort if lease else None,
            token=lease.token if lease else None,
            expires_at=lease.expires_at if lease else None,
            lock_token=lock.get("token", {}).get("S"),
            lock_holder=lock.get("holder", {}).get("S"),
            lock_expires_at=float(lock["expires_at"]["N"]) if "expires_at" in lock else None)


def audit_lines(entries: list[AuditEntry], what: str) -> list[AuditEntry]:
    return [entry for entry in entries if entry.what == what]


def as_json(entries: list[AuditEntry]) -> str:
    """For assertion messages."""
    return json.dumps([e.model_dump(exclude_none=True) for e in entries], indent=1)
