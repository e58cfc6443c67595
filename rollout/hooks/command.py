"""A hook that runs a command: a smoke test against the test route, a migration check.

It runs as the security gate's scanner does (:mod:`rollout.user_command`): no shell,
only the allow-listed environment and the names the hook opts in to with ``env``,
its full output in a private log under ``$XDG_STATE_HOME/tenant-rollout/hooks``, and
an outcome that keeps the exit code, that log's path and a redacted tail. On top of
the cohort's ``ROLLOUT_*`` facts it is told the rollout's (:func:`hook_environment`),
the test route's token among them: that is what a smoke test sends, so it is given
on purpose, and redacted from everything the hook shows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rollout.discovery import CohortResources
from rollout.errors import BadInput
from rollout.hooks.base import HOOKS, HookFacts, HookOutcome, HookStage, LifecycleHook
from rollout.hooks.settings import HookSettings
from rollout.user_command import UserCommand, command_environment, run_user_command, shown_command
from rollout.vocabulary.durations import format_duration

KIND = "command"
DEFAULT_TIMEOUT = 600.0
LOG_PURPOSE = "hooks"
"""Logs go to ``$XDG_STATE_HOME/tenant-rollout/hooks/<app>-<cohort>-<hook>-<moment>.log``."""


def hook_environment(cohort: CohortResources, facts: HookFacts, hook: str,
                     extra: Sequence[str] = ()) -> dict[str, str]:
    """The security command's environment, plus the rollout's facts and the test route.

    ``ROLLOUT_TEST_HEADER`` and ``ROLLOUT_TEST_TOKEN`` are set only when the router
    has a test route: a smoke test sends ``$ROLLOUT_TEST_HEADER: $ROLLOUT_TEST_TOKEN``.
    """
    env = command_environment(cohort, facts.new_colour, extra)
    env |= {"ROLLOUT_HOOK": hook, "ROLLOUT_STAGE": facts.stage,
            "ROLLOUT_RELEASE": facts.release, "ROLLOUT_OLD_VERSION": facts.old_version,
            "ROLLOUT_OLD_COLOUR": facts.old_colour, "ROLLOUT_NEW_COLOUR": facts.new_colour,
            "ROLLOUT_STARTED_AT": facts.started_at.isoformat()}
    for name in ("ROLLOUT_TEST_HEADER", "ROLLOUT_TEST_TOKEN"):
        env.pop(name, None)
    if facts.test_route is not None:
        env |= {"ROLLOUT_TEST_HEADER": facts.test_route.header,
                "ROLLOUT_TEST_TOKEN": facts.test_route.token}
    return env


class CommandHook:
    """Runs a command at its stage; exit 0 passes, anything else (or no exit in time) fails."""

    def __init__(self, name: str, stage: HookStage, command: str, timeout: float,
                 env: Sequence[str], cohort: CohortResources) -> None:
        self.name = name
        self.stage: HookStage = stage
        self._command = command
        self._timeout = timeout
        self._env = tuple(env)
        self._cohort = cohort

    def __repr__(self) -> str:
        return f"CommandHook({self.describe()!r})"

    def describe(self) -> str:
        return (f"{self.stage} hook {self.name}: run `{shown_command(self._command)}` "
                f"(at most {format_duration(self._timeout)})")

    def run(self, facts: HookFacts) -> HookOutcome:
        started = time.monotonic()
        secrets = () if facts.test_route is None else (facts.test_route.token,)
        ended = run_user_command(UserCommand(
            command=self._command, env=hook_environment(self._cohort, facts, self.name, self._env),
            timeout=self._timeout, setting=f"the command of hook {self.name}",
            log_purpose=LOG_PURPOSE,
            log_stem=f"{self._cohort.app}-{self._cohort.cohort}-{self.name}", secrets=secrets))
        return HookOutcome(hook=self.name, stage=self.stage, passed=ended.passed,
                           summary=ended.detail, seconds=time.monotonic() - started)


@HOOKS.register(KIND)
def command_hook(settings: HookSettings, name: str, stage: HookStage,
                 cohort: CohortResources) -> LifecycleHook:
    """The hook a ``command:`` entry describes; its settings were checked when read."""
    if settings.command is None:
        raise BadInput("a command hook needs a command")
    return CommandHook(name, stage, settings.command, settings.timeout or DEFAULT_TIMEOUT,
                       settings.env, cohort)
