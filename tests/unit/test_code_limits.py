"""Size limits for product code (issue 14): no function over 60 lines, no parameter list over 8.

A long function or a long parameter list is where a newcomer stops following the
logic, so the limits are checked on every module of the package rather than left to
review. The local stand-ins (``rollout/local``) are held to them too: they pass.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "rollout"
MAX_LINES = 60
MAX_PARAMETERS = 8

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def functions_in(tree: ast.AST) -> list[FunctionNode]:
    return [node for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


def methods_in(tree: ast.AST) -> set[int]:
    """The ids of the functions defined directly in a class body: their first parameter is bound."""
    return {id(item) for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
            for item in node.body if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)}


def length_in_lines(function: FunctionNode) -> int:
    """From the ``def`` line to the body's last line; decorators stand above ``lineno``."""
    return (function.end_lineno or function.lineno) - function.lineno + 1


def parameter_count(function: FunctionNode, *, is_method: bool) -> int:
    """Positional and keyword-only parameters, ``*args`` and ``**kwargs`` one each; a
    method's ``self`` or ``cls`` does not count."""
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    if is_method and positional and positional[0].arg in ("self", "cls"):
        positional = positional[1:]
    starred = (arguments.vararg is not None) + (arguments.kwarg is not None)
    return len(positional) + len(arguments.kwonlyargs) + starred


def measured(source: str) -> list[tuple[FunctionNode, int, int]]:
    """Every function of ``source`` with its length in lines and its parameter count."""
    tree = ast.parse(source)
    methods = methods_in(tree)
    return [(function, length_in_lines(function),
             parameter_count(function, is_method=id(function) in methods))
            for function in functions_in(tree)]


def violations(package: Path) -> list[str]:
    """``file:line function: what`` for every function of ``package`` over a limit."""
    found: list[str] = []
    for path in sorted(package.rglob("*.py")):
        where = path.relative_to(package.parent)
        for function, lines, parameters in measured(path.read_text(encoding="utf-8")):
            named = f"{where}:{function.lineno} {function.name}"
            if lines > MAX_LINES:
                found.append(f"{named}: {lines} lines (limit {MAX_LINES})")
            if parameters > MAX_PARAMETERS:
                found.append(f"{named}: {parameters} parameters (limit {MAX_PARAMETERS})")
    return found


def test_no_product_function_is_over_the_limits() -> None:
    found = violations(PACKAGE)
    assert not found, "functions over the limits:\n" + "\n".join(found)


@pytest.mark.parametrize(("source", "lines", "parameters"), [
    ("def f(a, b, *c, d, **e):\n    pass\n", 2, 5),
    ("def f(a, /, b):\n    pass\n", 2, 2),
    ("class C:\n    def m(self, a):\n        pass\n", 2, 1),
    ("class C:\n    @classmethod\n    def m(cls, a, *, b):\n        pass\n", 2, 2),
    ("def f(self, a):\n    pass\n", 2, 2),
    ("@decorator\n@other(1,\n       2)\ndef f():\n    return 1\n", 2, 0),
])
def test_lines_and_parameters_are_counted_as_the_rules_say(source: str, lines: int,
                                                          parameters: int) -> None:
    [(_, counted_lines, counted_parameters)] = measured(source)
    assert (counted_lines, counted_parameters) == (lines, parameters)


def test_a_function_over_a_limit_is_named_with_file_and_line(tmp_path: Path) -> None:
    package = tmp_path / "rollout"
    (package / "sub").mkdir(parents=True)
    body = "".join(f"    x{n} = {n}\n" for n in range(MAX_LINES - 1))
    (package / "sub" / "long.py").write_text(
        f"import os\n\n\ndef fits(a, b, c, d, e, f, g, h):\n{body}\n"
        f"def too_long(a):\n{body}    return a\n\n\n"
        "class C:\n    def too_many(self, a, b, c, d, e, f, g, h, *, i):\n        pass\n",
        encoding="utf-8")
    assert violations(package) == [
        f"rollout/sub/long.py:{MAX_LINES + 5} too_long: {MAX_LINES + 1} lines (limit {MAX_LINES})",
        f"rollout/sub/long.py:{2 * MAX_LINES + 9} too_many: 9 parameters (limit {MAX_PARAMETERS})",
    ]
