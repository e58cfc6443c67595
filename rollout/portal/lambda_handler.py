"""The preferences page behind a Lambda function URL or API Gateway, through Mangum.

Lambda's runtime looks ``handler`` up when it loads this module (the function's init),
and that look-up builds the backend from the environment (:func:`backend_from_env`),
so a missing setting fails the function's start-up, loudly, naming what is missing,
instead of its first tenant's request; importing the module alone builds nothing (a
test hands its own backend to :func:`handler_for`). ``lifespan="off"``: the app has
no start-up or shut-down hooks for Mangum to run per invocation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mangum import Mangum

from rollout.choices.portal_api import PortalBackend
from rollout.errors import RolloutFailed
from rollout.portal.app import create_app
from rollout.portal.releases import notes_in, offered_releases
from rollout.vocabulary.portal_function import (
    APP_ENV,
    LEDGER_TABLE_ENV,
    NOTES_DIR_ENV,
    TENANTS_FILE_ENV,
)

TASK_ROOT_ENV = "LAMBDA_TASK_ROOT"
"""Where Lambda unpacked the function's zip (it defines the variable itself)."""
SETTINGS = {
    APP_ENV: "the app, whose link key signs the notices' links",
    LEDGER_TABLE_ENV: "the shared stack's ledger table",
    TENANTS_FILE_ENV: "the tenants file, in the function's package",
    NOTES_DIR_ENV: "a folder of the release notes tenants may choose about",
}
"""The environment the function needs, and what each variable holds (a relative path is
in the function's zip, :mod:`rollout.portal.bundle`)."""


def _in_task(environ: Mapping[str, str], name: str) -> Path:
    return Path(environ.get(TASK_ROOT_ENV) or ".") / environ[name]


def backend_from_env(environ: Mapping[str, str] | None = None) -> PortalBackend:
    """The ledger's backend as the function's environment describes it (region: Lambda's)."""
    environ = os.environ if environ is None else environ
    missing = [f"{name} ({what})" for name, what in SETTINGS.items() if not environ.get(name)]
    if missing:
        raise RolloutFailed("the preferences page cannot start: set " + "; ".join(missing))
    from rollout.aws_clients import AwsClients
    from rollout.choices.backend import LedgerPortalBackend
    from rollout.choices.key import link_key

    clients = AwsClients()
    notes = offered_releases(notes_in(_in_task(environ, NOTES_DIR_ENV)))
    return LedgerPortalBackend(clients, environ[LEDGER_TABLE_ENV],
                               _in_task(environ, TENANTS_FILE_ENV), notes,
                               link_key(clients, environ[APP_ENV]))


def handler_for(backend: PortalBackend) -> Mangum:
    """A Lambda handler serving the page over ``backend``."""
    return Mangum(create_app(backend), lifespan="off")


def __getattr__(name: str) -> Any:
    """``handler``, built on first look-up (Lambda's init) and kept."""
    if name != "handler":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    made = handler_for(backend_from_env())
    globals()["handler"] = made
    return made
