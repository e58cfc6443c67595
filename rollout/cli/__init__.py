"""The ``rollout`` command.

Command groups live one module each and register themselves on :data:`app`;
this module maps errors to exit codes in one place (see :mod:`rollout.errors`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer
from rich.markup import escape

from rollout.cli.output import err_console, error_document, print_json
from rollout.errors import RolloutError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

app = typer.Typer(
    name="rollout",
    help="Tenant-aware blue/green rollouts on AWS: safe, announced, reversible.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    app_name: Annotated[str | None, typer.Option(
        "--app", envvar="ROLLOUT_APP",
        help="App name (default: from Pulumi.shared.yaml in the project directory).")] = None,
    project_dir: Annotated[Path | None, typer.Option(
        "--project-dir", envvar="ROLLOUT_PROJECT_DIR",
        help="Directory holding Pulumi.yaml and the stack configs (default: .).")] = None,
) -> None:
    from rollout.cli import context

    context.configure(project_dir, app_name)


def _register_commands() -> None:
    from rollout.cli import (  # noqa: F401 - each module adds its commands to `app`
        config_cmds,
        plan_cmds,
        release_cmds,
        report_cmds,
        rollout_cmds,
        stacks_cmds,
    )
    from rollout.stacks.providers import load_plugins

    load_plugins()  # the command modules outside the core (the local stand-ins)


def _click_exceptions() -> tuple[tuple[type[Exception], ...], tuple[type[BaseException], ...],
                                 tuple[type[BaseException], ...]]:
    """Usage-error, exit and abort classes of click and of the click copy newer typers ship."""
    typer_usage: type[Exception] = getattr(typer, "TyperException", click.ClickException)
    return ((click.ClickException, typer_usage),
            (click.exceptions.Exit, typer.Exit),
            (click.exceptions.Abort, typer.Abort))


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
