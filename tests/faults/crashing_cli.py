"""The ``rollout`` command with crashes, AWS faults and a lock audit switched on from outside.

Run it exactly like ``python -m rollout.cli``::

    ROLLOUT_TEST_CRASH=route:after:1 python tests/faults/crashing_cli.py start ...

Environment (all optional; without any, this *is* ``rollout``):

``ROLLOUT_TEST_CRASH``         a :class:`~tests.faults.crashes.CrashPoint` spec
``ROLLOUT_TEST_FAULTS``        :class:`~tests.faults.injector.FaultRule` specs, comma-separated
``ROLLOUT_TEST_FAULT_LOG``     file that receives one JSON line per failed attempt
``ROLLOUT_TEST_BACKOFF_SCALE`` factor for botocore's retry sleeps (e.g. ``0.01``)
``ROLLOUT_TEST_LOCK_AUDIT``    file for the :mod:`~tests.faults.lock_audit` trail

The product has no test hooks of its own: this wrapper patches it before the
command line runs, which is why the tests run this file instead of the console script.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CRASH_ENV = "ROLLOUT_TEST_CRASH"
FAULTS_ENV = "ROLLOUT_TEST_FAULTS"
FAULT_LOG_ENV = "ROLLOUT_TEST_FAULT_LOG"
BACKOFF_ENV = "ROLLOUT_TEST_BACKOFF_SCALE"
AUDIT_ENV = "ROLLOUT_TEST_LOCK_AUDIT"
SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parents[2]


def install_from_environment() -> None:
    """Switch on whatever the environment asks for."""
    from tests.faults.crashes import CrashInjector, CrashPoint
    from tests.faults.injector import FaultInjector, compress_backoff, parse_rules
    from tests.faults.lock_audit import LockAudit

    if os.environ.get(BACKOFF_ENV):
        compress_backoff(float(os.environ[BACKOFF_ENV]))
    if os.environ.get(FAULTS_ENV):
        FaultInjector(parse_rules(os.environ[FAULTS_ENV]),
                      log_path=os.environ.get(FAULT_LOG_ENV)).install()
    if os.environ.get(AUDIT_ENV):
        LockAudit(os.environ[AUDIT_ENV]).install()
    if os.environ.get(CRASH_ENV):
        CrashInjector(CrashPoint.parse(os.environ[CRASH_ENV])).install()


def main() -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    install_from_environment()
    from rollout.cli import main as rollout_main

    rollout_main()


if __name__ == "__main__":
    main()
