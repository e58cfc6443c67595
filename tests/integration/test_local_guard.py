"""``rollout local up`` refuses, before sending anything, unless every endpoint is local.

Each test is one way the old check (a deny-list of AWS domains, on the S3 client
only, in the caller's region) let the local deployer reach real AWS. Names are
resolved by a stand-in for ``socket.getaddrinfo`` (no DNS query leaves the
machine), every HTTP request botocore would send is recorded, and starting the
stack's process at all counts as a failure: the refusal has to come first.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.httpsession
import pytest

from rollout.cli import run
from rollout.errors import BadInput
from rollout.local import deployer as deployer_module
from rollout.local.deployer import LocalDeployer
from rollout.local.endpoint import ALLOW_HOSTS_VARIABLE, local_deployer_clients
from rollout.local.server import FAKE_CREDENTIALS
from tests.conftest import shared_yaml, stack_yaml

pytestmark = pytest.mark.integration

PROXY = "proxy.corp.example"
AWS_NAME = "ec2.eu-west-1.amazonaws.com."


@dataclass
class Sealed:
    """What the code under test tried to do: name lookups, HTTP requests, stack processes."""

    project: Path
    moto: str
    names: dict[str, list[str]]
    looked_up: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    stacks_started: list[str] = field(default_factory=list)

    def local_up(self, capsys: pytest.CaptureFixture[str], stack: str = "wave1") -> tuple[int, str]:
        code = run(["--project-dir", str(self.project), "local", "up", "--cohort", stack,
                    "--json"])
        return code, capsys.readouterr().err.strip()

    def config_file(self, text: str) -> None:
        Path(self.project / "aws-config").write_text(text)


@pytest.fixture
def sealed(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sealed:
    app = f"g{uuid.uuid4().hex[:8]}"
    (tmp_path / "Pulumi.shared.yaml").write_text(shared_yaml(app))
    (tmp_path / "Pulumi.wave1.yaml").write_text(stack_yaml(app, "wave1", ["cedar"]))
    state = Sealed(tmp_path, moto_endpoint, names={
        "localhost": ["127.0.0.1", "::1"], PROXY: ["10.20.30.40"],
        AWS_NAME: ["52.95.120.7"], "half.example": ["127.0.0.1", "10.0.0.9"]})
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv(ALLOW_HOSTS_VARIABLE, raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    (tmp_path / "aws-config").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        state.looked_up.append(name)
        try:
            return real_getaddrinfo(name, port, *args, flags=socket.AI_NUMERICHOST)
        except socket.gaierror:
            pass
        if name not in state.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port or 0)) for a in state.names[name]]

    def send(session: Any, request: Any) -> Any:
        state.sent.append(request.url)
        raise AssertionError(f"a request was sent to {request.url}")

    def run_stack(request: Any, start_method: Any = None) -> Any:
        state.stacks_started.append(request.stack)
        raise AssertionError(f"the process of stack {request.stack} was started")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(botocore.httpsession.URLLib3Session, "send", send)
    monkeypatch.setattr(deployer_module, "run_stack", run_stack)
    return state


def assert_refused_before_anything(sealed: Sealed, code: int, err: str) -> str:
    assert code == 2, err
    (line,) = err.splitlines()
    assert line.startswith("error: the local deployer only deploys into moto")
    assert sealed.sent == [] and sealed.stacks_started == []
    return line


def test_an_s3_endpoint_alone_leaves_the_other_services_on_aws(
        sealed: Sealed, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", sealed.moto)
    line = assert_refused_before_anything(sealed, *sealed.local_up(capsys))
    assert "in eu-west-1 would send requests to https://" in line
    assert ".eu-west-1.amazonaws.com" in line
    assert "AWS_ENDPOINT_URL" in line, "says what to set"


def test_a_proxy_host_name_is_refused_by_the_address_it_resolves_to(
        sealed: Sealed, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{PROXY}:8080")
    line = assert_refused_before_anything(sealed, *sealed.local_up(capsys))
    assert f"http://{PROXY}:8080 (from AWS_ENDPOINT_URL)" in line
    assert f"{PROXY} resolves to 10.20.30.40, not a loopback address" in line
    assert PROXY in sealed.looked_up


def test_a_name_with_one_non_loopback_address_is_refused(
        sealed: Sealed, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://half.example:5000")
    line = assert_refused_before_anything(sealed, *sealed.local_up(capsys))
    assert "half.example resolves to 10.0.0.9, not a loopback address" in line


def test_a_name_that_does_not_resolve_is_refused(
        sealed: Sealed, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://moto.invalid:5000")
    line = assert_refused_before_anything(sealed, *sealed.local_up(capsys))
    assert "moto.invalid does not resolve" in line


def test_a_raw_non_loopback_ip_is_refused_without_a_connection(
        sealed: Sealed, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://192.0.2.1:5000")
    line = assert_refused_before_anything(sealed, *sealed.local_up(capsys))
    assert "192.0.2.1 is not a loopback address" in line


def test_a_trailing_dot_aws_name_is_refused(
        sealed: Sealed, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"https://{AWS_NAME}")
    line = assert_refused_before_anything(sealed, *sealed.local_up(capsys))
    assert f"{AWS_NAME} resolves to 52.95.120.7, not a loopback address" in line


def test_an_isolated_partition_region_is_refused(
        sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    stack = sealed.project / "Pulumi.wave1.yaml"
    stack.write_text(stack.read_text().replace("aws:region: eu-west-1",
                                               "aws:region: us-iso-east-1"))
    line = assert_refused_before_anything(sealed, *sealed.local_up(capsys))
    assert "in us-iso-east-1 would send requests to https://" in line
    assert ".us-iso-east-1.c2s.ic.gov (AWS's own endpoint" in line


def test_the_check_uses_the_stack_region_not_the_callers(
        sealed: Sealed, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The caller's region (an isolated partition, once missed by the deny-list) is not
    where the stack deploys; the stack's ``aws:region`` is."""
    monkeypatch.setenv("AWS_REGION", "us-iso-east-1")
    line = assert_refused_before_anything(sealed, *sealed.local_up(capsys))
    assert "in eu-west-1 would send requests to https://" in line
    assert "us-iso-east-1" not in line


