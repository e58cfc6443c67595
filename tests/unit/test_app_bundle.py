"""The example app's Lambda zip: built from the app and the venv's own distributions, the same
bytes for the same version, and importable by Lambda's default handler with nothing else
but the runtime's boto3 on the path."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from rollout.errors import BadInput
from rollout.local.app_bundle import build_app_zip
from tests.lambda_runtime import run_on_runtime, runtime_dir, unpack

REPO = Path(__file__).resolve().parents[2]
RUNTIME_ONLY = ("boto3/", "botocore/", "s3transfer/", "jmespath/", "dateutil/", "urllib3/")

IMPORT_HANDLER = """
import json, sys
import app
import starlette, mangum
try:
    import pydantic
except ImportError:
    leaked = False
else:
    leaked = True
settings = app.handler.app.state.settings
print(json.dumps({"handler": callable(app.handler), "version": settings.version,
                  "starlette": starlette.__file__, "mangum": mangum.__file__,
                  "venv_leaked": leaked}))
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_app_zip("1.5.0", tmp_path_factory.mktemp("dist"), project_dir=REPO)


def test_the_zip_holds_the_app_its_lambda_entry_and_its_pure_python_dependencies(
        built: Path) -> None:
    assert built.name == "tenant-app-1.5.0.zip"
    with zipfile.ZipFile(built) as archive:
        names = archive.namelist()
        assert archive.read("tenant_app/VERSION").decode().strip() == "1.5.0"
    assert {"app.py", "tenant_app/__init__.py", "tenant_app/app.py", "tenant_app/settings.py",
            "tenant_app/handler.py", "starlette/__init__.py", "mangum/__init__.py",
            "anyio/__init__.py", "idna/__init__.py", "typing_extensions.py"} <= set(names)
    assert names == sorted(names)
    assert not [name for name in names if name.startswith(RUNTIME_ONLY)]
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert "tenant_app/DEFECT" not in names


def test_the_same_version_gives_the_same_bytes_whatever_the_sources_timestamps(
        built: Path, tmp_path: Path) -> None:
    copy = tmp_path / "project"
    shutil.copytree(REPO / "examples" / "app", copy / "examples" / "app")
    for path in (copy / "examples" / "app").rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    again = build_app_zip("1.5.0", tmp_path / "again", project_dir=copy)
    assert sha256(again) == sha256(built)
    with zipfile.ZipFile(again) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    other = build_app_zip("1.4.2", tmp_path / "other", project_dir=copy)
    assert sha256(other) != sha256(built)


def test_app_handler_imports_from_the_unpacked_zip_with_only_the_runtime_s_boto3(
        built: Path, tmp_path: Path) -> None:
    task = unpack(built, tmp_path / "task")
    empty = tmp_path / "cwd"
    empty.mkdir()
    done = run_on_runtime(IMPORT_HANDLER, task, runtime_dir(tmp_path / "runtime"), {
        "ROLLOUT_CONFIG_PATH": "/acme/canary/green", "ROLLOUT_COLOUR": "green",
        "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}, empty)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["handler"] is True
    assert found["version"] == "1.5.0"
    assert found["starlette"].startswith(str(task)) and found["mangum"].startswith(str(task))
    assert found["venv_leaked"] is False


def test_a_baked_defect_is_part_of_the_bytes_and_a_bad_one_writes_nothing(
        built: Path, tmp_path: Path) -> None:
    broken = build_app_zip("1.5.0", tmp_path / "broken", project_dir=REPO,
                           defect="errors:0.05")
    with zipfile.ZipFile(broken) as archive:
        assert archive.read("tenant_app/DEFECT").decode().strip() == "errors:0.05"
    assert sha256(broken) != sha256(built)
    with pytest.raises(BadInput, match=r"ROLLOUT_APP_DEFECT.*errors:lots"):
        build_app_zip("1.5.0", tmp_path / "bad", project_dir=REPO, defect="errors:lots")
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").iterdir())


def test_a_project_without_the_example_app_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"examples/app"):
        build_app_zip("1.5.0", tmp_path / "dist", project_dir=tmp_path)
    with pytest.raises(BadInput, match=r"'1\.5'"):
        build_app_zip("1.5", tmp_path / "dist", project_dir=REPO)


def test_the_command_builds_the_zip_and_prints_its_sha256(built: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rollout.local.app_bundle", "--version", "1.5.0",
         "--out", str(tmp_path / "dist"), "--project-dir", str(REPO)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    made = tmp_path / "dist" / "tenant-app-1.5.0.zip"
    assert sha256(made) == sha256(built)
    assert str(made) in done.stdout and sha256(made) in done.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "rollout.local.app_bundle", "--version", "1.5.0",
         "--out", str(tmp_path / "dist"), "--project-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: ") and "examples/app" in refused.stderr
    assert "Traceback" not in refused.stderr
