"""Each colour's compute as a real local process: the example app's own zips, fetched from the
artefact store in moto, checked, and served over HTTP as ALB invokes a Lambda target."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from rollout.aws_clients import AwsClients
from rollout.discovery import CohortResources
from rollout.errors import RolloutFailed
from rollout.local.data_plane.colour_processes import (
    BASIC_VARIABLES,
    HOST_MODULE,
    ColourLaunch,
    ColourProcesses,
    child_environment,
)
from rollout.local.data_plane.lambda_host import (
    ELB_ERROR_HEADER,
    Incoming,
    MalformedResponse,
    alb_event,
    alb_response,
    invoke,
)
from rollout.local.server import FAKE_CREDENTIALS, LOOPBACK, free_port
from rollout.vocabulary.colours import Colour
from tests.app_fleet import deploy_app_fleet, seed_settings

pytestmark = pytest.mark.integration

VERSIONS: dict[Colour, str] = {"blue": "1.4.2", "green": "1.5.0"}
THEMES: dict[Colour, str] = {"blue": "light", "green": "dark"}
TARGET_GROUP = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/g/0123456789abcdef"
HAS_PROC = Path("/proc/self/environ").is_file()
TIMEOUT = 5.0


@pytest.fixture(scope="module")
def cohort(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> CohortResources:
    """A lambda cohort whose blue runs the example app 1.4.2 and green 1.5.0, each with a
    theme for tenant aurora in its own colour's parameters."""
    fleet = deploy_app_fleet(tmp_path_factory.mktemp("colour-processes"), {"c": ["aurora"]},
                             VERSIONS)
    seed_settings(fleet, "c", THEMES)
    return fleet.cohorts["c"]


def registered(cohort: CohortResources, colour: Colour) -> str:
    """The target id registered in the colour's target group, as the load balancer sees it."""
    elbv2 = boto3.client("elbv2", region_name=cohort.region)
    health = elbv2.describe_target_health(TargetGroupArn=cohort.target_group_arns[colour])
    (target,) = [d["Target"]["Id"] for d in health["TargetHealthDescriptions"]]
    return str(target)


def address_of(processes: ColourProcesses, cohort: CohortResources, colour: Colour) -> str:
    found = processes.address(cohort.target_group_arns[colour], registered(cohort, colour))
    assert found is not None, colour
    return found


def tenant_page(address: str, cohort: CohortResources) -> httpx.Response:
    return httpx.get(f"http://{address}/", headers={"Host": f"aurora.{cohort.app}.example"},
                     timeout=TIMEOUT)


def host_children() -> dict[int, dict[str, str]]:
    """This process's lambda_host children (pid → environment), read from /proc."""
    found: dict[int, dict[str, str]] = {}
    for entry in Path("/proc").iterdir() if HAS_PROC else ():
        try:
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            command = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and HOST_MODULE.encode() in command:
            pairs = (item.partition(b"=") for item in environ.split(b"\0") if item)
            found[int(entry.name)] = {k.decode(): v.decode() for k, _, v in pairs}
    return found


def with_green(cohort: CohortResources, **changes: Any) -> CohortResources:
    green = cohort.compute["green"].model_copy(update=changes)
    return cohort.model_copy(update={"compute": {**cohort.compute, "green": green}})


