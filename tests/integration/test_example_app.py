"""The example app (examples/app) against the moto server: the right tenant, its own colour's
settings, secrets never shown, and the defect switch; then the built zip's Lambda handler
answering a load balancer's event, on a stand-in of the Lambda runtime."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from rollout.local.app_bundle import build_app_zip
from tests.lambda_runtime import run_on_runtime, runtime_dir, unpack

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TOKEN = f"tok-{uuid.uuid4().hex}"
HOSTS = {"birch.acme.example": "birch-labs", "cobalt.acme.example": "cobalt-bank"}

ALB_EVENT = """
import json, sys
import app
event = {"requestContext": {"elb": {"targetGroupArn":
             "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/g/0123456789abcdef"}},
         "httpMethod": "GET", "path": "/", "queryStringParameters": {},
         "headers": {"host": "birch.acme.example", "user-agent": "ELB-HealthChecker/2.0"},
         "body": "", "isBase64Encoded": False}
print(json.dumps(app.handler(event, None)))
"""


@pytest.fixture(scope="module")
def namespace(moto_endpoint: str) -> str:
    """``/<app>/canary``, with settings on both colours (a secret on green) in moto."""
    root = f"/x{uuid.uuid4().hex[:8]}/canary"
    ssm = boto3.client("ssm")
    for name, kind, value in [
        ("green/birch-labs/theme", "String", "dark"),
        ("green/birch-labs/features", "StringList", "exports,sso"),
        ("green/birch-labs/api-token", "SecureString", TOKEN),
        ("green/cobalt-bank/theme", "String", "light"),
        ("green/delta/locale", "String", "de-DE"),
        ("blue/birch-labs/theme", "String", "blue-only"),
        ("blue/birch-labs/only-on-blue", "String", "never on green"),
    ]:
        ssm.put_parameter(Name=f"{root}/{name}", Type=kind, Value=value)
    return root


@pytest.fixture(scope="module")
def tenant_app() -> Iterator[dict[str, ModuleType]]:
    """The app's modules, imported from examples/app (it is not installed)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(REPO / "examples" / "app"))
        yield {name: importlib.import_module(f"tenant_app.{name}") for name in ("app", "settings")}
        for name in [name for name in sys.modules if name.split(".")[0] == "tenant_app"]:
            del sys.modules[name]


