"""Load a YAML file a user wrote into a pydantic model, with errors that point at the line.

Every file a user writes (``tenants.yaml``, ``release.yaml``, ``Pulumi.<stack>.yaml``)
goes through :func:`load_model`, so a mistake is always reported the same way:
``file:line: field: what is wrong``, as a :class:`~rollout.errors.BadInput`.

The same goes for files no person wrote: over :data:`MAX_FILE_BYTES`, not UTF-8,
an alias bomb, a recursive alias, nesting past :data:`MAX_DEPTH`, or a value YAML
cannot convert (a 5,000-digit integer, February 30th). Each is refused in one line
naming the file and line, before the file costs more than its own size in memory.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.error import Mark
from yaml.events import AliasEvent
from yaml.nodes import Node
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from rollout.errors import BadInput
from rollout.vocabulary.problems import first_problem, more_problems

M = TypeVar("M", bound=BaseModel)

LinePath = tuple[str | int, ...]

MAX_FILE_BYTES = 16 * 2**20
"""Largest file read: room for a ``tenants.yaml`` of 100,000 tenants, checked before reading."""
MAX_NODES = 4_000_000
"""Most YAML nodes a file may hold once every alias is counted as often as it is used."""
MAX_DEPTH = 64
"""Deepest nesting of collections (aliases expanded): real files need fewer than ten."""
ALIAS_ALLOWANCE = 10_000
"""Nodes aliases may add in any file; beyond it, no more than the file spells out itself."""


class _Refused(yaml.YAMLError):
    """A file over one of the limits above, caught while composing, before any expansion."""

    def __init__(self, mark: Mark | None, problem: str) -> None:
        super().__init__(problem)
        self.mark = mark
        self.problem = problem


class _Limits(Composer, SafeConstructor):
    """Composes like PyYAML's safe loader, but counts what aliases would expand to.

    Composition shares an anchored node between its aliases, so it stays as cheap
    as the file is long; it is every later walk (line numbers, validation) that
    expands them. Counting each alias as the size of what it names, and refusing at
    the first one that passes a limit, stops a billion-laughs file within a millisecond.
    """

    def _start_limits(self) -> None:
        self._expanded = 0
        self._written = 0
        self._alias_added = 0
        self._largest_alias: tuple[int, Mark | None] = (0, None)
        self._depth = 0
        self._reach = 0
        self._sizes: dict[int, tuple[int, int]] = {}
        """id of an anchored node → (nodes it expands to, levels below it)."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):  # type: ignore[attr-defined]
            self._count_alias(self.peek_event())  # type: ignore[attr-defined]
            return super().compose_node(parent, index)
        event = self.peek_event()  # type: ignore[attr-defined]
        self._depth += 1
        depth, outer_reach, before = self._depth, self._reach, self._expanded
        if depth > MAX_DEPTH:
            raise _Refused(event.start_mark, f"collections are nested more than {MAX_DEPTH} "
                           "levels deep; a file people write needs far fewer")
        self._written += 1
        self._add(1, event.start_mark)
        self._reach = depth
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if event.anchor is not None and node is not None:
            self._sizes[id(node)] = (self._expanded - before, self._reach - depth)
        self._reach = max(outer_reach, self._reach)
        return node

    def _count_alias(self, event: Any) -> None:
        node = self.anchors.get(event.anchor)
        if node is None:
            return
        size = self._sizes.get(id(node))
        if size is None:
            raise _Refused(event.start_mark, f"alias *{event.anchor} is used inside the "
                           "collection it names (a recursive structure); write the data out")
        nodes, height = size
        if self._depth + 1 + height > MAX_DEPTH:
            raise _Refused(event.start_mark, f"collections are nested more than {MAX_DEPTH} "
                           f"levels deep once alias *{event.anchor} is expanded")
        self._reach = max(self._reach, self._depth + 1 + height)
        self._alias_added += nodes
        if nodes > self._largest_alias[0]:
            self._largest_alias = (nodes, event.start_mark)
        self._add(nodes, event.start_mark)

    def _add(self, nodes: int, mark: Mark | None) -> None:
        self._expanded += nodes
        if self._expanded > MAX_NODES:
            raise _Refused(mark, f"the file passes {MAX_NODES:,} YAML nodes here (each alias "
                           "counted as often as it is used); write the data out or split it")

    def get_single_node(self) -> Node | None:
        node = super().get_single_node()
        if self._alias_added > max(ALIAS_ALLOWANCE, self._written):
            nodes, mark = self._largest_alias
            raise _Refused(mark, f"aliases add {self._alias_added:,} nodes to the "
                           f"{self._written:,} the file spells out ({nodes:,} from this alias "
                           "alone); write the data out instead of repeating it by alias")
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """As PyYAML's, but a value it cannot convert is a YAML error at its line."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            value = node.value if isinstance(node.value, str) else ""
            shown = value if len(value) <= 40 else f"{value[:20]}... ({len(value):,} characters)"
            problem = str(exc).partition(";")[0]
            raise ConstructorError(None, None, f"cannot read {shown!r}: {problem}",
                                   node.start_mark) from None


class _PythonLoader(_Limits, Reader, Scanner, Parser, Resolver):
    """The limits over PyYAML's pure-Python parser, for builds without libyaml."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._start_limits()


_LOADER: Callable[[str], _Limits] = _PythonLoader
if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _LibyamlLoader(_Limits, CParser, Resolver):
        """The limits over libyaml's parser: events come from C, nodes are counted here."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._start_limits()

    _LOADER = _LibyamlLoader


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


def read_text(path: Path) -> str:
    """The file as text: at most :data:`MAX_FILE_BYTES`, UTF-8 (a byte order mark is fine).

    The size is checked before anything is read, and at most one byte past the
    limit is ever read, so neither a huge file nor an endless pipe costs memory.
    """
    try:
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            data = b"" if size > MAX_FILE_BYTES else stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror}") from None
    if size > MAX_FILE_BYTES or len(data) > MAX_FILE_BYTES:
        shown = f"{size:,} bytes" if size > MAX_FILE_BYTES else "longer than that"
        raise BadInput(f"{path}:1: the file is {shown}; files you write may be at most "
                       f"{MAX_FILE_BYTES // 2**20} MiB ({MAX_FILE_BYTES:,} bytes)")
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        raise BadInput(f"{path}:{line}: not UTF-8 text (byte 0x{body[exc.start]:02x} at offset "
                       f"{exc.start + len(data) - len(body):,}); save the file as UTF-8") from None


def read_yaml(path: Path) -> tuple[Any, dict[LinePath, int]]:
    """Parse ``path`` and return its data with a map from key path to line number.

    Refuses, as :class:`BadInput` naming the line, what no person writes: files over
    :data:`MAX_FILE_BYTES`, bytes that are not UTF-8, more than :data:`MAX_NODES`
    nodes or :data:`MAX_DEPTH` levels once aliases are expanded, and aliases that add
    more than the file itself holds (beyond :data:`ALIAS_ALLOWANCE`).
    """
    text = read_text(path)
    try:
        loader = _LOADER(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()  # type: ignore[attr-defined]
    except _Refused as exc:
        where = f":{exc.mark.line + 1}" if exc.mark is not None else ":1"
        raise BadInput(f"{path}{where}: {exc.problem}") from None
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
    location, message = first_problem(exc)
    full = (*prefix, *location)
    line = line_of(lines, full)
    field = ".".join(str(part) for part in full) or "(top level)"
    where = f"{source}:{line}" if line is not None else source
    return f"{where}: {field}: {message}{more_problems(exc)}"


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
