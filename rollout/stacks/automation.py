"""Deploy a cohort's stack with the Pulumi Automation API (``pulumi.automation``).

The Automation API drives the Pulumi CLI, so the CLI must be installed; without
it this module refuses up front with one line saying how to install it, rather
than failing half-way or pretending. The version goes into the stack's
structured config by path (``tenant-rollout:stack.versions.<colour>``), exactly
as ``pulumi config set --path`` would, so ``Pulumi.<cohort>.yaml`` shows what runs;
the release's artefact goes next to it (``artefacts.<colour>``), replacing the one
the colour ran before.
When ``infra/policy`` holds the CrossGuard policy pack, ``up`` and ``preview``
run with it, so an insecure plan is refused before anything is created.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pulumi import automation as auto
from pulumi.automation.errors import CommandError, ConcurrentUpdateError, InvalidVersionError

from rollout.errors import BadInput, Blocked, RolloutFailed
from rollout.stacks.base import DeployerKind, StackPreview
from rollout.vocabulary.colours import Colour
from rollout.vocabulary.names import CONFIG_KEY, PROJECT

if TYPE_CHECKING:
    from rollout.model.stack import ColourArtefact, ZipArtefact

INSTALL_URL = "https://www.pulumi.com/docs/install/"
MISSING_CLI = (f"the Pulumi CLI is not installed (no `pulumi` on PATH): install it from "
               f"{INSTALL_URL}, or rehearse against moto with --local")
SECRET_MASK = "[secret]"
POLICY_PACK_DIR = Path("infra") / "policy"

T = TypeVar("T")
OnOutput = Callable[[str], None]


def require_pulumi_cli() -> str:
    """The path of the ``pulumi`` binary, or :class:`BadInput` with the install hint."""
    found = shutil.which("pulumi")
    if found is None:
        raise BadInput(MISSING_CLI)
    return found


def version_key(colour: Colour) -> str:
    """The config path of one colour's version inside the structured stack config."""
    return f"{PROJECT}:{CONFIG_KEY}.versions.{colour}"


def artefact_key(colour: Colour) -> str:
    """The config path of one colour's artefact inside the structured stack config."""
    return f"{PROJECT}:{CONFIG_KEY}.artefacts.{colour}"


def portal_zip_key() -> str:
    """The config path of the preferences page's zip inside the shared stack's config."""
    return f"{PROJECT}:{CONFIG_KEY}.portal.zip"


