"""One cohort ready to be rolled out again and again: the stage every fault is tried on.

:func:`build_scenario` deploys a fleet with one cohort into the moto server at
hand, writes its ``tenants.yaml``, announces the release (zero-day notice), and
seeds every tenant's settings on the live colour, a SecureString among them.
:meth:`Scenario.reset` rolls a finished run back with ``rollout rollback`` and
has every tenant edit its settings on the live colour, so the next run's config
copy writes every setting again (and a fault there has writes to hit).

Runs happen the way users run them: ``start`` in a process of its own through
:mod:`tests.faults.crashing_cli` (which can crash it or fail its AWS calls), and
``resume``/``rollback`` in-process through :func:`rollout.cli.run`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rollout.discovery import CohortResources
from rollout.rollouts.executor import load_state
from rollout.rollouts.ledger import Ledger
from rollout.rollouts.state import Status
from tests import tenant_files
from tests.cli_runner import Finished, app_options, rollout_output
from tests.conftest import Fleet, deploy_fleet
from tests.faults.crashing_cli import (
    AUDIT_ENV,
    BACKOFF_ENV,
    CRASH_ENV,
    FAULT_LOG_ENV,
    FAULTS_ENV,
    REPO,
)
from tests.forked_cli import ForkedProcess, launch, run_forked
from tests.releases import EXAMPLE_NOTES

RELEASE = "1.5.0"
OLD_VERSION = "1.4.2"
CRASHING_CLI = "tests.faults.crashing_cli:main"
STRATEGY = "canary:50:0.3s"
CHECK_EVERY = "0.1s"
LEASE = "0.4s"
BACKOFF_SCALE = "0.02"

Seeded = dict[str, tuple[str, str]]
"""``tenant/key`` → (parameter type, value) as seeded on the live colour."""


def seed_values(tenants: Sequence[str], marker: str) -> Seeded:
    """Four settings a tenant: plain, a list and a SecureString unique to ``marker``."""
    seeded: Seeded = {}
    for index, tenant in enumerate(tenants):
        seeded[f"{tenant}/theme"] = ("String", ["light", "dark", "contrast"][index % 3])
        seeded[f"{tenant}/locale"] = ("String", ["en-GB", "de-DE", "ja-JP"][index % 3])
        seeded[f"{tenant}/features"] = ("StringList", "exports,sso,audit-log")
        seeded[f"{tenant}/api-token"] = ("SecureString", f"tok-{marker}-{tenant}")
    return seeded


@dataclass
class Scenario:
    """A deployed cohort with a release announced and tenant settings on the live colour."""

    fleet: Fleet
    cohort: str
    tenants_file: Path
    seeded: Seeded
    tenant_ids: tuple[str, ...] = ()
    strategy: str = STRATEGY
    generation: int = 0

    @property
    def resources(self) -> CohortResources:
        return self.fleet.cohorts[self.cohort]

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.fleet.clients, self.resources.ledger_table)

    def globals(self) -> list[str]:
        return app_options(self.fleet)

    def start_args(self, *, strategy: str | None = None, wait: bool = True,
                   lease: str = LEASE) -> list[str]:
        return ["start", "--cohort", self.cohort, "--release", RELEASE, "--strategy",
                strategy or self.strategy, "--tenants", str(self.tenants_file),
                *(["--wait"] if wait else []), "--check-every", CHECK_EVERY,
                "--lease", lease, "--json"]

    def notify_args(self) -> list[str]:
        return ["notify", "--release", RELEASE, "--tenants", str(self.tenants_file), "--notes",
                str(EXAMPLE_NOTES), "--json"]

    def command_args(self, command: str, *extra: str) -> list[str]:
        return [command, "--cohort", self.cohort, "--tenants", str(self.tenants_file), *extra,
                "--json"]

    # running -------------------------------------------------------------
    def run_here(self, args: list[str]) -> Finished:
        """``rollout ARGS`` in this process (fast; exceptions other than exits propagate)."""
        return rollout_output(*args, fleet=self.fleet)

    def environment(self, *, crash: str | None = None, faults: str | None = None,
                    fault_log: Path | None = None, audit: Path | None = None,
                    extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {**self.fleet.env(), BACKOFF_ENV: BACKOFF_SCALE, **(extra or {})}
        for name, value in ((CRASH_ENV, crash), (FAULTS_ENV, faults),
                            (FAULT_LOG_ENV, str(fault_log) if fault_log else None),
                            (AUDIT_ENV, str(audit) if audit else None)):
            if value:
                env[name] = value
            else:
                env.pop(name, None)
        return env

    def launch(self, args: list[str], env: dict[str, str]) -> ForkedProcess:
        """``rollout ARGS`` started in a process of its own with ``env`` (see
        :meth:`environment`), through :mod:`tests.faults.crashing_cli`; not waited for."""
        return launch([*self.globals(), *args], env, entry=CRASHING_CLI, cwd=REPO)

    def run_faulty(self, args: list[str], *, crash: str | None = None,
                   faults: str | None = None, fault_log: Path | None = None,
                   audit: Path | None = None, timeout: float = 120) -> Finished:
        """``rollout ARGS`` in a process of its own with a crash point and/or AWS faults
        (forked from a warm process, see :mod:`tests.forked_cli`)."""
        done = run_forked(
            [*self.globals(), *args], self.environment(
                crash=crash, faults=faults, fault_log=fault_log, audit=audit),
            entry=CRASHING_CLI, cwd=REPO, timeout=timeout)
        return Finished(done.returncode, done.stdout, done.stderr)

    # between runs --------------------------------------------------------
    def write_tenants(self, *, strategy: str = STRATEGY, security_command: str | None = None,
                      freezes: Sequence[Mapping[str, str]] | None = None,
                      more_cohorts: Sequence[tenant_files.Entry] = (),
                      more_tenants: Sequence[tenant_files.Entry] = ()) -> None:
        """The cohort's ``tenants.yaml``: its tenants, any time, no notice period, no
        company freeze; a test names what it changes."""
        self.tenants_file.write_text(tenant_files.tenants_yaml(
            [tenant_files.cohort_entry(self.cohort, strategy, security_command=security_command),
             *more_cohorts],
            [*(tenant_files.tenant_entry(name, self.cohort) for name in self.tenant_ids),
             *more_tenants],
            freezes=freezes))

    def wait_for_lease(self, limit: float = 10.0) -> None:
        """Until the cohort's lock is free or its (crashed) holder's lease has lapsed."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            holder = self.ledger.lock_holder(self.cohort)
            if holder is None:
                return
            left = holder.expires_at - time.time()
            if left < 0:
                return
            time.sleep(min(left + 0.05, 0.5))
        raise TimeoutError(f"the lock of {self.cohort} was not freed within {limit} s")

    def expire_lease(self) -> None:
        """Let the crashed holder's lease run out now instead of after its full minute.

        Commands without ``--lease`` hold the lock for 60 s, and a waiter takes a lock
        over only after watching it unchanged that long; removing the crashed holder's
        lock item is what that wait would end in, without the wait.
        """
        holder = self.ledger.lock_holder(self.cohort)
        if holder is not None:
            self.ledger.release(holder)

    def reset(self) -> None:
        """Back to the start line: the old colour live, and every tenant setting edited there.

        The edits (new values for every key, the SecureString included) make the next
        copy write every setting again, so its writes are where faults can strike.
        """
        self.wait_for_lease()
        state = load_state(self.ledger, self.cohort)
        if state is not None and state.status not in (Status.ROLLED_BACK, Status.ABORTED):
            done = self.run_here(self.command_args("rollback", "--reason", "scenario reset"))
            if done.code != 0:
                raise RuntimeError(f"reset rollback failed: {done.stderr or done.stdout}")
        self.generation += 1
        self.seeded = {key: (kind, f"{value.rsplit('~', 1)[0]}~{self.generation}")
                       for key, (kind, value) in self.seeded.items()}
        self.write_seeded()

    def add_setting(self, key: str, kind: str, value: str) -> None:
        """A tenant creates a setting on the live colour: the next copy creates it too."""
        self.seeded[key] = (kind, value)
        self.write_seeded()

    def write_seeded(self) -> None:
        """The tenants' settings as :attr:`seeded` says, on the live (blue) colour."""
        ssm = self.fleet.clients.client("ssm")
        live = self.resources.colour_prefix("blue")
        for key, (kind, value) in self.seeded.items():
            extra = {"KeyId": self.resources.kms_key_arn} if kind == "SecureString" else {}
            ssm.put_parameter(Name=f"{live}/{key}", Type=kind, Value=value, Overwrite=True,
                              Description=f"{key} (seeded)", **extra)


def build_scenario(base: Path, cohort: str, tenants: Sequence[str], *, marker: str = "fault",
                   announce: bool = True, app: str | None = None) -> Scenario:
    """Deploy, announce (unless told not to) and seed; moto must be up (AWS_ENDPOINT_URL).

    With ``app``, the cohort joins that app (same ``base``), reusing its shared stack.
    """
    fleet = deploy_fleet(base, {cohort: list(tenants)}, app=app,
                         versions={"blue": OLD_VERSION, "green": RELEASE})
    scenario = Scenario(fleet, cohort, fleet.project_dir / f"tenants-{cohort}.yaml",
                        seed_values(tenants, marker), tuple(tenants))
    scenario.write_tenants()
    if announce:
        notified = scenario.run_here(scenario.notify_args())
        if notified.code != 0:
            raise RuntimeError(f"notify failed: {notified.stderr}")
    scenario.write_seeded()
    return scenario
