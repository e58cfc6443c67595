"""A stand-in for the Lambda Python runtime: the unpacked zip, the stdlib and boto3, nothing else.

Lambda puts the function's zip first on ``sys.path`` and provides boto3 (and what boto3
needs) itself. A zip that imports here imports on Lambda; one that quietly leans on
something else installed in the venv fails here, as it would there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from importlib.metadata import distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

RUNTIME_ROOT = "boto3"


def _closure(name: str) -> list[str]:
    """``name`` and every distribution its metadata requires, for this interpreter."""
    seen: list[str] = []
    todo = [canonicalize_name(name)]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        for line in distribution(current).requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return seen


def runtime_dir(into: Path) -> Path:
    """A folder holding (as links into the venv) boto3 and its dependencies, and only them."""
    into.mkdir(parents=True, exist_ok=True)
    for name in _closure(RUNTIME_ROOT):
        found = distribution(name)
        tops = {Path(str(entry)).parts[0] for entry in found.files or []
                if not str(entry).startswith("..")}
        for top in sorted(tops):
            if top.endswith(".dist-info") or top == "__pycache__":
                continue
            target = into / top
            if not target.exists():
                target.symlink_to(Path(str(found.locate_file(top))))
    return into


def unpack(zip_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(into)
    return into


def run_on_runtime(code: str, task_dir: Path, runtime: Path, env: dict[str, str],
                   cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with only ``task_dir`` (the unpacked zip), ``runtime`` and the stdlib.

    ``-S`` keeps the venv's site-packages off ``sys.path``; ``cwd`` should be an empty
    folder, since ``-c`` puts it first on the path.
    """
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("ROLLOUT_", "PYTHON"))}
    environment.update(env)
    environment["PYTHONPATH"] = os.pathsep.join([str(task_dir), str(runtime)])
    return subprocess.run([sys.executable, "-S", "-c", code], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=60, check=False)
