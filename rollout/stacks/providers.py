"""Stack deployers and stack-outputs sources, looked up by name.

The product registers what it ships: the ``pulumi`` deployer (the Automation API)
and ``pulumi`` stack outputs. The local stand-ins (``rollout.local``, whose moto
comes with the ``[local]`` extra) register their ``local`` deployer and the
``local`` outputs source (the local deployer's record) when their command module is
imported through the :data:`PLUGIN_GROUP` entry point: the command line imports it
at start, and a lookup of a name nobody registered yet imports it then. So product
code only ever names the stand-ins, and never imports them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Final

from rollout.plugins import Registry

if TYPE_CHECKING:  # kept out of the import: the CLI loads this module at start
    from rollout.aws_clients import AwsClients
    from rollout.discovery import OutputsSource
    from rollout.stacks.base import DeployerKind, StackDeployer

PLUGIN_GROUP = "tenant_rollout.commands"
"""Entry-point group of the modules outside the core (the local stand-ins): importing one
registers its commands, deployers and outputs sources."""
LOCAL: Final = "local"
PULUMI: Final = "pulumi"
LOCAL_EXTRA_MISSING = ("the local stand-ins need the [local] extra: "
                       "pip install 'tenant-rollout[local]'")


@dataclass(frozen=True)
class DeployerSetup:
    """What a deployer is built from: the project, the clients, where progress goes."""

    project_dir: Path
    clients: AwsClients
    on_output: Callable[[str], None] | None = None


DeployerFactory = Callable[[DeployerSetup], "StackDeployer"]
OutputsFactory = Callable[["AwsClients", str, Path], "OutputsSource | None"]
"""``(clients, app, project_dir)`` → the source, or None when it has nothing to say here
(the local deployer's record, say, when the clients do not talk to a local endpoint)."""

_plugins_loaded = False


def load_plugins() -> None:
    """Import every module of the :data:`PLUGIN_GROUP` entry point, once per process."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for module in dict.fromkeys(entry.value for entry in entry_points(group=PLUGIN_GROUP)):
        importlib.import_module(module)


DEPLOYERS: Registry[DeployerFactory] = Registry(
    "deployer", load_plugins, {LOCAL: LOCAL_EXTRA_MISSING})
OUTPUTS_SOURCES: Registry[OutputsFactory] = Registry(
    "stack outputs source", load_plugins, {LOCAL: LOCAL_EXTRA_MISSING})


def stack_deployer(kind: DeployerKind, setup: DeployerSetup) -> StackDeployer:
    """The deployer named ``kind``, built for ``setup``."""
    return DEPLOYERS.get(kind)(setup)


def outputs_sources(names: list[str], clients: AwsClients, app: str,
                    project_dir: Path) -> list[OutputsSource]:
    """The sources named (those registered and with something to say here), in order."""
    found: list[OutputsSource] = []
    for name in names:
        factory = OUTPUTS_SOURCES.find(name)
        source = factory(clients, app, project_dir) if factory is not None else None
        if source is not None:
            found.append(source)
    return found


def _pulumi_deployer(setup: DeployerSetup) -> StackDeployer:
    from rollout.stacks.automation import AutomationDeployer  # pulumi loads only when used

    return AutomationDeployer(setup.project_dir, on_output=setup.on_output)


def _pulumi_outputs(clients: AwsClients, app: str, project_dir: Path) -> OutputsSource:
    from rollout.stacks.pulumi_outputs import PulumiStackOutputs

    return PulumiStackOutputs(project_dir)


DEPLOYERS.register(PULUMI)(_pulumi_deployer)
OUTPUTS_SOURCES.register(PULUMI)(_pulumi_outputs)
