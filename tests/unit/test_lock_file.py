"""The hashed lock files: every install `make` does goes through one, and it covers pyproject.

`make` installs the toolkit with ``pip install --require-hashes`` from
requirements/lock.txt, then the project itself with ``--no-deps``: what gets
installed is exactly what was reviewed when the lock was made, whatever a package
index serves later. These tests keep that promise true when someone edits
pyproject.toml or the Makefile: a dependency missing from the lock, a pin below
a lower bound, a bound low enough to allow a release with a known advisory, a
requirement line without a hash, or a ``pip install`` that skips the lock.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"
LOCKS = sorted((ROOT / "requirements").glob("*.txt"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The lock is made for CPython 3.11 on Linux (`make lock`): markers are read for it.
TARGET = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux",
          "platform_system": "Linux", "os_name": "posix",
          "platform_python_implementation": "CPython", "implementation_name": "cpython"}
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)"
                 r"(?:\s*;\s*(?P<marker>[^\\]+?))?\s*$")
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")

# Releases with a published advisory, the last vulnerable one of each: the lower bounds
# in pyproject.toml must exclude them (a fresh resolve or an old venv can't land there).
KNOWN_VULNERABLE = {
    "pyyaml": ("5.3.1", "CVE-2020-14343, arbitrary code execution in full_load; fixed in 5.4"),
    "pydantic": ("2.3.0", "CVE-2024-3772, ReDoS in email validation; fixed in 2.4.0"),
    "moto": ("1.3.6", "CVE-2018-10903 via its pinned cryptography; fixed in 1.3.7"),
    "pytest": ("9.0.2", "CVE-2025-71176, predictable /tmp/pytest-of-<user>; fixed in 9.0.3"),
    "check-jsonschema": ("0.29.4", "CVE-2024-53848, remote schema cache confusion; "
                                   "fixed in 0.30.0"),
    "starlette": ("0.49.0", "CVE-2025-62727, quadratic Range header parsing in FileResponse; "
                            "fixed in 0.49.1"),
    "setuptools": ("78.1.0", "CVE-2025-47273, path traversal in PackageIndex; fixed in 78.1.1"),
}


@dataclass(frozen=True)
class Pin:
    """One requirement of a lock: ``name==version``, its marker and its hashes."""

    name: NormalizedName
    version: Version
    marker: Marker | None
    hashes: tuple[str, ...]


def read_lock(path: Path) -> dict[NormalizedName, Pin]:
    """Parse a lock by allow-list: comments, ``name==version [; marker]`` and hash options.

    Anything else (an index URL, a ``-e`` or URL requirement, a range instead of a pin)
    would let pip fetch something the hashes do not cover, so it fails the parse.
    """
    entries: list[list[str]] = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        continued = bool(entries) and entries[-1][-1].endswith("\\")
        if continued:
            entries[-1][-1] = entries[-1][-1].rstrip("\\").strip()
            entries[-1].append(line)
        else:
            assert not raw.startswith((" ", "\t")), f"{path.name}: stray line {raw!r}"
            entries.append([line])
    pins: dict[NormalizedName, Pin] = {}
    for entry in entries:
        entry[-1] = entry[-1].rstrip("\\").strip()
        head, *options = [part for part in entry if part]
        match = PIN.match(head)
        assert match, f"{path.name}: {head!r} is not an exact `name==version` pin"
        assert options, f"{path.name}: {head} has no --hash"
        for option in options:
            assert HASH.match(option), f"{path.name}: {head}: {option!r} is not a sha256 hash"
        name = canonicalize_name(match["name"])
        assert name not in pins, f"{path.name}: {name} is pinned twice"
        marker = Marker(match["marker"]) if match["marker"] else None
        pins[name] = Pin(name, Version(match["version"]), marker, tuple(options))
    return pins


def direct_requirements() -> list[tuple[str, Requirement]]:
    """Every requirement pyproject.toml names, with where it is declared."""
    project: dict[str, Any] = PYPROJECT["project"]
    found = [("dependencies", Requirement(r)) for r in project["dependencies"]]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        found += [(f"optional-dependencies.{extra}", Requirement(r)) for r in reqs]
    found += [("build-system.requires", Requirement(r))
              for r in PYPROJECT["build-system"]["requires"]]
    return found


@pytest.fixture(scope="module")
def lock() -> dict[NormalizedName, Pin]:
    return read_lock(LOCK)


def test_every_lock_pins_every_requirement_with_sha256_hashes() -> None:
    assert LOCK in LOCKS
    for path in LOCKS:
        pins = read_lock(path)
        assert pins, f"{path.name} pins nothing"
        assert all(len(pin.hashes) >= 1 for pin in pins.values())


def test_the_lock_parser_refuses_what_would_bypass_the_hashes(tmp_path: Path) -> None:
    good = "pyyaml==6.0.2 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via rollout\n"
    (tmp_path / "good.txt").write_text(good)
    assert read_lock(tmp_path / "good.txt")[canonicalize_name("PyYAML")].version \
        == Version("6.0.2")
    for bad in ("pyyaml==6.0.2\n", "pyyaml>=6.0 \\\n    --hash=sha256:" + "a" * 64 + "\n",
                "--extra-index-url https://example.invalid/simple\n" + good,
                "-e .\n" + good, "pyyaml==6.0.2 \\\n    --hash=md5:abc\n"):
        (tmp_path / "bad.txt").write_text(bad)
        with pytest.raises(AssertionError):
            read_lock(tmp_path / "bad.txt")


def test_every_direct_dependency_is_pinned_within_its_bounds(
        lock: dict[NormalizedName, Pin]) -> None:
    for where, req in direct_requirements():
        if req.marker is not None and not req.marker.evaluate(TARGET):
            continue
        name = canonicalize_name(req.name)
        assert name in lock, f"{req} ({where}) is missing from {LOCK.name}: run `make lock`"
        pinned = lock[name].version
        assert req.specifier.contains(pinned, prereleases=True), (
            f"{LOCK.name} pins {name}=={pinned}, outside {req} ({where}): run `make lock`")


def test_the_extras_of_direct_dependencies_are_in_the_lock(
        lock: dict[NormalizedName, Pin]) -> None:
    """``moto[server]`` is locked as plain ``moto``: what the extra adds must be there too."""
    for where, req in direct_requirements():
        for extra in sorted(req.extras):
            try:
                declared = requires(req.name) or []
            except PackageNotFoundError:
                pytest.fail(f"{req.name} ({where}) is not installed: run `make`")
            for line in declared:
                sub = Requirement(line)
                if sub.marker is not None and not sub.marker.evaluate({**TARGET, "extra": extra}):
                    continue
                assert canonicalize_name(sub.name) in lock, (
                    f"{req} ({where}) needs {sub.name} for [{extra}], missing from "
                    f"{LOCK.name}: run `make lock`")


def test_lower_bounds_exclude_releases_with_known_advisories() -> None:
    bounds = {canonicalize_name(req.name): (where, req) for where, req in direct_requirements()}
    allowed = []
    for name, (last_vulnerable, advisory) in KNOWN_VULNERABLE.items():
        where, req = bounds[canonicalize_name(name)]
        if req.specifier.contains(last_vulnerable, prereleases=True):
            allowed.append(f"{req} ({where}) allows {name} {last_vulnerable}: {advisory}")
    assert not allowed, "\n".join(allowed)


def test_the_lock_holds_no_release_with_a_known_advisory(
        lock: dict[NormalizedName, Pin]) -> None:
    for name, (last_vulnerable, advisory) in KNOWN_VULNERABLE.items():
        pin = lock.get(canonicalize_name(name))
        if pin is not None:
            assert pin.version > Version(last_vulnerable), f"{name}=={pin.version}: {advisory}"


def dry_run(target: str, **variables: str) -> list[str]:
    """The commands ``make`` would run for ``target`` (``-n -B``: nothing is executed)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        [make, "-n", "-B", "-C", str(ROOT), *(f"{k}={v}" for k, v in variables.items()), target],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize(("target", "variables", "lock_name"), [
    ("{tmp}/venv/.installed", {"VENV": "{tmp}/venv"}, "lock.txt"),
    ("{tmp}/awscli/bin/aws", {"AWSCLI": "{tmp}/awscli"}, "awscli.txt"),
    ("{tmp}/lock-tool/bin/uv", {"LOCK_TOOL": "{tmp}/lock-tool"}, "uv.txt"),
])
def test_every_pip_install_make_runs_goes_through_a_hashed_lock(
        tmp_path: Path, target: str, variables: dict[str, str], lock_name: str) -> None:
    commands = dry_run(target.format(tmp=tmp_path),
                       **{k: v.format(tmp=tmp_path) for k, v in variables.items()})
    installs = [c for c in commands if " pip install" in c]
    assert installs, commands
    assert any(f"-r requirements/{lock_name}" in c for c in installs), installs
    for command in installs:
        words = command.split()
        if "--no-deps" in words:
            assert "--no-build-isolation" in words, (
                f"{command}: build isolation would fetch the build backend without hashes")
            continue
        assert "--require-hashes" in words, command
        assert "--only-binary" in words, f"{command}: an sdist would run unhashed build deps"


def test_the_install_stamp_is_redone_when_the_lock_or_pyproject_changes() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    done = subprocess.run([make, "-p", "-n", "-C", str(ROOT), "-f", "Makefile", "lint"],
                          capture_output=True, text=True, check=False)
    rule = re.search(r"^\.venv/\.installed: (.*)$", done.stdout, re.MULTILINE)
    assert rule, "no rule for .venv/.installed"
    assert {"requirements/lock.txt", "pyproject.toml"} <= set(rule[1].split())
