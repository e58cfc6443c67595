"""The ``rollout`` command.

Command groups live one module each and register themselves on :data:`app`;
this module maps errors to exit codes in one place (see :mod:`rollout.errors`).

Every command module is imported for ``rollout --help``, so at module level it imports
only typer, this package's option and output helpers and cheap vocabulary; each command
imports the services it calls at the top of its body (parse, call, render), and types
only its helpers' annotations name go under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from rollout.cli.output import err_console, error_document, print_json
from rollout.errors import BadInput, RolloutError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

GLOBAL_OPTIONS = {"--app": "ROLLOUT_APP", "--project-dir": "ROLLOUT_PROJECT_DIR"}
"""Options every command takes before its name, and the variable each falls back on."""

class _RootGroup(TyperGroup):
    """The root group, whose ``--help`` is ``False`` when not given rather than ``None``.

    typer coerces every option value that is not already a bool through a pydantic
    validator it builds on first use; an absent ``--help`` of the root would cost every
    ``rollout <command> --help`` that import (a tenth of a second).
    """

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.default = False
        return option


app = typer.Typer(
    name="rollout",
    cls=_RootGroup,
    help="Tenant-aware blue/green rollouts on AWS: safe, announced, reversible.\n\n"
         "Before the command: --app NAME (or $ROLLOUT_APP; default: the app of "
         "Pulumi.shared.yaml in the project directory) and --project-dir DIR (or "
         "$ROLLOUT_PROJECT_DIR; the directory holding Pulumi.yaml and the stack configs; "
         "default: .).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """The group itself takes no options: :func:`take_global_options` reads them."""


def take_global_options(args: list[str]) -> tuple[str | None, Path | None, list[str]]:
    """``--app`` and ``--project-dir`` from the front of ``args`` (or the environment); the rest.

    Read here rather than by typer: typer builds a pydantic validator for each option of
    the root group it processes, which alone would cost ``rollout status --help`` a
    tenth of a second.
    """
    rest = list(args)
    given: dict[str, str] = {}
    while rest and rest[0].partition("=")[0] in GLOBAL_OPTIONS:
        name, has_value, value = rest.pop(0).partition("=")
        if not has_value:
            if not rest or rest[0].startswith("-"):
                raise BadInput(f"{name} needs a value")
            value = rest.pop(0)
        given[name] = value
    app_name, directory = (given.get(name) or os.environ.get(variable) or None
                           for name, variable in GLOBAL_OPTIONS.items())
    return app_name, Path(directory) if directory else None, rest


def _register_commands() -> None:
    from rollout.cli import (  # noqa: F401 - each module adds its commands to `app`
        config_cmds,
        fleet_cmds,
        halt_cmds,
        plan_cmds,
        portal_cmds,
        release_cmds,
        report_cmds,
        rollout_cmds,
        stacks_cmds,
    )
    from rollout.stacks.providers import load_plugins

    load_plugins()  # the command modules outside the core (the local stand-ins)


def _click_exceptions() -> tuple[tuple[type[Exception], ...], tuple[type[BaseException], ...],
                                 tuple[type[BaseException], ...]]:
    """Usage-error, exit and abort classes of typer, and of click when typer runs on it.

    Newer typers ship a copy of click and never import click itself; older ones import
    it with typer. Read from the loaded modules, so help does not import a second click.
    """
    typer_usage: type[Exception] | None = getattr(typer, "TyperException", None)
    usage: list[type[Exception]] = [typer_usage] if typer_usage is not None else []
    exits: list[type[BaseException]] = [typer.Exit]
    aborts: list[type[BaseException]] = [typer.Abort]
    click = sys.modules.get("click")
    if click is not None:
        usage.append(click.ClickException)
        exits.append(click.exceptions.Exit)
        aborts.append(click.exceptions.Abort)
    return tuple(usage), tuple(exits), tuple(aborts)


USAGE_ERRORS, EXITS, ABORTS = _click_exceptions()


def describe_client_error(exc: ClientError) -> str:
    """AWS's refusal in one line; an access denial points at the policy the role needs.

    When botocore could not parse the error body (moto answers some services in XML),
    the code and message are taken from the body itself.
    """
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), " ".join(str(error.get("Message", "")).split())
    found = re.search(r"<Code>(.*?)</Code>.*?<Message>(.*?)</Message>", message)
    if found:
        code, message = found.group(1), found.group(2)
    line = f"AWS said {code}: {message}"
    if "AccessDenied" in code or "UnauthorizedOperation" in code:
        line += ("; `rollout iam-policy --cohort C` prints what the rollout role of cohort C "
                 "needs (publishing, pruning and notices: `rollout iam-policy --release`)")
    return line


def _aws_failure(exc: Exception) -> str | None:
    """One line for an error from boto3 or botocore; None for any other error.

    Read from the modules already loaded: help and bad input never import boto3, and
    an error of a library that was never imported cannot be one of its errors.
    """
    botocore_errors = sys.modules.get("botocore.exceptions")
    boto3_errors = sys.modules.get("boto3.exceptions")
    if botocore_errors is not None:
        if isinstance(exc, botocore_errors.ClientError):
            return describe_client_error(exc)
        if isinstance(exc, botocore_errors.BotoCoreError):
            return f"cannot reach AWS: {exc}"
    if boto3_errors is not None and isinstance(exc, boto3_errors.Boto3Error):
        cause = exc.__context__  # e.g. a failed managed upload wraps AWS's refusal
        if botocore_errors is not None and isinstance(cause, botocore_errors.ClientError):
            return describe_client_error(cause)
        return f"AWS transfer failed: {exc}"
    return None


def _fail(message: str, code: int, as_json: bool, error: Exception | None = None) -> int:
    if as_json:
        print_json(error_document(error, message, code))
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    return code


def run(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code (tests call this directly)."""
    _register_commands()
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    try:
        app_name, project_dir, args = take_global_options(args)
        from rollout.cli import context

        context.configure(project_dir, app_name)
        result = app(args=args, prog_name="rollout", standalone_mode=False)
    except RolloutError as exc:
        return _fail(str(exc), exc.exit_code, as_json, exc)
    except EXITS as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except USAGE_ERRORS as exc:
        code = int(getattr(exc, "exit_code", 2))
        if as_json:
            print_json({"error": exc.format_message(), "exit_code": code})  # type: ignore[attr-defined]
        exc.show()  # type: ignore[attr-defined]
        return code
    except ABORTS:
        return _fail("aborted", 1, as_json)
    except Exception as exc:
        message = _aws_failure(exc)
        if message is None:
            raise
        return _fail(message, 1, as_json)
    # without standalone mode, click returns the code of a typer.Exit instead of raising it
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
