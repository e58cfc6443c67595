"""Files no person wrote are refused quickly, in one line naming file and line.

Every file a user writes goes through :mod:`rollout.userfile`: alias bombs, recursive
aliases, deep nesting, bytes that are not UTF-8, values YAML cannot turn into data and
files over the size limit each end in exit 2 (``BadInput``), never in a traceback,
an out-of-memory kill or minutes of work.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rollout import userfile
from rollout.artefacts.notes import load_notes
from rollout.aws_clients import AwsClients
from rollout.cli import run
from rollout.errors import BadInput
from rollout.local.deployer import LocalDeployer
from rollout.model.tenants import load_tenants
from rollout.rollouts.strategy import parse_strategy
from rollout.userfile import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES
from tests.conftest import stack_yaml

REPOSITORY = Path(__file__).resolve().parents[2]
SAFETY_BOUND = 5.0
"""Seconds: the bombs are refused in a few milliseconds; far more means they were expanded."""

LAUGHS = textwrap.dedent("""\
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    """)
"""Billion laughs: 9**9 strings from 342 bytes; the aliases of line 7 pass the node limit."""

SMALL_BOMB = textwrap.dedent("""\
    a: &a [x, x, x, x, x, x, x, x, x, x]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
    e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
    """)
"""About 111,000 nodes from 200 bytes: under the node limit, but aliases do all the work."""

TENANTS = textwrap.dedent("""\
    defaults:
      windows: &weekend ["Sat 02:00-06:00"]
    cohorts:
      - name: canary
        order: 1
    tenants:
      - id: acme
        cohort: canary
        windows: *weekend
      - id: birch
        cohort: canary
        windows: *weekend
    """)

NOTES = textwrap.dedent("""\
    version: 1.5.0
    title: Faster reports
    changes: [Reports render twice as fast]
    benefits: [Less waiting]
    risks: [Report layout changes slightly]
    timeframe: March
    rollbackPlan: Traffic returns to 1.4.2 in one step
    """)

STACK = stack_yaml("acme", "canary", [])

STEPS = "steps:\n  - {weight: 10, bake: 1s}\n  - {weight: 100, bake: 1s}\n"


def load_tenants_file(path: Path) -> object:
    return load_tenants(path)


def load_release_notes(path: Path) -> object:
    return load_notes(path, "1.5.0")


def load_stack_file(path: Path) -> object:
    return LocalDeployer(path.parent, AwsClients()).stack_file("canary", path)


def load_steps_file(path: Path) -> object:
    return parse_strategy(f"file:{path.name}", path.parent)


LOADERS: dict[str, tuple[str, str, Callable[[Path], object]]] = {
    "tenants.yaml": ("tenants.yaml", TENANTS, load_tenants_file),
    "release.yaml": ("release.yaml", NOTES, load_release_notes),
    "Pulumi.<stack>.yaml": ("Pulumi.canary.yaml", STACK, load_stack_file),
    "steps.yaml": ("steps.yaml", STEPS, load_steps_file),
}


def refusal(kind: str, tmp_path: Path, content: str | bytes) -> tuple[Path, str, float]:
    """Write ``content`` as a file of ``kind``, load it, and return the one-line refusal."""
    name, _, load = LOADERS[kind]
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    started = time.monotonic()
    with pytest.raises(BadInput) as caught:
        load(path)
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert "\n" not in message
    return path, message, elapsed


def plan(tmp_path: Path, content: str | bytes,
         capsys: pytest.CaptureFixture[str]) -> tuple[Path, str, float]:
    """``rollout plan`` on a tenants file: the exit code must be 2 and stderr one line."""
    path = tmp_path / "tenants.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    started = time.monotonic()
    code = run(["plan", "--release", "1.5.0", "--tenants", str(path)])
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    (message,) = err.strip().splitlines()
    return path, message, elapsed


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_the_good_files_load(tmp_path: Path, kind: str) -> None:
    name, text, load = LOADERS[kind]
    path = tmp_path / name
    path.write_text(text)
    load(path)


def test_plan_refuses_billion_laughs_at_once_naming_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, message, elapsed = plan(tmp_path, LAUGHS, capsys)
    assert message.startswith(f"error: {path}:7: ")
    assert f"{MAX_NODES:,}" in message
    assert elapsed < SAFETY_BOUND, f"took {elapsed:.2f}s"


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_every_user_file_refuses_alias_bombs(tmp_path: Path, kind: str) -> None:
    path, message, elapsed = refusal(kind, tmp_path, LAUGHS)
    assert message.startswith(f"{path}:7: ")
    assert elapsed < SAFETY_BOUND, f"took {elapsed:.2f}s"
    path, message, elapsed = refusal(kind, tmp_path, SMALL_BOMB)
    assert message.startswith(f"{path}:")
    assert "alias" in message
    assert elapsed < SAFETY_BOUND, f"took {elapsed:.2f}s"


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_recursive_alias_is_refused(tmp_path: Path, kind: str) -> None:
    path, message, _ = refusal(kind, tmp_path, "a: 1\nloop: &loop\n  again: *loop\n")
    assert message.startswith(f"{path}:3: ")
    assert "recursive" in message


def test_deep_nesting_is_refused_at_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = "defaults:\n  windows: " + "[" * 900 + "]" * 900 + "\n"
    path, message, _ = plan(tmp_path, deep, capsys)
    assert message.startswith(f"error: {path}:2: ")
    assert f"nested more than {MAX_DEPTH} levels deep" in message


def test_aliases_cannot_nest_past_the_depth_limit(tmp_path: Path) -> None:
    levels = MAX_DEPTH // 2
    chain = [f"a0: &a0 {'[' * levels}x{']' * levels}"]
    chain += [f"a{n}: &a{n} {'[' * levels}*a{n - 1}{']' * levels}" for n in range(1, 40)]
    path, message, _ = refusal("tenants.yaml", tmp_path, "\n".join(chain) + "\n")
    assert message.startswith(f"{path}:2: ")
    assert "once alias *a0 is expanded" in message


def test_the_pure_python_parser_keeps_the_same_limits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyYAML built without libyaml parses in Python; the limits must not depend on it."""
    monkeypatch.setattr(userfile, "_LOADER", userfile._PythonLoader)
    path, message, _ = refusal("tenants.yaml", tmp_path, LAUGHS)
    assert message.startswith(f"{path}:7: ")
    _, message, _ = refusal("tenants.yaml", tmp_path, SMALL_BOMB)
    assert "alias" in message
    _, message, _ = refusal("tenants.yaml", tmp_path, "a: &a [*a]\n")
    assert "recursive" in message
    path.write_text(TENANTS)
    assert [t.id for t in load_tenants(path).tenants] == ["acme", "birch"]


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_latin_1_bytes_are_refused_at_their_line(tmp_path: Path, kind: str) -> None:
    _, text, _ = LOADERS[kind]
    lines = text.splitlines(keepends=True)
    lines.insert(2, "# Caf\xe9 ops\n")
    path, message, _ = refusal(kind, tmp_path, "".join(lines).encode("latin-1"))
    assert message.startswith(f"{path}:3: ")
    assert "UTF-8" in message


