"""A stack's ``Pulumi.<stack>.yaml``, read and validated before anything is deployed.

Every deployer and ``stacks up`` read a stack's file here, with
:func:`rollout.model.stack.parse_stack`, so a bad file is one :class:`BadInput`
naming file, line and field (``file:line: field: problem``) whichever deployer
would have run, and nothing is sent to AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rollout.errors import BadInput
from rollout.model.stack import CohortStackConfig, StackConfigFile, parse_stack
from rollout.userfile import LinePath, describe_validation_error, line_of, read_yaml
from rollout.vocabulary.names import CONFIG_KEY, PROJECT

CONFIG_PATH: LinePath = ("config", f"{PROJECT}:{CONFIG_KEY}")


@dataclass
class StackFile:
    """A validated ``Pulumi.<stack>.yaml``: its raw config section, the model and its region."""

    stack: str
    path: Path
    raw: dict[str, Any]
    config: StackConfigFile
    region: str


def parse_stack_config(raw: object, source: str,
                       lines: dict[LinePath, int]) -> StackConfigFile:
    """:func:`rollout.model.stack.parse_stack`, with errors as ``file:line: field: problem``."""
    try:
        return parse_stack(raw)
    except ValidationError as exc:
        raise BadInput(describe_validation_error(source, exc, lines, CONFIG_PATH)) from None


def known_stacks(project_dir: Path) -> list[str]:
    """The stacks with a ``Pulumi.<stack>.yaml`` in ``project_dir``."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def read_stack_file(project_dir: Path, stack: str, default_region: str,
                    path: Path | None = None) -> StackFile:
    """Read and validate ``stack``'s config file; :class:`BadInput` on any problem.

    ``default_region`` is the stack's region when its file names no ``aws:region``.
    """
    path = path or project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = ", ".join(known_stacks(project_dir)) or "none"
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
    region = str(config_section.get("aws:region") or default_region)
    return StackFile(stack, path, raw, config, region)


def cohort_stack_config(project_dir: Path, cohort: str, default_region: str) -> CohortStackConfig:
    """The validated config of ``cohort``'s stack; :class:`BadInput` for the shared stack."""
    stack = read_stack_file(project_dir, cohort, default_region)
    config = stack.config.stack
    if not isinstance(config, CohortStackConfig):
        raise BadInput(f"{stack.path}: stack {cohort!r} is the shared stack, not a cohort; "
                       "`stacks up` deploys cohort stacks")
    return config
