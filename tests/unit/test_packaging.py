"""What a production install carries: no test doubles, no generic top-level package.

Read from the installed metadata (the requirements each installed distribution
declares) and from ``pyproject.toml``'s package finder, so a dependency that pulls
moto back in, or a ``packages.find`` that lets ``infra`` in, fails here. Without
moto, the local stand-ins say what to install and everything else still runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from setuptools import find_namespace_packages

REPOSITORY = Path(__file__).resolve().parents[2]
DISTRIBUTION = "tenant-rollout"
TEST_DOUBLES = {"moto", "flask", "werkzeug", "docker", "cfn-lint"}
LOCAL_EXTRA_LINE = ("error: the local stand-ins need the [local] extra: "
                    "pip install 'tenant-rollout[local]'")


def _wanted(requirement: Requirement, extras: frozenset[str]) -> bool:
    """Whether ``requirement`` applies to an install asking for ``extras`` (none: core)."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras or {""})


def closure(name: str, extras: frozenset[str] = frozenset()) -> tuple[set[str], set[str]]:
    """Every distribution installing ``name[extras]`` brings, and the ones not installed.

    Each installed distribution's own requirements are walked, an extra's requirements
    only where a requirement asks for that extra.
    """
    seen: dict[str, frozenset[str]] = {}
    missing: set[str] = set()
    todo = [(canonicalize_name(name), extras)]
    while todo:
        current, wanted = todo.pop()
        known = seen.get(current)
        if known is not None and wanted <= known:
            continue
        seen[current] = (known or frozenset()) | wanted
        try:
            declared = requires(current) or []
        except PackageNotFoundError:
            missing.add(current)
            continue
        for line in declared:
            requirement = Requirement(line)
            if _wanted(requirement, wanted):
                todo.append((canonicalize_name(requirement.name),
                             frozenset(requirement.extras)))
    return set(seen) - {canonicalize_name(name)} - missing, missing


def test_the_core_install_brings_no_test_double() -> None:
    core, missing = closure(DISTRIBUTION)
    assert not missing, f"core requirements not installed: {sorted(missing)}"
    assert {"boto3", "pulumi", "typer", "pydantic"} <= core, "the walk reads the metadata"
    assert not core & TEST_DOUBLES, (
        f"a plain install of {DISTRIBUTION} would bring {sorted(core & TEST_DOUBLES)}")


def test_the_local_extra_brings_moto_and_its_server() -> None:
    with_local, missing = closure(DISTRIBUTION, frozenset({"local"}))
    assert not missing, f"[local] requirements not installed: {sorted(missing)}"
    assert {"moto", "flask", "werkzeug"} <= with_local


def test_the_closure_walk_follows_extras_of_dependencies() -> None:
    plain, _ = closure("moto")
    served, _ = closure("moto", frozenset({"server"}))
    assert "flask" not in plain
    assert "flask" in served


def test_the_only_installed_top_level_package_is_rollout() -> None:
    top_level = distribution(DISTRIBUTION).read_text("top_level.txt")
    if top_level is not None:
        assert top_level.split() == ["rollout"]
    pyproject = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())
    found = pyproject["tool"]["setuptools"]["packages"]["find"]
    packages = find_namespace_packages(where=str(REPOSITORY), include=found.get("include", ["*"]),
                                       exclude=found.get("exclude", ()))
    assert "rollout.local" in packages and "rollout.components" in packages
    assert {package.split(".")[0] for package in packages} == {"rollout"}


# --- without moto -------------------------------------------------------------------------

WITHOUT_MOTO = """
import contextlib, io, json, sys
sys.modules["moto"] = None  # as in a core install: `import moto` fails
from rollout.cli import run
seen = {}
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(argv)
    seen[" ".join(argv)] = [code, out.getvalue(), err.getvalue()]
print(json.dumps(seen))
"""

REFUSED = [
    ["demo"],
    ["local", "server", "--port", "5999"],
    ["local", "up", "--cohort", "canary"],
    ["stacks", "up", "--cohort", "canary", "--version", "1.5.0", "--local"],
]
RUNS = [
    ["plan", "--release", "1.5.0", "--tenants", "examples/tenants.yaml", "--from",
     "2026-03-02", "--json"],
    ["--help"],
]


@pytest.fixture(scope="module")
def without_moto() -> dict[str, tuple[int, str, str]]:
    """Exit code, stdout and stderr of each command, run where ``import moto`` fails.

    One process for all of them: the CLI's start-up is paid once.
    """
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_MOTO, json.dumps(REFUSED + RUNS)], cwd=REPOSITORY,
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "AWS_REGION": "eu-west-1", "HOME": str(REPOSITORY),
             "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    assert done.returncode == 0, done.stderr
    return {argv: (code, out, err) for argv, (code, out, err) in json.loads(done.stdout).items()}


@pytest.mark.parametrize("argv", REFUSED, ids=["demo", "local-server", "local-up",
                                               "stacks-up-local"])
def test_without_moto_the_local_stand_ins_say_what_to_install(
        without_moto: dict[str, tuple[int, str, str]], argv: list[str]) -> None:
    code, out, err = without_moto[" ".join(argv)]
    assert code == 2, err
    assert out == ""
    assert err.strip().splitlines() == [LOCAL_EXTRA_LINE]


def test_without_moto_every_other_command_runs(
        without_moto: dict[str, tuple[int, str, str]]) -> None:
    code, out, err = without_moto[" ".join(RUNS[0])]
    assert code == 0, err
    assert json.loads(out)["cohorts"]
    code, out, err = without_moto["--help"]
    assert code == 0, err
    assert "demo" in out and "stacks" in out


def _top_level_imports(path: Path) -> set[str]:
    """The top-level names ``path`` imports when it runs (not those only for type checks)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
                 and ast.unparse(node.test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}
                 for statement in node.body for inner in ast.walk(statement)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def test_every_library_product_code_imports_comes_with_the_core_install() -> None:
    """A plain ``pip install`` must bring what the product imports, not a test double's
    dependency that happens to provide it (click came only through Flask once); the
    preferences page (``rollout/portal``) may use what its ``[portal]`` extra brings."""
    from importlib.metadata import packages_distributions

    core, _ = closure(DISTRIBUTION)
    with_portal, _ = closure(DISTRIBUTION, frozenset({"portal"}))
    provided_by = packages_distributions()
    product = [path for path in sorted((REPOSITORY / "rollout").rglob("*.py"))
               if "local" not in path.relative_to(REPOSITORY / "rollout").parts[:1]]
    unprovided: dict[str, set[str]] = {}
    for path in product:
        portal = path.relative_to(REPOSITORY / "rollout").parts[0] == "portal"
        for name in _top_level_imports(path) - set(sys.stdlib_module_names) - {"rollout"}:
            sources = {canonicalize_name(d) for d in provided_by.get(name, [])}
            if not sources & (with_portal if portal else core):
                unprovided.setdefault(name, set()).add(str(path.relative_to(REPOSITORY)))
    assert not unprovided, ("imported by product code but not brought by a plain install: "
                            + "; ".join(f"{name} ({', '.join(sorted(files))})"
                                        for name, files in sorted(unprovided.items())))
