"""Load a YAML file a user wrote into a pydantic model, with errors that point at the line.

Every file a user writes (``tenants.yaml``, ``release.yaml``, ``Pulumi.<stack>.yaml``)
goes through :func:`load_model`, so a mistake is always reported the same way:
``file:line: field: what is wrong``, as a :class:`~rollout.errors.BadInput`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from rollout.errors import BadInput

M = TypeVar("M", bound=BaseModel)

LinePath = tuple[str | int, ...]


_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose_lines(node: yaml.Node, path: LinePath, lines: dict[LinePath, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            _compose_lines(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _compose_lines(item, (*path, index), lines)


def read_yaml(path: Path) -> tuple[Any, dict[LinePath, int]]:
    """Parse ``path`` and return its data with a map from key path to line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror}") from None
    try:
        loader = _SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BadInput(f"{path}{where}: not valid YAML: {problem}") from None
    lines: dict[LinePath, int] = {}
    if node is not None:
        _compose_lines(node, (), lines)
    return data, lines


def line_of(lines: dict[LinePath, int], location: Sequence[str | int]) -> int | None:
    """The line of the deepest key of ``location`` that the file actually contains."""
    loc = tuple(location)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def describe_validation_error(
    source: str, exc: ValidationError, lines: dict[LinePath, int], prefix: LinePath = ()
) -> str:
    """One line naming file, line and field of the first problem pydantic found."""
    first = exc.errors()[0]
    loc = tuple(part for part in first["loc"] if not str(part).startswith("function-"))
    full = (*prefix, *loc)
    line = line_of(lines, full)
    field = ".".join(str(part) for part in full) or "(top level)"
    where = f"{source}:{line}" if line is not None else source
    message = first["msg"].removeprefix("Value error, ")
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {field}: {message}{suffix}"


def validate(model: type[M], data: Any, source: str, lines: dict[LinePath, int],
             prefix: LinePath = ()) -> M:
    """Validate already-parsed data, reporting errors against ``source``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadInput(describe_validation_error(source, exc, lines, prefix)) from None


def load_model(path: Path, model: type[M], *, key: Sequence[str] = ()) -> M:
    """Load ``path`` (optionally the sub-document at ``key``) as ``model``.

    Raises :class:`BadInput` with ``file:line: field: problem`` on any error.
    """
    data, lines = read_yaml(path)
    for part in key:
        if not isinstance(data, dict) or part not in data:
            where = line_of(lines, ())
            raise BadInput(f"{path}:{where or 1}: missing key {'.'.join(key)}")
        data = data[part]
    if data is None:
        raise BadInput(f"{path}:1: the file is empty")
    return validate(model, data, str(path), lines, tuple(key))
