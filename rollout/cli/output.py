"""Printing for every command: human output with rich, or ``--json`` on stdout.

Commands build plain data (pydantic models or dicts) and hand it to :func:`emit`
with a function that renders it for people; the JSON shape is the data itself.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Protocol, runtime_checkable

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from pydantic import BaseModel

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]

# Markup is off: reasons, names and command output come from users, tenants and AWS, and
# a stray ``[/]`` or ``[link=...]`` in them must print as it is, never crash or restyle.
# A print that wants styling passes ``markup=True`` and escapes every value with shown().
console = Console(highlight=False, soft_wrap=True, markup=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def shown(value: object) -> str:
    """``value`` escaped for a ``markup=True`` print."""
    return escape(str(value))


def to_jsonable(data: Any) -> Any:
    """Models and nested containers of models as plain JSON-ready data.

    pydantic is looked up among the loaded modules, not imported: help never needs it,
    and an object of a library that was never imported cannot be one of its models.
    """
    models = sys.modules.get("pydantic.main")
    if models is not None and isinstance(data, models.BaseModel):
        return data.model_dump(mode="json", by_alias=False)
    if isinstance(data, dict):
        return {str(k): to_jsonable(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [to_jsonable(v) for v in data]
    return data


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(data), indent=2, sort_keys=False, default=str))
    sys.stdout.write("\n")
    sys.stdout.flush()


@runtime_checkable
class WithReport(Protocol):
    """An error raised once a command has found or done something its output must show.

    For people the command prints the report itself before raising; with ``--json`` it
    prints nothing, and :func:`error_document` puts report and error in one document.
    """

    report: BaseModel


def error_document(error: Exception | None, message: str, exit_code: int) -> dict[str, Any]:
    """What ``--json`` prints for a failed command: its report if it has one, error and code."""
    found: dict[str, Any] = to_jsonable(error.report) if isinstance(error, WithReport) else {}
    return {**found, "error": message, "exit_code": exit_code}


def emit(data: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    """Print ``data`` as JSON or through ``human``."""
    if as_json:
        print_json(data)
    else:
        human(data)