class Client:
    """Requests to the app in this process, through httpx's ASGI transport."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                         base_url="http://birch.acme.example") as http:
                return await http.get(path, headers=headers)
        return asyncio.run(send())


def client(tenant_app: dict[str, ModuleType], namespace: str, **env: str) -> Client:
    environment = {"ROLLOUT_CONFIG_PATH": f"{namespace}/green", "ROLLOUT_COLOUR": "green",
                   "ROLLOUT_VERSION": "1.5.0", "ROLLOUT_TENANT_HOSTS": json.dumps(HOSTS), **env}
    settings = tenant_app["settings"].load_settings(environment)
    return Client(tenant_app["app"].create_app(settings))


def test_the_tenant_is_named_by_its_host_and_sees_its_own_colour_s_settings(
        tenant_app: dict[str, ModuleType], namespace: str) -> None:
    answer = client(tenant_app, namespace).get("/")
    assert answer.status_code == 200
    assert answer.json() == {"tenant": "birch-labs", "version": "1.5.0", "colour": "green",
                             "settings": {"api-token": "(secret)", "features": ["exports", "sso"],
                                          "theme": "dark"}}
    assert TOKEN not in answer.text


def test_the_tenant_header_wins_over_the_host_and_an_unmapped_host_is_its_first_label(
        tenant_app: dict[str, ModuleType], namespace: str) -> None:
    app = client(tenant_app, namespace)
    by_header = app.get("/", headers={"X-Tenant-Id": "cobalt-bank"}).json()
    assert (by_header["tenant"], by_header["settings"]) == ("cobalt-bank", {"theme": "light"})
    by_label = app.get("/", headers={"Host": "Delta.acme.example:8443"}).json()
    assert (by_label["tenant"], by_label["settings"]) == ("delta", {"locale": "de-DE"})


def test_version_and_colour_come_from_the_environment(
        tenant_app: dict[str, ModuleType], namespace: str) -> None:
    blue = client(tenant_app, namespace, ROLLOUT_CONFIG_PATH=f"{namespace}/blue",
                  ROLLOUT_COLOUR="blue", ROLLOUT_VERSION="1.4.2").get("/").json()
    assert (blue["version"], blue["colour"]) == ("1.4.2", "blue")
    assert blue["settings"] == {"only-on-blue": "never on green", "theme": "blue-only"}
    with pytest.raises(ValueError, match=r"ROLLOUT_CONFIG_PATH.*green.*ROLLOUT_COLOUR.*blue"):
        client(tenant_app, namespace, ROLLOUT_COLOUR="blue")


def test_an_unknown_tenant_is_404_and_health_is_ok(
        tenant_app: dict[str, ModuleType], namespace: str) -> None:
    app = client(tenant_app, namespace)
    unknown = app.get("/", headers={"X-Tenant-Id": "nobody"})
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "unknown tenant", "tenant": "nobody"}
    assert app.get("/", headers={"X-Tenant-Id": "../blue/birch-labs"}).status_code == 404
    health = app.get("/health", headers={"Host": "10.0.0.1"})
    assert (health.status_code, health.json()) == (200, {"status": "ok"})


def test_the_defect_switch_fails_its_share_of_requests_and_slows_its_route(
        tenant_app: dict[str, ModuleType], namespace: str) -> None:
    always = client(tenant_app, namespace, ROLLOUT_APP_DEFECT="errors:1.0")
    assert {always.get("/").status_code for _ in range(5)} == {500}
    assert always.get("/health").status_code == 200
    quarter = client(tenant_app, namespace, ROLLOUT_APP_DEFECT="errors:0.25")
    assert [quarter.get("/").status_code for _ in range(8)].count(500) == 2
    slow = client(tenant_app, namespace, ROLLOUT_APP_DEFECT="slow:/:0.3s")
    started = time.monotonic()
    assert slow.get("/").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert client(tenant_app, namespace, ROLLOUT_APP_DEFECT="").get("/").status_code == 200


def test_settings_that_cannot_be_read_answer_503_and_say_why(
        tenant_app: dict[str, ModuleType], namespace: str) -> None:
    settings = tenant_app["settings"].load_settings({
        "ROLLOUT_CONFIG_PATH": f"{namespace}/green", "ROLLOUT_COLOUR": "green",
        "ROLLOUT_VERSION": "1.5.0"})
    unreachable = boto3.client("ssm", endpoint_url="http://127.0.0.1:9", config=Config(
        retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2))
    answer = Client(tenant_app["app"].create_app(settings, unreachable)).get(
        "/", headers={"X-Tenant-Id": "birch-labs"})
    assert answer.status_code == 503
    assert answer.json() == {"error": "settings unavailable", "reason": "EndpointConnectionError"}


@pytest.mark.parametrize("defect", ["errors:lots", "errors:1.5", "slow:/:fast", "crash:now",
                                    "slow:health:1s"])
def test_a_bad_defect_fails_at_start_up_naming_the_variable(
        tenant_app: dict[str, ModuleType], namespace: str, defect: str) -> None:
    with pytest.raises(ValueError, match=f"ROLLOUT_APP_DEFECT={defect!r}"):
        client(tenant_app, namespace, ROLLOUT_APP_DEFECT=defect)


@pytest.fixture(scope="module")
def lambda_task(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The 1.5.0 zip unpacked as Lambda's task folder, the runtime's boto3 beside it."""
    root = tmp_path_factory.mktemp("lambda")
    built = build_app_zip("1.5.0", root / "dist", project_dir=REPO)
    (root / "cwd").mkdir()
    return {"task": unpack(built, root / "task"), "runtime": runtime_dir(root / "runtime"),
            "cwd": root / "cwd"}


def run_handler(lambda_task: dict[str, Path], namespace: str, **env: str) -> Any:
    environment = {"ROLLOUT_CONFIG_PATH": f"{namespace}/green", "ROLLOUT_COLOUR": "green",
                   "ROLLOUT_TENANT_HOSTS": json.dumps(HOSTS), **env}
    return run_on_runtime(ALB_EVENT, lambda_task["task"], lambda_task["runtime"], environment,
                          lambda_task["cwd"])


def test_the_zip_s_handler_answers_a_load_balancer_event(
        lambda_task: dict[str, Path], namespace: str) -> None:
    done = run_handler(lambda_task, namespace)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {
        "tenant": "birch-labs", "version": "1.5.0", "colour": "green",
        "settings": {"api-token": "(secret)", "features": ["exports", "sso"], "theme": "dark"}}
    assert TOKEN not in done.stdout


def test_the_zip_s_handler_refuses_to_start_with_a_bad_defect(
        lambda_task: dict[str, Path], namespace: str) -> None:
    done = run_handler(lambda_task, namespace, ROLLOUT_APP_DEFECT="errors:often")
    assert done.returncode != 0
    assert "ROLLOUT_APP_DEFECT='errors:often'" in done.stderr
