"""``rollout local up``: deploy a stack of the infra program into moto.

Validates the stack's ``Pulumi.<stack>.yaml`` first (a bad file is a
:class:`BadInput` naming file, line and field, with nothing created), deploys the
``shared`` stack first when a cohort references it and it is not there yet, then
runs the program in a fresh child process (see :mod:`rollout.local.child_process`).

Before anything is sent, every service the engine uses must be local in every
region it will deploy into (see :mod:`rollout.local.endpoint`); the engine's own
requests go through guarded clients, as do the child's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rollout.aws_clients import AwsClients
from rollout.errors import BadInput
from rollout.local.child_process import StartMethod, run_stack
from rollout.local.endpoint import check_local, local_engine_clients
from rollout.local.messages import StackRequest
from rollout.local.state import LocalStateStore
from rollout.model.stack import CohortStackConfig, StackConfigFile, parse_stack
from rollout.userfile import LinePath, describe_validation_error, line_of, read_yaml
from rollout.vocabulary.names import CONFIG_KEY, PROJECT

CONFIG_PATH: LinePath = ("config", f"{PROJECT}:{CONFIG_KEY}")


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


def parse_stack_config(raw: object, source: str,
                       lines: dict[LinePath, int]) -> StackConfigFile:
    """:func:`rollout.model.stack.parse_stack`, with errors as ``file:line: field: problem``."""
    try:
        return parse_stack(raw)
    except ValidationError as exc:
        raise BadInput(describe_validation_error(source, exc, lines, CONFIG_PATH)) from None


class LocalEngine:
    """Deploys stacks of the project in ``project_dir`` into the moto server at hand.

    ``start_method`` picks how each stack's process starts (see
    :mod:`rollout.local.child_process`); the default is the fastest available.
    ``clients`` only lend their region to stacks whose config names none: the
    engine sends its requests through guarded clients of its own
    (:func:`~rollout.local.endpoint.local_engine_clients`), built from the same
    environment.
    """

    def __init__(self, project_dir: Path, clients: AwsClients | None = None, *,
                 start_method: StartMethod | None = None) -> None:
        self.project_dir = project_dir
        self.clients = clients or AwsClients()
        self.start_method = start_method
        self._local: AwsClients | None = None

    @property
    def local_clients(self) -> AwsClients:
        """The engine's guarded clients (made on first use, from the environment then)."""
        if self._local is None:
            self._local = local_engine_clients(self.clients.region)
        return self._local

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
            raise BadInput(f"{path}:{line_of(lines, ('config',)) or 1}: "
                           f"missing key config.{CONFIG_PATH[1]}")
        raw = config_section[CONFIG_PATH[1]]
        config = parse_stack_config(raw, str(path), lines)
        if isinstance(config.stack, CohortStackConfig) and config.stack.cohort != stack:
            line = line_of(lines, (*CONFIG_PATH, "cohort"))
            raise BadInput(f"{path}:{line}: {'.'.join(map(str, CONFIG_PATH))}.cohort: is "
                           f"{config.stack.cohort!r}, but this is the stack of {stack!r}")
        region = str(config_section.get("aws:region") or self.clients.region)
        return StackFile(stack, path, raw, config, region)

    def up(self, stack: str, *, path: Path | None = None,
           overrides: dict[str, Any] | None = None) -> list[DeployResult]:
        """Deploy ``stack`` (and the shared stack it needs first); return what each did.

        ``overrides`` are laid over the stack config (e.g. ``{"versions": {"green":
        "1.5.0"}}``) and remembered, so a later ``up`` without them keeps them.
        """
        stack_file = self.preflight(stack, path)
        store = self.store(stack_file.config.stack.app)
        previous = store.load(stack)
        overrides = deep_merge(previous.overrides if previous else {}, overrides or {})
        raw = deep_merge(stack_file.raw, overrides)
        parse_stack_config(raw, f"{stack_file.path} (with overrides {overrides})", {})
        results: list[DeployResult] = []
        cohort = stack_file.config.stack
        if isinstance(cohort, CohortStackConfig):
            shared = cohort.shared_stack.rsplit("/", 1)[-1]
            if store.load(shared) is None:
                results.extend(self.up(shared))
        results.append(self._deploy(stack, raw, stack_file.region, overrides))
        return results

    def store(self, app: str) -> LocalStateStore:
        return LocalStateStore(self.local_clients, app)

    def preflight(self, stack: str, path: Path | None = None) -> StackFile:
        """Everything :meth:`up` checks before touching AWS: the file, and that AWS is moto.

        Checked in each region the deploy uses: the stack's, and the shared stack's
        that a cohort's deploy may deploy first.
        """
        stack_file = self.stack_file(stack, path)
        check_local(self.local_clients, [file.region for file in self.deployed_with(stack_file)])
        return stack_file

    def deployed_with(self, stack_file: StackFile) -> list[StackFile]:
        """``stack_file`` and, for a cohort, its shared stack's file when there is a valid one.

        The stacks an :meth:`up` of it may deploy (a broken or missing shared file
        only matters when the shared stack really has to be deployed, and is
        reported then).
        """
        cohort = stack_file.config.stack
        if not isinstance(cohort, CohortStackConfig):
            return [stack_file]
        try:
            return [stack_file, self.stack_file(cohort.shared_stack.rsplit("/", 1)[-1])]
        except BadInput:
            return [stack_file]

    def _deploy(self, stack: str, raw: dict[str, Any], region: str,
                overrides: dict[str, Any]) -> DeployResult:
        environment = {**os.environ, "AWS_REGION": region, "PULUMI_SKIP_UPDATE_CHECK": "true"}
        request = StackRequest(stack, raw, region, overrides, environment)
        summary = run_stack(request, self.start_method)
        return DeployResult(stack, summary.created, summary.reused, summary.outputs)
