"""The preferences page's Lambda zip: the same bytes for the same inputs, the tenants file and
notes inside, and on a stand-in of the Lambda runtime (the zip, the stdlib and boto3,
nothing else) the page answers a function URL's request with only what the zip holds."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from packaging.tags import parse_tag

from rollout.artefacts.lambda_zip import Architecture, LambdaPlatform
from rollout.errors import BadInput
from rollout.portal.bundle import build_portal_zip
from tests.lambda_runtime import run_on_runtime, runtime_dir, unpack
from tests.releases import EXAMPLE_NOTES

REPO = Path(__file__).resolve().parents[2]
TENANTS = REPO / "examples" / "tenants.yaml"

ANSWER_A_FUNCTION_URL = """
import json, sys, sysconfig
import rollout.portal.lambda_handler as entry
import rollout.choices.backend, rollout.choices.key, rollout.aws_clients

handler = entry.handler_for(object())
host = "abc.lambda-url.eu-west-1.on.aws"
event = {"version": "2.0", "routeKey": "$default", "rawPath": "/healthz",
         "rawQueryString": "", "headers": {"host": host}, "isBase64Encoded": False,
         "requestContext": {"http": {"method": "GET", "path": "/healthz",
                                     "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9",
                                     "userAgent": "test"},
                            "domainName": host, "accountId": "anonymous", "requestId": "r",
                            "stage": "$default", "timeEpoch": 0}}
answer = handler(event, None)
allowed = (sys.argv[1], sys.argv[2], sysconfig.get_path("stdlib"))
outside = sorted({name.split(".")[0] for name, module in list(sys.modules.items())
                  if getattr(module, "__file__", None)
                  and not module.__file__.startswith(allowed)})
print(json.dumps({"status": answer["statusCode"], "outside": outside}))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    bundle = build_portal_zip(TENANTS, [EXAMPLE_NOTES], tmp_path_factory.mktemp("portal"))
    return bundle.path, bundle.sha256


def test_the_zip_holds_the_page_its_dependencies_the_tenants_and_the_notes(
        built: tuple[Path, str]) -> None:
    path, sha256 = built
    assert path.name == f"preferences-page-{sha256[:12]}.zip"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert archive.read("portal/tenants.yaml") == TENANTS.read_bytes()
        assert archive.read("portal/notes/release.yaml") == EXAMPLE_NOTES.read_bytes()
    assert {"rollout/portal/lambda_handler.py", "rollout/choices/backend.py",
            "starlette/__init__.py", "mangum/__init__.py", "pydantic/__init__.py",
            "yaml/__init__.py"} <= set(names)
    assert any(name.startswith("pydantic_core/_pydantic_core") for name in names)
    tops = {name.split("/")[0] for name in names}
    assert not tops & {"pulumi", "pulumi_aws", "scipy", "boto3", "botocore", "moto", "typer"}
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert names == sorted(names)


def test_the_same_inputs_give_the_same_bytes(built: tuple[Path, str], tmp_path: Path) -> None:
    again = build_portal_zip(TENANTS, [EXAMPLE_NOTES], tmp_path)
    assert again.sha256 == built[1]
    assert again.path.read_bytes() == built[0].read_bytes()


def test_on_the_runtime_the_page_answers_with_only_what_the_zip_holds(
        built: tuple[Path, str], tmp_path: Path) -> None:
    task = unpack(built[0], tmp_path / "task")
    runtime = runtime_dir(tmp_path / "runtime")
    (tmp_path / "cwd").mkdir()
    code = ANSWER_A_FUNCTION_URL.replace("sys.argv[1]", repr(str(task))).replace(
        "sys.argv[2]", repr(str(runtime)))
    done = run_on_runtime(code, task, runtime, {}, tmp_path / "cwd")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer == {"status": 200, "outside": []}


def test_a_bad_tenants_file_is_one_line_naming_it_and_nothing_is_written(
        tmp_path: Path) -> None:
    bad = tmp_path / "tenants.yaml"
    bad.write_text(TENANTS.read_text().replace("cohorts:", "cohortz:", 1))
    out = tmp_path / "out"
    with pytest.raises(BadInput, match=str(bad)):
        build_portal_zip(bad, [EXAMPLE_NOTES], out)
    assert not out.exists() or not list(out.iterdir())


@pytest.mark.parametrize(("wheel_tag", "architecture", "runs"), [
    ("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", "x86_64", True),
    ("cp311-cp311-manylinux_2_34_x86_64", "x86_64", True),
    ("cp38-abi3-manylinux2014_x86_64", "x86_64", True),
    ("py3-none-any", "x86_64", True),
    ("cp311-cp311-manylinux_2_17_aarch64", "arm64", True),
    ("cp311-cp311-manylinux_2_39_x86_64", "x86_64", False),
    ("cp312-cp312-manylinux_2_17_x86_64", "x86_64", False),
    ("cp311-cp311-manylinux_2_17_aarch64", "x86_64", False),
    ("cp311-cp311-macosx_11_0_arm64", "arm64", False),
    ("cp311-cp311-musllinux_1_2_x86_64", "x86_64", False),
    ("cp311-cp311-linux_x86_64", "x86_64", False),
])
def test_a_build_runs_on_the_function_only_when_its_wheel_tags_say_so(
        wheel_tag: str, architecture: Architecture, runs: bool) -> None:
    assert bool(parse_tag(wheel_tag) & LambdaPlatform(architecture).tags()) is runs