def test_a_service_endpoint_variable_that_disagrees_is_refused(
        sealed: Sealed, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", sealed.moto)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:9")
    line = assert_refused_before_anything(sealed, *sealed.local_up(capsys))
    assert ("ec2 in eu-west-1 would send requests to http://127.0.0.1:9 "
            "(from AWS_ENDPOINT_URL_EC2)") in line
    assert f"s3 to {sealed.moto} (from AWS_ENDPOINT_URL)" in line


def test_a_config_file_endpoint_that_disagrees_is_refused(
        sealed: Sealed, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    sealed.config_file(f"[default]\nendpoint_url = {sealed.moto}\nservices = rehearsal\n\n"
                       "[services rehearsal]\nec2 =\n  endpoint_url = http://127.0.0.1:9\n")
    line = assert_refused_before_anything(sealed, *sealed.local_up(capsys))
    assert ("ec2 in eu-west-1 would send requests to http://127.0.0.1:9 (from the "
            "[services rehearsal] section of the AWS config file)") in line
    assert f"s3 to {sealed.moto} (from endpoint_url in the AWS config file)" in line


def test_a_non_loopback_config_file_endpoint_is_refused(
        sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    sealed.config_file("[default]\nendpoint_url = http://192.0.2.1:5000\n")
    line = assert_refused_before_anything(sealed, *sealed.local_up(capsys))
    assert "http://192.0.2.1:5000 (from endpoint_url in the AWS config file)" in line


def test_loopback_names_and_hosts_the_user_names_pass(
        sealed: Sealed, monkeypatch: pytest.MonkeyPatch) -> None:
    port = urlsplit(sealed.moto).port
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://localhost:{port}")
    deployer = LocalDeployer(sealed.project)
    assert deployer.preflight("wave1").region == "eu-west-1"
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://moto.rehearsal.internal:{port}")
    with pytest.raises(BadInput, match=r"moto\.rehearsal\.internal does not resolve"):
        LocalDeployer(sealed.project).preflight("wave1")
    monkeypatch.setenv(ALLOW_HOSTS_VARIABLE, "build-box.internal, moto.rehearsal.internal")
    assert LocalDeployer(sealed.project).preflight("wave1").stack == "wave1"
    assert sealed.sent == []


def test_every_client_of_the_deployer_is_checked_and_so_is_every_request(
        sealed: Sealed, monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond the services checked up front: any client the deployer creates, any request."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", sealed.moto)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", "http://192.0.2.1:5000")
    clients = local_deployer_clients("eu-west-1")
    with pytest.raises(BadInput, match=r"ssm in eu-west-1 would send requests to "
                                       r"http://192\.0\.2\.1:5000 \(from AWS_ENDPOINT_URL_SSM\)"):
        clients.client("ssm")
    s3 = clients.client("s3")

    def elsewhere(request: Any, **_: Any) -> None:
        request.url = request.url.replace(urlsplit(sealed.moto).netloc, "192.0.2.1:5000")

    s3.meta.events.register_first("before-send", elsewhere)
    with pytest.raises(BadInput, match=r"refused to send a request to 192\.0\.2\.1"):
        s3.list_buckets()
    assert sealed.sent == []


def test_the_deployer_never_runs_credential_providers_that_go_over_the_network(
        sealed: Sealed, monkeypatch: pytest.MonkeyPatch) -> None:
    """A profile's credential_process (like SSO, assume-role or instance metadata) would
    fetch real credentials; the deployer uses static keys or moto's fake ones instead."""
    marker = sealed.project / "credential-process-ran"
    sealed.config_file(f"[default]\ncredential_process = sh -c 'touch {marker}; exit 1'\n")
    for name in FAKE_CREDENTIALS:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", sealed.moto)
    LocalDeployer(sealed.project).preflight("wave1")
    assert not marker.exists()
