"""What every command needs: AWS clients, the app name, discovery and the ledger.

Built lazily, so ``rollout --help`` and bad-input errors never touch AWS.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

import yaml

from infra.config import CONFIG_KEY, PROJECT
from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources, Discovery, SharedResources
from rollout.errors import BadInput
from rollout.ledger import Ledger


def app_from_project(project_dir: Path) -> str | None:
    """The ``app`` of the shared stack config in ``project_dir``, if there is one."""
    path = project_dir / "Pulumi.shared.yaml"
    if not path.exists():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return str(data["config"][f"{PROJECT}:{CONFIG_KEY}"]["app"])
    except (yaml.YAMLError, KeyError, TypeError):
        return None


class RolloutContext:
    """Lazily built clients and lookups for one command invocation."""

    def __init__(self, project_dir: Path | None = None, app: str | None = None) -> None:
        self.project_dir = project_dir or Path(os.environ.get("ROLLOUT_PROJECT_DIR", "."))
        self._app = app

    @cached_property
    def app(self) -> str:
        app = self._app or os.environ.get("ROLLOUT_APP") or app_from_project(self.project_dir)
        if not app:
            raise BadInput("no app name: pass --app, set ROLLOUT_APP, or run in a directory "
                           "with Pulumi.shared.yaml")
        return app

    @cached_property
    def clients(self) -> AwsClients:
        return AwsClients()

    @cached_property
    def discovery(self) -> Discovery:
        return Discovery(self.clients, self.app)

    @cached_property
    def shared(self) -> SharedResources:
        return self.discovery.shared()

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.clients, self.shared.ledger_table)

    def cohort(self, name: str) -> CohortResources:
        return self.discovery.cohort(name)


_current = RolloutContext()


def current() -> RolloutContext:
    return _current


def configure(project_dir: Path | None, app: str | None) -> None:
    global _current
    _current = RolloutContext(project_dir, app)
