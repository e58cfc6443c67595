"""Build the example app's Lambda zip: ``tenant-app-<version>.zip``, the same bytes every time.

A release is trusted by its sha256 (the manifest, ``stacks up``'s re-hash, Lambda's
``CodeSha256``), so building the same version twice must give the same bytes: entries
sorted, every timestamp 1980-01-01, fixed permissions and compression, no bytecode.

The zip holds ``examples/app`` (its root ``app.py`` is the lambda kind's default handler,
``app.handler``), the version (and any defect) baked in next to the app's settings, and
the app's pure-Python dependencies copied from the installed distributions: the ones in
``examples/app/requirements.txt`` and, transitively, what their metadata requires on the
Lambda runtime's Python. Nothing is downloaded. boto3 and its own dependencies come with
the Lambda runtime and are never vendored; a distribution with compiled code is refused,
since the venv's build may not be the function's architecture.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from rollout.errors import BadInput
from rollout.vocabulary.versions import checked_version

APP_DIR = Path("examples") / "app"
PACKAGE = "tenant_app"
ENTRY = "app.py"
REQUIREMENTS = "requirements.txt"
VERSION_FILE = f"{PACKAGE}/VERSION"
DEFECT_FILE = f"{PACKAGE}/DEFECT"
LAMBDA_PYTHON = "3.11"
"""The Python of the lambda kind's default runtime (``python3.11``): markers are judged for it."""
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil",
                              "six", "urllib3"})
"""What the Lambda Python runtime brings: never vendored, nor followed further."""
COMPILED = (".so", ".pyd", ".dylib")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644 << 16
UNIX = 3
COMPRESS_LEVEL = 9
INSTALL_HINT = "pip install 'tenant-rollout[local]'"


@dataclass(frozen=True)
class Entry:
    """One file of the zip: its name there, and its bytes."""

    name: str
    data: bytes


def app_source(project_dir: Path) -> Path:
    """``examples/app`` of the project; :class:`BadInput` when it is not there."""
    source = project_dir / APP_DIR
    missing = [name for name in (ENTRY, f"{PACKAGE}/__init__.py", REQUIREMENTS)
               if not (source / name).is_file()]
    if missing:
        raise BadInput(f"{source}: the example app is not there (missing {', '.join(missing)}); "
                       f"pass the project directory that holds {APP_DIR.as_posix()}/")
    return source


def _skipped(relative: PurePosixPath) -> bool:
    """Bytecode, hidden files and what the build itself writes are not copied."""
    return ("__pycache__" in relative.parts or relative.suffix == ".pyc"
            or any(part.startswith(".") for part in relative.parts)
            or relative.as_posix() in (REQUIREMENTS, VERSION_FILE, DEFECT_FILE))


def app_entries(source: Path) -> list[Entry]:
    """The app's own files, named relative to ``examples/app``."""
    entries = []
    for path in sorted(source.rglob("*")):
        relative = PurePosixPath(path.relative_to(source).as_posix())
        if path.is_file() and not _skipped(relative):
            entries.append(Entry(relative.as_posix(), path.read_bytes()))
    return entries


def app_requirements(source: Path) -> list[Requirement]:
    """The requirements the app declares, one a line (``#`` comments allowed)."""
    path = source / REQUIREMENTS
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


def _applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    """Whether ``requirement`` is needed on the Lambda runtime's Python, for ``extras``."""
    if requirement.marker is None:
        return True
    environment = {"python_version": LAMBDA_PYTHON, "python_full_version": f"{LAMBDA_PYTHON}.0"}
    return any(requirement.marker.evaluate({**environment, "extra": extra})
               for extra in extras or {""})


def _installed(requirement: Requirement, needed_by: str) -> Distribution:
    try:
        found = distribution(requirement.name)
    except PackageNotFoundError:
        raise BadInput(f"the example app needs {requirement} (required by {needed_by}), which "
                       f"is not installed: {INSTALL_HINT}") from None
    if not requirement.specifier.contains(found.version, prereleases=True):
        raise BadInput(f"the example app needs {requirement} (required by {needed_by}), but "
                       f"{found.version} is installed: {INSTALL_HINT}")
    return found


