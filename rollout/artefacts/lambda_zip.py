"""A Lambda zip, the same bytes every time: files plus the installed distributions they need.

A zip is trusted by its sha256 (a release's manifest, ``stacks up``'s re-hash, Lambda's
``CodeSha256``), so building it twice from the same inputs must give the same bytes:
entries sorted, every timestamp 1980-01-01, fixed permissions and compression, no
bytecode. Dependencies are copied from the installed distributions, walked from the
requirements' metadata as judged for the Lambda runtime's Python; nothing is
downloaded. boto3 and its own dependencies come with the runtime and are never
vendored. Compiled code is copied only when the installed wheel was built for the
function's platform (:class:`LambdaPlatform`), told by the wheel's own tags.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.parser import Parser
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path, PurePosixPath
from typing import Literal

from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags, parse_tag
from packaging.utils import canonicalize_name

from rollout.errors import BadInput

LAMBDA_PYTHON = (3, 11)
"""The Python of the default runtime (``python3.11``): markers and wheel tags are judged for it."""
LAMBDA_GLIBC_MINOR = 34
"""Amazon Linux 2023, under the ``python3.11`` runtime, has glibc 2.34."""
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil",
                              "six", "urllib3"})
"""What the Lambda Python runtime brings: never vendored, nor followed further."""
COMPILED = (".so", ".pyd", ".dylib")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644 << 16
UNIX = 3
COMPRESS_LEVEL = 6

Architecture = Literal["x86_64", "arm64"]
"""Lambda's names for a function's instruction set."""
_MACHINE: dict[Architecture, str] = {"x86_64": "x86_64", "arm64": "aarch64"}


@dataclass(frozen=True)
class Entry:
    """One file of the zip: its name there, and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class LambdaPlatform:
    """The platform a function runs on, for judging an installed wheel's compiled code."""

    architecture: Architecture = "x86_64"

    def tags(self) -> frozenset[Tag]:
        """Every wheel tag the runtime accepts: CPython 3.11's, abi3's, and pure ones."""
        machine = _MACHINE[self.architecture]
        platforms = [f"manylinux_2_{minor}_{machine}"
                     for minor in range(LAMBDA_GLIBC_MINOR, 4, -1)]
        platforms += [f"manylinux2014_{machine}"]
        if machine == "x86_64":
            platforms += ["manylinux2010_x86_64", "manylinux1_x86_64"]
        return frozenset([*cpython_tags(LAMBDA_PYTHON, platforms=platforms),
                          *compatible_tags(LAMBDA_PYTHON, platforms=platforms)])

    def describe(self) -> str:
        return f"Lambda's python{LAMBDA_PYTHON[0]}.{LAMBDA_PYTHON[1]} on Linux {self.architecture}"


def applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    """Whether ``requirement`` is needed on the Lambda runtime's Python, for ``extras``."""
    if requirement.marker is None:
        return True
    version = f"{LAMBDA_PYTHON[0]}.{LAMBDA_PYTHON[1]}"
    environment = {"python_version": version, "python_full_version": f"{version}.0"}
    return any(requirement.marker.evaluate({**environment, "extra": extra})
               for extra in extras or {""})


def _installed(requirement: Requirement, needed_by: str, hint: str) -> Distribution:
    try:
        found = distribution(requirement.name)
    except PackageNotFoundError:
        raise BadInput(f"{requirement} (required by {needed_by}) is not installed: "
                       f"{hint}") from None
    if not requirement.specifier.contains(found.version, prereleases=True):
        raise BadInput(f"{requirement} (required by {needed_by}) is needed, but "
                       f"{found.version} is installed: {hint}")
    return found


def vendored(roots: Sequence[Requirement], root_name: str, hint: str) -> list[Distribution]:
    """The installed distributions ``roots`` need on Lambda, by their requirements' metadata.

    ``root_name`` names who asked (in errors), ``hint`` how to install what is missing.
    """
    found: dict[str, Distribution] = {}
    extras_seen: dict[str, frozenset[str]] = {}
    todo = [(root, root_name) for root in roots]
    while todo:
        requirement, needed_by = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = frozenset(requirement.extras)
        if name in RUNTIME_PROVIDED or (name in extras_seen and extras <= extras_seen[name]):
            continue
        installed = found.get(name) or _installed(requirement, needed_by, hint)
        found[name] = installed
        extras_seen[name] = extras_seen.get(name, frozenset()) | extras
        for line in installed.requires or []:
            below = Requirement(line)
            if applies(below, extras):
                todo.append((below, f"{installed.metadata['Name']} {installed.version}"))
    return [found[name] for name in sorted(found)]


