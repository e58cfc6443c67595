"""Build the example app's Lambda zip: ``tenant-app-<version>.zip``, the same bytes every time.

The zip (made by :mod:`rollout.artefacts.lambda_zip`) holds ``examples/app`` (its root
``app.py`` is the lambda kind's default handler, ``app.handler``), the version (and any
defect) baked in next to the app's settings, and the app's dependencies: the ones in
``examples/app/requirements.txt`` and, transitively, what their metadata requires on the
Lambda runtime's Python, pure Python only (the example stays portable to any build
machine).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import Requirement

from rollout.artefacts.lambda_zip import (
    Entry,
    distribution_entries,
    tree_entries,
    vendored,
    write_zip,
)
from rollout.errors import BadInput
from rollout.vocabulary.versions import checked_version

APP_DIR = Path("examples") / "app"
PACKAGE = "tenant_app"
ENTRY = "app.py"
REQUIREMENTS = "requirements.txt"
VERSION_FILE = f"{PACKAGE}/VERSION"
DEFECT_FILE = f"{PACKAGE}/DEFECT"
INSTALL_HINT = "pip install 'tenant-rollout[local]'"


def app_source(project_dir: Path) -> Path:
    """``examples/app`` of the project; :class:`BadInput` when it is not there."""
    source = project_dir / APP_DIR
    missing = [name for name in (ENTRY, f"{PACKAGE}/__init__.py", REQUIREMENTS)
               if not (source / name).is_file()]
    if missing:
        raise BadInput(f"{source}: the example app is not there (missing {', '.join(missing)}); "
                       f"pass the project directory that holds {APP_DIR.as_posix()}/")
    return source


def app_requirements(source: Path) -> list[Requirement]:
    """The requirements the app declares, one a line (``#`` comments allowed)."""
    path = source / REQUIREMENTS
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


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


def build_app_zip(version: str, out_dir: Path, *, project_dir: Path,
                  defect: str | None = None) -> Path:
    """``<out_dir>/tenant-app-<version>.zip`` of the app in ``project_dir``; its path.

    ``defect`` (the app's ``ROLLOUT_APP_DEFECT`` grammar) is baked in: that zip is a
    broken build of the version, whatever the function's environment leaves unset.
    Everything is checked before anything is written.
    """
    checked = checked_version(version, "--version")
    source = app_source(project_dir)
    entries = [*tree_entries(source, skipped=(REQUIREMENTS, VERSION_FILE, DEFECT_FILE)),
               Entry(VERSION_FILE, f"{checked}\n".encode())]
    if defect:
        entries.append(Entry(DEFECT_FILE, f"{checked_defect(source, defect)}\n".encode()))
    for found in vendored(app_requirements(source), APP_DIR.as_posix(), INSTALL_HINT):
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
