"""``rollout local up``: deploy a stack of the infra program into moto.

Validates the stack's ``Pulumi.<stack>.yaml`` first (a bad file is a
:class:`BadInput` naming file, line and field, with nothing created), deploys the
``shared`` stack first when a cohort references it and it is not there yet, then
runs the program in a child process (see :mod:`rollout.local.program_run`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config import CONFIG_KEY, PROJECT, CohortStackConfig, StackConfigFile
from rollout.aws_clients import AwsClients
from rollout.errors import BadInput
from rollout.local.mocks import LocalEngineError
from rollout.local.state import LocalStateStore
from rollout.userfile import read_yaml, validate

CONFIG_PATH = ("config", f"{PROJECT}:{CONFIG_KEY}")


@dataclass
class StackFile:
    """A validated ``Pulumi.<stack>.yaml``."""

    stack: str
    path: Path
    raw: dict[str, Any]
    config: StackConfigFile
    region: str


@dataclass
class DeployResult:
    """What one ``local up`` of one stack did."""

    stack: str
    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` laid over it, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class LocalEngine:
    """Deploys stacks of the project in ``project_dir`` into the moto server at hand."""

    def __init__(self, project_dir: Path, clients: AwsClients | None = None) -> None:
        self.project_dir = project_dir
        self.clients = clients or AwsClients()

    def known_stacks(self) -> list[str]:
        return sorted(p.name[len("Pulumi."):-len(".yaml")]
                      for p in self.project_dir.glob("Pulumi.*.yaml"))

    def stack_file(self, stack: str, path: Path | None = None) -> StackFile:
        """Read and validate a stack's config file; :class:`BadInput` on any problem."""
        path = path or self.project_dir / f"Pulumi.{stack}.yaml"
        if not path.exists():
            known = ", ".join(self.known_stacks()) or "none"
            raise BadInput(f"unknown stack {stack!r}: {path} not found (known stacks: {known})")
        data, lines = read_yaml(path)
        config_section = data.get("config") if isinstance(data, dict) else None
        if not isinstance(config_section, dict) or CONFIG_PATH[1] not in config_section:
            raise BadInput(f"{path}:1: missing key config.{CONFIG_PATH[1]}")
        raw = config_section[CONFIG_PATH[1]]
        config = validate(StackConfigFile, {"stack": raw}, str(path), lines, CONFIG_PATH[:1])
        region = str(config_section.get("aws:region") or self.clients.region)
        return StackFile(stack, path, raw, config, region)

    def up(self, stack: str, *, path: Path | None = None,
           overrides: dict[str, Any] | None = None) -> list[DeployResult]:
        """Deploy ``stack`` (and the shared stack it needs first); return what each did."""
        stack_file = self.stack_file(stack, path)
        store = self.store(stack_file.config.stack.app)
        previous = store.load(stack)
        overrides = deep_merge(previous.overrides if previous else {}, overrides or {})
        raw = deep_merge(stack_file.raw, overrides)
        validate(StackConfigFile, {"stack": raw}, f"{stack_file.path} (with overrides)", {})
        results: list[DeployResult] = []
        cohort = stack_file.config.stack
        if isinstance(cohort, CohortStackConfig):
            shared = cohort.shared_stack.rsplit("/", 1)[-1]
            if store.load(shared) is None:
                results.extend(self.up(shared))
        results.append(self._run_child(stack, raw, stack_file.region, overrides))
        return results

    def store(self, app: str) -> LocalStateStore:
        return LocalStateStore(self.clients, app)

    def _run_child(self, stack: str, raw: dict[str, Any], region: str,
                   overrides: dict[str, Any]) -> DeployResult:
        request = json.dumps({"stack": stack, "config": raw, "region": region,
                              "overrides": overrides})
        env = {**os.environ, "AWS_REGION": region, "PULUMI_SKIP_UPDATE_CHECK": "true"}
        done = subprocess.run(
            [sys.executable, "-m", "rollout.local.program_run"], input=request,
            capture_output=True, text=True, env=env, cwd=self.project_dir, check=False,
        )
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            reason = lines[-1] if lines else f"exit code {done.returncode}"
            raise LocalEngineError(f"local up of stack {stack!r} failed: {reason}")
        summary = json.loads(done.stdout)
        return DeployResult(stack, summary["created"], summary["reused"], summary["outputs"])