def _kept(relative: str) -> bool:
    """A distribution's importable files, its METADATA and its licence texts."""
    parts = PurePosixPath(relative).parts
    if relative.startswith("..") or "__pycache__" in parts or relative.endswith(".pyc"):
        return False
    if parts[0].endswith(".dist-info"):
        return parts[1:] == ("METADATA",) or "licenses" in parts or parts[-1].startswith(
            ("LICENSE", "LICENCE", "COPYING", "NOTICE"))
    return True


def wheel_tags(found: Distribution) -> frozenset[Tag]:
    """The tags of the wheel ``found`` was installed from (its ``WHEEL`` file)."""
    text = found.read_text("WHEEL") or ""
    lines = Parser().parsestr(text).get_all("Tag") or []
    return frozenset(tag for line in lines for tag in parse_tag(line.strip()))


def _check_compiled(found: Distribution, relative: str, platform: LambdaPlatform | None) -> None:
    label = f"{found.metadata['Name']} {found.version}"
    if platform is None:
        raise BadInput(f"{label} ships compiled code ({relative}): this zip carries pure "
                       "Python only, the venv's build may not run on the function's "
                       "architecture")
    built_for = wheel_tags(found)
    if not built_for & platform.tags():
        shown = ", ".join(sorted(str(tag) for tag in built_for)) or "no tag"
        raise BadInput(f"{label} is installed from a build for {shown}, which does not run "
                       f"on {platform.describe()}: build the zip on such a machine (e.g. "
                       "in CI on Linux with Python 3.11)")


def distribution_entries(found: Distribution,
                         platform: LambdaPlatform | None = None) -> list[Entry]:
    """``found``'s files as installed; :class:`BadInput` if it ships compiled code that
    does not run on ``platform`` (None: no compiled code at all)."""
    label = f"{found.metadata['Name']} {found.version}"
    files = found.files
    if files is None:
        raise BadInput(f"{label} lists no files (no RECORD): reinstall it with pip")
    entries = []
    checked = False
    for relative in sorted(str(item) for item in files):
        if relative.endswith(COMPILED) and not checked:
            _check_compiled(found, relative, platform)
            checked = True
        if _kept(relative):
            entries.append(Entry(relative, Path(str(found.locate_file(relative))).read_bytes()))
    return entries


def tree_entries(source: Path, under: str = "",
                 skipped: Iterable[str] = ()) -> list[Entry]:
    """The files below ``source`` named ``under/<relative path>``: no bytecode, no hidden
    files, none of the relative paths in ``skipped``."""
    left_out = set(skipped)
    entries = []
    for path in sorted(source.rglob("*")):
        relative = PurePosixPath(path.relative_to(source).as_posix())
        if (not path.is_file() or "__pycache__" in relative.parts or relative.suffix == ".pyc"
                or any(part.startswith(".") for part in relative.parts)
                or relative.as_posix() in left_out):
            continue
        entries.append(Entry(str(PurePosixPath(under, relative)) if under
                             else relative.as_posix(), path.read_bytes()))
    return entries


def write_zip(path: Path, entries: Iterable[Entry]) -> None:
    """Write the entries sorted by name, every one stamped alike; replace ``path`` whole."""
    ordered = sorted(entries, key=lambda entry: entry.name)
    twice = sorted(name for name, count in Counter(e.name for e in ordered).items() if count > 1)
    if twice:
        raise BadInput(f"two sources put {twice[0]} into the zip: a dependency clashes with "
                       "the code or another dependency")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        with zipfile.ZipFile(partial, "w") as archive:
            for entry in ordered:
                info = zipfile.ZipInfo(entry.name, date_time=FIXED_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = UNIX
                info.external_attr = FILE_MODE
                archive.writestr(info, entry.data, compresslevel=COMPRESS_LEVEL)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
