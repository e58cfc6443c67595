"""The import graph of ``rollout/`` and ``infra/``, read from the source with ``ast``.

Three rules keep the layers apart (issue 14):

- no product module (everything under ``rollout/`` but ``rollout/local/``) imports the
  local stand-ins: a production install must run without them;
- nothing under ``rollout/`` imports ``infra``: it is the Pulumi program's folder, not
  an installed package;
- the Pulumi program side (``rollout.components`` and ``infra``) and the rest of the
  library never import each other in a cycle: the program side imports only the
  shared vocabulary and the stack model, and nothing but ``rollout.local`` (which runs
  the program under mocks) imports the components.

Every ``import``, ``from ... import`` (relative ones resolved) and
``importlib.import_module("...")`` with a literal name counts, wherever it is:
module level, inside a function, under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
ROOTS = ("rollout", "infra")
LOCAL = "rollout.local"
PROGRAM_SIDE = ("rollout.components", "infra")
PROGRAM_MAY_IMPORT = ("rollout.components", "rollout.vocabulary", "rollout.model")
"""What the program side may import of this repository: an allow-list."""
IMPORT_FUNCTIONS = {"import_module", "__import__"}


@dataclass(frozen=True)
class Edge:
    """``importer`` imports ``imported`` at ``where`` (``path:line``, relative to the tree)."""

    importer: str
    imported: str
    where: str

    def __str__(self) -> str:
        return f"{self.where}: {self.importer} imports {self.imported}"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_under(root: Path) -> dict[str, Path]:
    """Module name → file, for every ``.py`` file under the roots in ``root``."""
    found: dict[str, Path] = {}
    for top in ROOTS:
        for path in sorted((root / top).rglob("*.py")):
            found[module_name(root, path)] = path
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _resolve_relative(importer: str, is_package: bool, level: int, module: str | None) -> str:
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, module] if module else base)


def _targets(node: ast.AST, importer: str, is_package: bool,
             known: Iterable[str]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        source = (_resolve_relative(importer, is_package, node.level, node.module)
                  if node.level else node.module or "")
        known_names = set(known)
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            yield submodule if submodule in known_names else source
    elif isinstance(node, ast.Call):
        called = node.func
        name = called.attr if isinstance(called, ast.Attribute) else \
            called.id if isinstance(called, ast.Name) else ""
        if name in IMPORT_FUNCTIONS and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            yield node.args[0].value


def import_edges(root: Path) -> list[Edge]:
    """Every import of every module under the roots, function-level ones included."""
    modules = modules_under(root)
    edges: list[Edge] = []
    for importer, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            for imported in _targets(node, importer, is_package, modules):
                where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
                edges.append(Edge(importer, imported, where))
    return edges


def product_imports_of_local(edges: list[Edge]) -> list[Edge]:
    return [edge for edge in edges if within(edge.importer, "rollout")
            and not within(edge.importer, LOCAL) and within(edge.imported, LOCAL)]


def imports_of_infra(edges: list[Edge]) -> list[Edge]:
    return [edge for edge in edges
            if within(edge.importer, "rollout") and within(edge.imported, "infra")]


def on_program_side(name: str) -> bool:
    return any(within(name, side) for side in PROGRAM_SIDE)


def ours(name: str) -> bool:
    return any(within(name, top) for top in ROOTS)


def program_side_violations(edges: list[Edge]) -> list[Edge]:
    """The program side importing what it may not, and the library importing components."""
    bad: list[Edge] = []
    for edge in edges:
        if not ours(edge.imported):
            continue
        if on_program_side(edge.importer):
            if not any(within(edge.imported, allowed) for allowed in PROGRAM_MAY_IMPORT):
                bad.append(edge)
        elif on_program_side(edge.imported) and not within(edge.importer, LOCAL):
            bad.append(edge)
    return bad


def mixed_cycles(edges: list[Edge], modules: Iterable[str]) -> list[list[str]]:
    """Strongly connected groups of modules that hold both program-side and library modules.

    Tarjan's algorithm over the module graph (imports of packages count as imports of
    their ``__init__``), iterative so a deep graph needs no deep recursion.
    """
    names = set(modules)
    graph: dict[str, set[str]] = {name: set() for name in names}
    for edge in edges:
        if edge.imported in names and edge.importer in names:
            graph[edge.importer].add(edge.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(sorted(group))
    return [group for group in groups if len(group) > 1
            and any(on_program_side(m) for m in group)
            and not all(on_program_side(m) for m in group)]


def shown(edges: list[Edge]) -> str:
    return "\n".join(sorted({str(edge) for edge in edges}))


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    return import_edges(REPOSITORY)


def test_the_graph_is_read_from_the_whole_tree(edges: list[Edge]) -> None:
    modules = modules_under(REPOSITORY)
    assert {"rollout.cli", "rollout.discovery", "rollout.components.program",
            "rollout.local.commands", "infra.__main__"} <= set(modules)
    importers = {edge.importer for edge in edges}
    assert len(importers) > 100, "every module with an import is read"


def test_no_product_module_imports_the_local_stand_ins(edges: list[Edge]) -> None:
    found = product_imports_of_local(edges)
    assert not found, "product modules import rollout.local (a production install has no " \
                      "moto; look the stand-ins up by name instead):\n" + shown(found)


def test_nothing_in_rollout_imports_the_infra_folder(edges: list[Edge]) -> None:
    found = imports_of_infra(edges)
    assert not found, "infra/ is the Pulumi program's folder, not installed:\n" + shown(found)


def test_the_program_side_and_the_library_do_not_import_each_other(edges: list[Edge]) -> None:
    found = program_side_violations(edges)
    assert not found, ("the components import only rollout.vocabulary and rollout.model, and "
                       "only rollout.local imports them:\n" + shown(found))


def test_no_import_cycle_spans_the_program_side_and_the_library(edges: list[Edge]) -> None:
    cycles = mixed_cycles(edges, modules_under(REPOSITORY))
    assert not cycles, "import cycles across rollout.components/infra and the library: " + \
        "; ".join(" -> ".join(group) for group in cycles)


# --- the checks themselves, on a tree made for them ---------------------------------------

def write(root: Path, name: str, text: str) -> None:
    path = root / (name.replace(".", "/") + ".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def bad_tree(tmp_path: Path) -> Path:
    for package in ("rollout", "rollout.local", "rollout.components", "rollout.model",
                    "rollout.stacks", "infra"):
        write(tmp_path, f"{package}.__init__", "")
    write(tmp_path, "rollout.discovery",
          "def later():\n    from rollout.local.state import LocalStateStore\n")
    write(tmp_path, "rollout.stacks.lazy",
          "import importlib\nimportlib.import_module('rollout.local.commands')\n")
    write(tmp_path, "rollout.stacks.relative", "from ..local import state\n")
    write(tmp_path, "rollout.local.state", "from rollout.components import program\n")
    write(tmp_path, "rollout.components.program", "from rollout.stacks import relative\n")
    write(tmp_path, "rollout.model.stack", "import infra\nfrom rollout.components import x\n")
    write(tmp_path, "rollout.stacks.relative2", "from . import lazy\n")
    return tmp_path


def test_the_checks_find_function_level_relative_and_dynamic_imports(bad_tree: Path) -> None:
    found = {(edge.importer, edge.imported)
             for edge in product_imports_of_local(import_edges(bad_tree))}
    assert found == {("rollout.discovery", "rollout.local.state"),
                     ("rollout.stacks.lazy", "rollout.local.commands"),
                     ("rollout.stacks.relative", "rollout.local.state")}


def test_the_checks_find_infra_imports_program_side_imports_and_cycles(bad_tree: Path) -> None:
    edges = import_edges(bad_tree)
    assert {(e.importer, e.imported) for e in imports_of_infra(edges)} == {
        ("rollout.model.stack", "infra")}
    assert {(e.importer, e.imported) for e in program_side_violations(edges)} == {
        ("rollout.components.program", "rollout.stacks.relative"),
        ("rollout.model.stack", "rollout.components"), ("rollout.model.stack", "infra")}
    cycles = mixed_cycles(edges, modules_under(bad_tree))
    assert cycles == [["rollout.components.program", "rollout.local.state",
                       "rollout.stacks.relative"]]