def vendored(roots: Sequence[Requirement]) -> list[Distribution]:
    """The installed distributions the app needs on Lambda, by their requirements' metadata."""
    found: dict[str, Distribution] = {}
    extras_seen: dict[str, frozenset[str]] = {}
    todo = [(root, "examples/app") for root in roots]
    while todo:
        requirement, needed_by = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = frozenset(requirement.extras)
        if name in RUNTIME_PROVIDED or (name in extras_seen and extras <= extras_seen[name]):
            continue
        installed = found.get(name) or _installed(requirement, needed_by)
        found[name] = installed
        extras_seen[name] = extras_seen.get(name, frozenset()) | extras
        for line in installed.requires or []:
            below = Requirement(line)
            if _applies(below, extras):
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


def distribution_entries(found: Distribution) -> list[Entry]:
    """``found``'s files as installed; :class:`BadInput` if it ships compiled code."""
    label = f"{found.metadata['Name']} {found.version}"
    files = found.files
    if files is None:
        raise BadInput(f"{label} lists no files (no RECORD): reinstall it with pip")
    entries = []
    for relative in sorted(str(item) for item in files):
        if relative.endswith(COMPILED):
            raise BadInput(f"{label} ships compiled code ({relative}): the zip carries pure "
                           "Python only, the venv's build may not run on the function's "
                           "architecture")
        if _kept(relative):
            entries.append(Entry(relative, Path(str(found.locate_file(relative))).read_bytes()))
    return entries


def checked_defect(source: Path, defect: str) -> str:
    """``defect`` if the app's own parser accepts it; :class:`BadInput` with its words if not.

    The parser is the app's (``tenant_app/settings.py``, standard library only), loaded
    from the source: the grammar the zip will run is the one checked.
    """
    spec = importlib.util.spec_from_file_location(
        "_tenant_app_settings", source / PACKAGE / "settings.py")
    if spec is None or spec.loader is None:
        raise BadInput(f"{source / PACKAGE / 'settings.py'}: cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        module.parse_defect(defect)
    except ValueError as exc:
        raise BadInput(f"--defect: {exc}") from None
    finally:
        del sys.modules[spec.name]
    return defect


def write_zip(path: Path, entries: Iterable[Entry]) -> None:
    """Write the entries sorted by name, every one stamped alike; replace ``path`` whole."""
    ordered = sorted(entries, key=lambda entry: entry.name)
    names = [entry.name for entry in ordered]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise BadInput(f"two sources put {twice[0]} into the zip: a dependency clashes with "
                       "the app or another dependency")
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


def build_app_zip(version: str, out_dir: Path, *, project_dir: Path,
                  defect: str | None = None) -> Path:
    """``<out_dir>/tenant-app-<version>.zip`` of the app in ``project_dir``; its path.

    ``defect`` (the app's ``ROLLOUT_APP_DEFECT`` grammar) is baked in: that zip is a
    broken build of the version, whatever the function's environment leaves unset.
    Everything is checked before anything is written.
    """
    checked = checked_version(version, "--version")
    source = app_source(project_dir)
    entries = [*app_entries(source), Entry(VERSION_FILE, f"{checked}\n".encode())]
    if defect:
        entries.append(Entry(DEFECT_FILE, f"{checked_defect(source, defect)}\n".encode()))
    for found in vendored(app_requirements(source)):
        entries.extend(distribution_entries(found))
    path = out_dir / f"tenant-app-{checked}.zip"
    write_zip(path, entries)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rollout.local.app_bundle --version V --out DIR``: build; path and sha256."""
    parser = argparse.ArgumentParser(prog="python -m rollout.local.app_bundle",
                                     description="Build the example app's Lambda zip.")
    parser.add_argument("--version", required=True, help="the release version, e.g. 1.5.0")
    parser.add_argument("--out", required=True, type=Path, help="the folder to write into")
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(),
                        help="the project holding examples/app (default: here)")
    parser.add_argument("--defect", default=None,
                        help="bake a defect in, e.g. errors:0.05 (a rehearsal's broken build)")
    options = parser.parse_args(argv)
    try:
        path = build_app_zip(options.version, options.out, project_dir=options.project_dir,
                             defect=options.defect)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"{path}  sha256 {digest}  {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