def test_plan_refuses_latin_1_with_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = TENANTS.replace("id: birch", "id: birch  # Bj\xf6rk")
    path, message, _ = plan(tmp_path, text.encode("latin-1"), capsys)
    assert message.startswith(f"error: {path}:10: ")
    assert "UTF-8" in message


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + TENANTS.encode())
    assert [t.id for t in load_tenants(path).tenants] == ["acme", "birch"]


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
        tmp_path: Path, kind: str) -> None:
    name, _, load = LOADERS[kind]
    path = tmp_path / name
    with path.open("wb") as sparse:
        sparse.truncate(MAX_FILE_BYTES + 1)
    started = time.monotonic()
    with pytest.raises(BadInput) as caught:
        load(path)
    elapsed = time.monotonic() - started
    assert str(caught.value).startswith(f"{path}:1: ")
    assert f"{MAX_FILE_BYTES // 2**20} MiB" in str(caught.value)
    assert elapsed < SAFETY_BOUND, f"took {elapsed:.2f}s"


def test_plan_refuses_an_oversize_tenants_file_with_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tenants.yaml"
    with path.open("wb") as sparse:
        sparse.truncate(10 * MAX_FILE_BYTES)
    code = run(["plan", "--release", "1.5.0", "--tenants", str(path)])
    _, err = capsys.readouterr()
    assert code == 2
    (message,) = err.strip().splitlines()
    assert message.startswith(f"error: {path}:1: ")


def test_a_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    padding = MAX_FILE_BYTES - len(TENANTS.encode()) - 2
    path.write_bytes(TENANTS.encode() + b"#" + b" " * padding + b"\n")
    assert path.stat().st_size == MAX_FILE_BYTES
    assert len(load_tenants(path).tenants) == 2


@pytest.mark.parametrize(("value", "line", "words"), [
    ("1" * 5000, 11, "integer"),
    ("2026-02-30", 11, "day is out of range"),
])
def test_a_value_yaml_cannot_read_names_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, line: int,
        words: str) -> None:
    text = TENANTS.replace("  - id: birch\n", f"  - id: birch\n    notice_days: {value}\n")
    path, message, _ = plan(tmp_path, text, capsys)
    assert message.startswith(f"error: {path}:{line}: ")
    assert words in message


def test_the_examples_of_the_repository_are_within_the_limits() -> None:
    assert len(load_tenants(REPOSITORY / "examples" / "tenants.yaml").tenants) == 10
    assert load_notes(REPOSITORY / "examples" / "release.yaml", "1.5.0").version == "1.5.0"
