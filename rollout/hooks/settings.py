"""A cohort's ``hooks:`` in ``tenants.yaml``: which command or URL runs at which stage.

Kept free of what running a hook needs (no AWS, no HTTP), since every command that
reads ``tenants.yaml`` validates these. What only running can tell (whether a URL's
host is one hooks may call) is checked when the hooks are built
(:mod:`rollout.hooks.load`), before the rollout writes anything.
"""

from __future__ import annotations

import re
import shlex
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rollout.vocabulary.durations import Duration, format_duration
from rollout.vocabulary.env_names import EnvName
from rollout.vocabulary.hook_stages import STAGES, HookStage

MAX_TIMEOUT = 3600.0
"""The longest a hook may run: a rollout holds its step (and its lock) meanwhile."""
HOOK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A hook's name is part of its log file's name and of ledger records: no spaces or slashes."""

HookKind = Literal["command", "http"]


class HookSettings(BaseModel):
    """One hook as written: a ``command`` or a ``url`` (exactly one), a timeout, a name.

    ``url`` is kept as a secret: a callback URL often carries a token in its path or
    query, and a model's ``repr`` ends up in tracebacks and logs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    """Default: ``<stage>-<n>``, ``n`` counting from 1 within the stage."""
    command: str | None = None
    url: SecretStr | None = Field(default=None, validate_default=True)
    timeout: Duration | None = None
    """Seconds (written ``2m``, ``30s``); default the kind's own, at most :data:`MAX_TIMEOUT`."""
    env: list[EnvName] = Field(default_factory=list)
    """Commands only: parent variables inherited beyond the security gate's allow-list."""

    @field_validator("name")
    @classmethod
    def _a_name(cls, value: str | None) -> str | None:
        if value is not None and not HOOK_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a hook name (letters, digits, '.', '_' and "
                             "'-', starting with a letter or digit, at most 64)")
        return value

    @field_validator("command")
    @classmethod
    def _splits(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot be split into words as a shell would: {exc}") from None
        if not words:
            raise ValueError("is empty; name the program to run")
        return value

    @field_validator("url")
    @classmethod
    def _command_or_url(cls, value: SecretStr | None,
                        info: ValidationInfo) -> SecretStr | None:
        if "command" not in info.data:
            return value
        command = info.data["command"]
        if command is not None and value is not None:
            raise ValueError("a hook is a command or a url, not both; write two hooks")
        if command is None and value is None:
            raise ValueError("a hook needs a command (a program to run) or a url "
                             "(an https callback to POST to)")
        return value

    @field_validator("timeout")
    @classmethod
    def _bounded(cls, value: float | None) -> float | None:
        if value is None:
            return value
        if value <= 0:
            raise ValueError(f"must be more than 0, got {value:g}")
        if value > MAX_TIMEOUT:
            raise ValueError(f"must be at most {format_duration(MAX_TIMEOUT)}, "
                             f"got {format_duration(value)}")
        return value

    @field_validator("env")
    @classmethod
    def _commands_only(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if value and info.data.get("url") is not None:
            raise ValueError("is for commands only; an HTTP callback gets no environment")
        return value

    @property
    def kind(self) -> HookKind:
        return "command" if self.command is not None else "http"

    @property
    def target_field(self) -> str:
        """The field that says what runs: ``command`` or ``url``."""
        return "command" if self.command is not None else "url"


class PlacedHook(BaseModel):
    """A hook's settings with where they are: its stage, its place there, its name."""

    model_config = ConfigDict(frozen=True)

    stage: HookStage
    index: int
    name: str
    settings: HookSettings

    @property
    def location(self) -> str:
        """Where in the cohort's settings it is written: ``hooks.after_test_traffic.0``."""
        return f"hooks.{self.stage}.{self.index}"


class CohortHooks(BaseModel):
    """``hooks:`` of a cohort: a list of hooks per stage, each run in the order written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    before_test_traffic: list[HookSettings] = Field(default_factory=list)
    after_test_traffic: list[HookSettings] = Field(default_factory=list)
    before_allow_traffic: list[HookSettings] = Field(default_factory=list)
    after_allow_traffic: list[HookSettings] = Field(default_factory=list)
    after_promote: list[HookSettings] = Field(default_factory=list)

    def of(self, stage: HookStage) -> list[HookSettings]:
        found: list[HookSettings] = getattr(self, stage)
        return found

    def placed(self) -> list[PlacedHook]:
        """Every hook, in stage order, then in the order written; each with its name."""
        return [PlacedHook(stage=stage, index=index, settings=settings,
                           name=settings.name or f"{stage}-{index + 1}")
                for stage in STAGES for index, settings in enumerate(self.of(stage))]

    @model_validator(mode="after")
    def _names_apart(self) -> CohortHooks:
        """Outcomes and logs are told apart by the hook's name, so no two share one."""
        seen: dict[str, str] = {}
        for hook in self.placed():
            if hook.name in seen:
                raise ValueError(f"hook name {hook.name!r} is used twice ({seen[hook.name]} "
                                 f"and {hook.location}); give each hook its own name")
            seen[hook.name] = hook.location
        return self