def test_each_colour_serves_its_own_version_and_its_own_colours_settings(
        cohort: CohortResources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_TEST_CANARY", "secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "parent-secret")
    with ColourProcesses(AwsClients(), cohort, tmp_path) as processes:
        for colour in ("green", "blue"):
            answer = tenant_page(address_of(processes, cohort, colour), cohort)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"tenant": "aurora", "version": VERSIONS[colour],
                                     "colour": colour, "settings": {"theme": THEMES[colour]}}
        green = registered(cohort, "green")
        assert processes.address(cohort.target_group_arns["blue"], green) is None
        assert processes.address(cohort.target_group_arns["green"], green + "0") is None
        children = host_children()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["blue-1.4.2",
                                                                        "green-1.5.0"]
    if HAS_PROC:
        assert len(children) == 2
        for environment in children.values():
            assert "ROLLOUT_TEST_CANARY" not in environment
            assert environment["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert host_children() == {}


def test_a_killed_colour_refuses_connections_until_it_is_restarted(
        cohort: CohortResources, tmp_path: Path) -> None:
    with ColourProcesses(AwsClients(), cohort, tmp_path) as processes:
        green, blue = (address_of(processes, cohort, c) for c in ("green", "blue"))
        processes.stop("green")
        with pytest.raises(httpx.ConnectError):
            tenant_page(green, cohort)
        assert tenant_page(blue, cohort).json()["colour"] == "blue"
        processes.restart("green")
        assert address_of(processes, cohort, "green") == green
        assert tenant_page(green, cohort).json()["version"] == "1.5.0"


def test_code_that_is_not_the_recorded_sha256_starts_nothing(
        cohort: CohortResources, tmp_path: Path) -> None:
    tampered = with_green(cohort, sha256="0" * 64)
    with pytest.raises(RolloutFailed, match=r"colour green .* sha256 .* nothing was started"):
        ColourProcesses(AwsClients(), tampered, tmp_path / "work").__enter__()
    assert not (tmp_path / "work").exists()
    assert host_children() == {}


def test_a_function_that_fails_its_start_is_reported_with_its_error_and_nothing_runs(
        cohort: CohortResources, tmp_path: Path) -> None:
    lambda_ = boto3.client("lambda", region_name=cohort.region)
    name = cohort.compute["green"].function
    assert name is not None
    variables = lambda_.get_function(FunctionName=name, Qualifier="1")[
        "Configuration"]["Environment"]["Variables"]
    lambda_.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**variables, "ROLLOUT_COLOUR": "blue"}})
    broken = with_green(cohort, function_version=lambda_.publish_version(
        FunctionName=name)["Version"])
    with pytest.raises(RolloutFailed) as failed:
        ColourProcesses(AwsClients(), broken, tmp_path).__enter__()
    assert "colour green's function" in str(failed.value)
    assert "ROLLOUT_COLOUR='blue'" in str(failed.value)
    assert host_children() == {}


def launch(**variables: str) -> ColourLaunch:
    return ColourLaunch(colour="green", version="1.5.0",
                        target_id="arn:aws:lambda:eu-west-1:123456789012:function:f-green:7",
                        handler="app.handler", variables=variables, region="eu-west-1",
                        memory=256, timeout=10.0, code=b"")


def test_a_child_environment_takes_only_basics_from_the_parent() -> None:
    parent = {"PATH": "/usr/bin", "HOME": "/home/me", "LANG": "C.UTF-8",
              "ROLLOUT_TEST_CANARY": "secret", "AWS_SECRET_ACCESS_KEY": "real-secret",
              "AWS_ACCESS_KEY_ID": "AKIAREAL", "AWS_PROFILE": "production",
              "PYTHONPATH": "/elsewhere", "VIRTUAL_ENV": "/venv"}
    function = launch(ROLLOUT_COLOUR="green", AWS_ENDPOINT_URL="https://evil.example")
    environment = child_environment(function.variables, parent, function,
                                    "http://127.0.0.1:5000")
    assert environment == {
        "PATH": "/usr/bin", "HOME": "/home/me", "LANG": "C.UTF-8", "ROLLOUT_COLOUR": "green",
        "AWS_LAMBDA_FUNCTION_NAME": "f-green", "AWS_LAMBDA_FUNCTION_VERSION": "7",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "_HANDLER": "app.handler",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1", **FAKE_CREDENTIALS}
    assert {"PATH", "HOME", "LANG"} <= set(BASIC_VARIABLES)


def test_a_request_becomes_the_event_alb_sends_a_lambda_target() -> None:
    request = Incoming(method="GET", path="/a%20b/c", query="q=x%20y&q=2&flag",
                       headers=(("Host", "aurora.t.example:8080"), ("X-Tenant-Id", "aurora"),
                                ("Accept", "text/html"), ("accept", "application/json")),
                       client="10.0.0.9")
    assert alb_event(request, TARGET_GROUP) == {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP}},
        "httpMethod": "GET", "path": "/a%20b/c",
        "queryStringParameters": {"q": "2", "flag": ""},
        "headers": {"host": "aurora.t.example:8080", "x-tenant-id": "aurora",
                    "accept": "application/json", "x-forwarded-proto": "http",
                    "x-forwarded-port": "8080", "x-forwarded-for": "10.0.0.9"},
        "body": "", "isBase64Encoded": False}


@pytest.mark.parametrize(("content_type", "body", "sent", "encoded"), [
    ("application/json; charset=utf-8", b'{"a": 1}', '{"a": 1}', False),
    ("text/plain", "café".encode(), "café", False),
    ("application/octet-stream", b"\x00\xff", base64.b64encode(b"\x00\xff").decode(), True),
    ("text/plain", b"\xff\xfe", base64.b64encode(b"\xff\xfe").decode(), True),
])
def test_a_binary_body_is_sent_base64_and_a_text_body_as_it_is(
        content_type: str, body: bytes, sent: str, encoded: bool) -> None:
    event = alb_event(Incoming("POST", "/", "", (("content-type", content_type),), body),
                      TARGET_GROUP)
    assert (event["body"], event["isBase64Encoded"]) == (sent, encoded)