def config_leaves(path: str, value: dict[str, Any]) -> dict[str, auto.ConfigValue]:
    """``value`` as the leaf paths under ``path`` that ``pulumi config set --path`` writes
    one by one."""
    leaves: dict[str, auto.ConfigValue] = {}

    def walk(path: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, below in value.items():
                walk(f"{path}.{key}", below)
        else:
            leaves[path] = auto.ConfigValue(value=str(value))

    walk(path, value)
    return leaves


def dumped(artefact: ColourArtefact | None) -> dict[str, Any] | None:
    """The artefact as the stack config holds it (camelCase, no empty fields)."""
    if artefact is None:
        return None
    return artefact.model_dump(mode="json", by_alias=True, exclude_none=True)


def plain_outputs(outputs: auto.OutputMap) -> dict[str, Any]:
    """Stack outputs as plain values, secret ones replaced by a mask (they go to the ledger)."""
    return {name: SECRET_MASK if output.secret else output.value
            for name, output in outputs.items()}


def _stderr_tail(error: CommandError) -> str:
    """The last meaningful line Pulumi printed, which is where it says what went wrong."""
    text = str(error)
    stderr = text.split(" stderr:", 1)[1] if " stderr:" in text else text
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _policy_violations(error: CommandError) -> list[str]:
    """Mandatory violations Pulumi listed, e.g. ``tenant-rollout-security v0.1.0 <rule> (...)``."""
    return [" ".join(line.replace("[mandatory]", "").split())
            for line in str(error).splitlines() if "[mandatory]" in line]


def pulumi_call(what: str, call: Callable[[], T]) -> T:
    """Run one Automation API call, turning its errors into ones a user can act on."""
    try:
        return call()
    except FileNotFoundError:
        raise BadInput(MISSING_CLI) from None
    except InvalidVersionError as exc:
        raise BadInput(f"the installed Pulumi CLI is too old for this toolkit ({exc}); "
                       f"upgrade it: {INSTALL_URL}") from None
    except ConcurrentUpdateError:
        raise Blocked(f"{what}: another update of this stack is running; wait for it to "
                      "finish, then run the command again") from None
    except CommandError as exc:
        violations = _policy_violations(exc)
        if violations:
            raise Blocked(f"{what} was refused by the security policy pack: "
                          f"{violations[0]}") from None
        raise RolloutFailed(f"{what} failed: {_stderr_tail(exc)}") from None


class AutomationDeployer:
    """A :class:`~rollout.stacks.base.StackDeployer` over the Pulumi CLI."""

    kind: DeployerKind = "pulumi"

    def __init__(self, project_dir: Path, *, on_output: OnOutput | None = None,
                 policy_pack: Path | None = None) -> None:
        require_pulumi_cli()
        self.project_dir = project_dir
        self._on_output = on_output
        pack = policy_pack if policy_pack is not None else project_dir / POLICY_PACK_DIR
        self._policy_packs = [str(pack)] if (pack / "PulumiPolicy.yaml").exists() else None

    def _stack(self, cohort: str) -> auto.Stack:
        if not (self.project_dir / f"Pulumi.{cohort}.yaml").exists():
            raise BadInput(f"unknown stack {cohort!r}: {self.project_dir}/Pulumi.{cohort}.yaml "
                           "not found")
        return pulumi_call(f"selecting stack {cohort}", lambda: auto.create_or_select_stack(
            stack_name=cohort, work_dir=str(self.project_dir)))

    def _set_version(self, stack: auto.Stack, colour: Colour, version: str) -> None:
        pulumi_call(f"setting {version_key(colour)} of stack {stack.name}",
                    lambda: stack.set_config(version_key(colour), auto.ConfigValue(value=version),
                                             path=True))

    def _artefact(self, stack: auto.Stack, colour: Colour) -> dict[str, Any] | None:
        """The artefact ``colour`` runs now, from the stack's structured config."""
        config = pulumi_call(f"reading the config of stack {stack.name}", stack.get_all_config)
        raw = config.get(f"{PROJECT}:{CONFIG_KEY}")
        structured = json.loads(raw.value) if raw is not None else {}
        found = (structured.get("artefacts") or {}).get(colour)
        return found if isinstance(found, dict) else None

    def _set_artefact(self, stack: auto.Stack, colour: Colour, artefact: dict[str, Any] | None,
                      current: dict[str, Any] | None) -> None:
        """Replace ``current`` (the colour's artefact now) with ``artefact``, or with none."""
        key = artefact_key(colour)
        if current is not None:
            pulumi_call(f"removing {key} of stack {stack.name}",
                        lambda: stack.remove_config(key, path=True))
        if artefact is not None:
            pulumi_call(f"setting {key} of stack {stack.name}", lambda: stack.set_all_config(
                config_leaves(key, artefact), path=True))

    def deploy_version(self, cohort: str, colour: Colour, version: str, *,
                       artefact: ColourArtefact | None = None) -> dict[str, Any]:
        stack = self._stack(cohort)
        self._set_version(stack, colour, version)
        self._set_artefact(stack, colour, dumped(artefact), self._artefact(stack, colour))
        result = pulumi_call(f"pulumi up of stack {cohort}", lambda: stack.up(
            on_output=self._on_output, policy_packs=self._policy_packs))
        return plain_outputs(result.outputs)

    def deploy_portal(self, stack_name: str, portal_zip: ZipArtefact) -> dict[str, Any]:
        stack = self._stack(stack_name)
        key = portal_zip_key()
        values = config_leaves(key, portal_zip.model_dump(mode="json", by_alias=True))
        pulumi_call(f"setting {key} of stack {stack_name}",
                    lambda: stack.set_all_config(values, path=True))
        result = pulumi_call(f"pulumi up of stack {stack_name}", lambda: stack.up(
            on_output=self._on_output, policy_packs=self._policy_packs))
        return plain_outputs(result.outputs)

    def preview(self, cohort: str, colour: Colour, version: str, *,
                artefact: ColourArtefact | None = None) -> StackPreview:
        """Preview with the new version and artefact set, then put the old ones back."""
        stack = self._stack(cohort)
        key = version_key(colour)
        current = pulumi_call(f"reading {key} of stack {cohort}",
                              lambda: stack.get_config(key, path=True)).value
        current_artefact = self._artefact(stack, colour)
        self._set_version(stack, colour, version)
        self._set_artefact(stack, colour, dumped(artefact), current_artefact)
        try:
            result = pulumi_call(f"pulumi preview of stack {cohort}", lambda: stack.preview(
                on_output=self._on_output, policy_packs=self._policy_packs))
        finally:
            self._set_version(stack, colour, current)
            self._set_artefact(stack, colour, current_artefact, dumped(artefact))
        changes = {str(getattr(op, "value", op)): int(count)
                   for op, count in result.change_summary.items()}
        return StackPreview(cohort=cohort, colour=colour, version=version,
                            current_version=current, engine=self.kind, changes=changes)
