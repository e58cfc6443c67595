"""``rollout`` run in this process, as a user runs it, against one app's project.

A user names the app one of two ways, and tests do both: the global options
``--app`` and ``--project-dir`` on each command (:func:`rollout` with ``fleet``), or
``ROLLOUT_APP`` and ``ROLLOUT_PROJECT_DIR`` (and ``ROLLOUT_TENANTS``) in the
environment for a whole module or test (:func:`address`). Either way the command runs
through :func:`rollout.cli.run`, which returns the exit code.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from rollout.cli import run


class AppProject(Protocol):
    """An app and the folder of its stack configs (a :class:`~tests.conftest.Fleet` is one)."""

    @property
    def app(self) -> str: ...

    @property
    def project_dir(self) -> Path: ...


@dataclass(frozen=True)
class Finished:
    """A command run: its exit code and output."""

    code: int
    stdout: str
    stderr: str


def app_options(fleet: AppProject) -> list[str]:
    """The global options that name ``fleet``'s app and project."""
    return ["--app", fleet.app, "--project-dir", str(fleet.project_dir)]


def rollout(*args: str, fleet: AppProject | None = None) -> int:
    """``rollout ARGS``'s exit code; with ``fleet``, addressed to it by the global options."""
    return run([*(app_options(fleet) if fleet is not None else []), *args])


def rollout_output(*args: str, fleet: AppProject | None = None) -> Finished:
    """:func:`rollout` with its output kept (exceptions other than exits propagate)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = rollout(*args, fleet=fleet)
    return Finished(code, out.getvalue(), err.getvalue())


def address(patch: pytest.MonkeyPatch, fleet: AppProject, tenants: Path | None = None) -> None:
    """Name ``fleet`` (and its ``tenants.yaml``) in the environment, as a CI job would."""
    patch.setenv("ROLLOUT_APP", fleet.app)
    patch.setenv("ROLLOUT_PROJECT_DIR", str(fleet.project_dir))
    if tenants is not None:
        patch.setenv("ROLLOUT_TENANTS", str(tenants))