def test_a_handlers_answer_becomes_the_http_response() -> None:
    answer = alb_response({
        "statusCode": 201, "isBase64Encoded": True, "body": base64.b64encode(b"\x00\x01").decode(),
        "headers": {"Content-Type": "application/octet-stream", "Content-Length": "999"},
        "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "content-type": ["ignored"]}})
    assert answer.status == 201
    assert answer.body == b"\x00\x01"
    assert answer.headers == (("Content-Type", "application/octet-stream"),
                              ("set-cookie", "a=1"), ("set-cookie", "b=2"),
                              ("content-length", "2"))
    assert alb_response({"statusCode": 200, "body": "ok"}).body == b"ok"


@pytest.mark.parametrize("result", [None, {}, {"statusCode": "200"}, {"statusCode": 99},
                                    {"statusCode": 200, "body": 5},
                                    {"statusCode": 200, "isBase64Encoded": True, "body": "!"}])
def test_an_answer_alb_cannot_read_is_malformed_and_a_502(result: object) -> None:
    with pytest.raises(MalformedResponse):
        alb_response(result)
    answer = invoke(lambda event, context: result, {}, None)
    assert answer.status == 502
    assert dict(answer.headers)[ELB_ERROR_HEADER] == "the function's response is malformed"


def test_a_handler_that_raises_is_albs_502_with_the_traceback_on_stderr(
        capsys: pytest.CaptureFixture[str]) -> None:
    def handler(event: dict[str, Any], context: object) -> object:
        raise RuntimeError("database on fire")

    answer = invoke(handler, {}, None)
    assert answer.status == 502
    assert b"502 Bad Gateway" in answer.body
    assert dict(answer.headers)[ELB_ERROR_HEADER] == "the function raised an error"
    assert "RuntimeError: database on fire" in capsys.readouterr().err


ECHO = """
import base64, json

def handler(event, context):
    if event["path"] == "/boom":
        raise ValueError("boom")
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"event": event, "function": context.function_name,
                                "left": context.get_remaining_time_in_millis()})}
"""


@pytest.fixture
def echo_host(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """lambda_host serving a handler that answers with the event it was given."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "echo.py").write_text(ECHO)
    port, log = free_port(), tmp_path / "host.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-P", "-m", HOST_MODULE, "--code", str(tmp_path / "code"),
             "--handler", "echo.handler", "--port", str(port), "--target-group-arn",
             TARGET_GROUP, "--function-arn",
             "arn:aws:lambda:eu-west-1:123456789012:function:echo:3"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 15
        while True:
            assert process.poll() is None, log.read_text()
            try:
                socket.create_connection((LOOPBACK, port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        yield f"http://{LOOPBACK}:{port}", log
    finally:
        process.terminate()
        process.wait(timeout=TIMEOUT)


def test_the_host_invokes_the_handler_over_http(echo_host: tuple[str, Path]) -> None:
    url, log = echo_host
    answer = httpx.post(f"{url}/x%2Fy?a=1", content=b"\x00bin",
                        headers={"Host": "aurora.t.example", "content-type": "image/png"},
                        timeout=TIMEOUT)
    assert answer.status_code == 200
    echoed = answer.json()
    assert echoed["function"] == "echo"
    assert 0 < echoed["left"] <= 3000
    event = echoed["event"]
    assert event["requestContext"] == {"elb": {"targetGroupArn": TARGET_GROUP}}
    assert (event["httpMethod"], event["path"], event["queryStringParameters"]) == (
        "POST", "/x%2Fy", {"a": "1"})
    assert event["headers"]["host"] == "aurora.t.example"
    assert base64.b64decode(event["body"]) == b"\x00bin" and event["isBase64Encoded"]

    failed = httpx.get(f"{url}/boom", timeout=TIMEOUT)
    assert failed.status_code == 502
    assert failed.headers[ELB_ERROR_HEADER] == "the function raised an error"
    assert "ValueError: boom" in log.read_text()


def test_a_handler_that_cannot_be_imported_stops_the_host_with_its_error(
        tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-P", "-m", HOST_MODULE, "--code", str(tmp_path), "--handler",
         "missing.handler", "--port", str(free_port())],
        capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert "No module named 'missing'" in done.stderr
    assert done.stdout == ""
