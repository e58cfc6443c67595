"""What must hold before any traffic moves: notice given, config copied, security green.

Each check is a small class with ``name``, ``plan(state)`` (what it will do, for the
plan ``start`` shows) and ``run(state) -> summary`` (see
:class:`rollout.rollouts.executor.Preflight`); a failing check raises Blocked (exit 3)
or RolloutFailed (exit 1) and the executor records why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.errors import Blocked
from rollout.gates.base import Verdict
from rollout.model.tenants import TenantsFile
from rollout.rollouts.ledger import RolloutLedger
from rollout.rollouts.state import RolloutState
from rollout.schedule.notice import NoticeRecord, missing_notices
from rollout.vocabulary.counts import and_more
from rollout.vocabulary.ledger_keys import NOTICE_TENANT_PREFIX, notice_pk


class NoticeCheck:
    """Every tenant about to be upgraded has had its full notice period."""

    name = "notice"

    def __init__(self, ledger: RolloutLedger, tenants: TenantsFile, now: datetime,
                 override_reason: str | None) -> None:
        self._ledger = ledger
        self._tenants = tenants
        self._now = now
        self._override = override_reason

    def plan(self, state: RolloutState) -> str:
        overridden = f" (or go on without it: {self._override})" if self._override else ""
        return (f"check that every tenant of {state.cohort} has had its full notice for "
                f"{state.release}{overridden}")

    def run(self, state: RolloutState) -> str:
        records = {r.tenant: r for r in self._ledger.query(
            notice_pk(state.release), NOTICE_TENANT_PREFIX, NoticeRecord)}
        missing = missing_notices(self._tenants, state.cohort, records, self._now)
        if not missing:
            return f"every tenant of {state.cohort} has had its notice for {state.release}"
        if self._override:
            return (f"notice overridden for {len(missing)} tenant(s) "
                    f"({', '.join(m.tenant for m in missing)}): {self._override}")
        first = missing[0]
        raise Blocked(f"{first.tenant} has not had its full notice for {state.release}: "
                      f"{first.reason}{and_more(len(missing) - 1)}; wait, or pass "
                      "--override-notice REASON")


class SecurityCheck:
    """The security gate: policy rules on the live resources, plus the cohort's own command."""

    name = "security"

    def __init__(self, clients: AwsClients, cohort: CohortResources, command: str | None,
                 timeout: float | None = None, extra_env: Sequence[str] = ()) -> None:
        self._clients = clients
        self._cohort = cohort
        self._command = command
        self._timeout = timeout
        self._extra_env = tuple(extra_env)

    def plan(self, state: RolloutState) -> str:
        command = " and the cohort's own security command" if self._command else ""
        return f"check the security rules on {state.new_colour}'s live resources{command}"

    def run(self, state: RolloutState) -> str:
        from rollout.gates.security import DEFAULT_COMMAND_TIMEOUT, run_checks

        results = run_checks(self._clients, self._cohort, self._command,
                             new_colour=state.new_colour,
                             timeout=self._timeout or DEFAULT_COMMAND_TIMEOUT,
                             extra_env=self._extra_env)
        failed = [r for r in results if r.verdict != Verdict.PASS]
        if failed:
            raise Blocked(f"security gate: {failed[0].gate}: {failed[0].reason}"
                          f"{and_more(len(failed) - 1)}")
        return f"{len(results)} security checks passed"
