"""The webhook channel only talks to the address it was given, and never shows its token.

Real HTTP servers on 127.0.0.1 in threads stand in for the webhook; no AWS is
needed: a bad webhook URL is refused before anything is read from or written to
the ledger.
"""

from __future__ import annotations

import contextlib
import json
import socket
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest

from rollout.aws_clients import AwsClients
from rollout.errors import BadInput, RolloutFailed
from rollout.notify.base import Notice, Notifier
from rollout.notify.webhook import webhook_notifier
from tests.cli_runner import Finished, rollout_output
from tests.releases import EXAMPLE_NOTES

TOKEN = "T0KEN-5ecret-never-printed"
NOTICE = Notice(tenant="aurora", release="1.5.0", contact=None, subject="Upgrade",
                body="What changes", slot_start=None, slot_end=None)


@dataclass
class Hook:
    """A loopback HTTP server that records what it got and answers as told."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    reply: bytes = b'{"id": "hook-1"}'
    received: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""


@contextlib.contextmanager
def serve(hook: Hook) -> Iterator[Hook]:
    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            hook.received.append((self.command, self.path))
            self.send_response(hook.status)
            for name, value in hook.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(hook.reply)))
            self.end_headers()
            self.wfile.write(hook.reply)

        do_GET = do_POST = answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail loudly if anything tries to open a connection."""
    attempts: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(address)
        raise AssertionError(f"connection attempted to {address}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def build(settings: dict[str, Any]) -> Notifier:
    """The webhook notifier as ``notify`` builds it; it needs no AWS clients."""
    return webhook_notifier(cast(AwsClients, None), settings)


def refused(url: str, **settings: Any) -> str:
    with pytest.raises(BadInput) as caught:
        build({"url": url, **settings})
    message = str(caught.value)
    assert "\n" not in message
    assert TOKEN not in message and "tok=" not in message
    return message


# --- where notices may go -----------------------------------------------------------------

def test_a_redirect_is_a_failure_and_its_target_gets_nothing() -> None:
    with serve(Hook()) as elsewhere, serve(Hook(status=302)) as hook:
        hook.headers["Location"] = f"{elsewhere.url}/steal"
        hooked = build({"url": f"{hook.url}/hook/{TOKEN}"})
        with pytest.raises(RolloutFailed) as caught:
            hooked.send(NOTICE)
    message = str(caught.value)
    assert "\n" not in message and TOKEN not in message
    assert "302" in message and "redirect" in message
    assert hook.received == [("POST", f"/hook/{TOKEN}")]
    assert elsewhere.received == []


def test_a_2xx_reply_gives_the_message_id_and_odd_ids_are_not_trusted() -> None:
    with serve(Hook()) as hook:
        hooked = build({"url": f"{hook.url}/hook?tok={TOKEN}"})
        assert hooked.send(NOTICE) == "hook-1"
        hook.reply = json.dumps({"id": "[bold red]x[/]\n" + "y" * 500}).encode()
        odd = hooked.send(NOTICE)
    assert odd.isalnum() and len(odd) == 32, "a made-up key, not the server's markup"
    assert hook.received[0] == ("POST", f"/hook?tok={TOKEN}")


@pytest.mark.parametrize("url", [
    f"https://169.254.169.254/latest/meta-data/?tok={TOKEN}",
    f"https://[fe80::1]/hook/{TOKEN}",
    f"https://10.0.0.5/hook/{TOKEN}",
    f"https://192.168.1.20/hook/{TOKEN}",
    f"https://0.0.0.0/hook/{TOKEN}",
    f"https://224.0.0.1/hook/{TOKEN}",
    f"https://[::ffff:169.254.169.254]/hook/{TOKEN}",
    f"https://2852039166/hook/{TOKEN}",
])
def test_internal_addresses_are_refused_without_a_connection(
        url: str, no_connections: list[Any]) -> None:
    message = refused(url)
    assert "ROLLOUT_WEBHOOK_ALLOW_HOSTS" in message
    assert no_connections == []


def test_an_allow_listed_internal_host_is_accepted(no_connections: list[Any]) -> None:
    hooked = build({"url": f"https://10.0.0.5/hook/{TOKEN}", "allow_hosts": ["10.0.0.5"]})
    assert hooked.channel == "webhook"
    assert no_connections == []


def test_plain_http_is_only_for_loopback(no_connections: list[Any]) -> None:
    message = refused(f"http://93.184.216.34/hook/{TOKEN}")
    assert message.startswith("webhook URL http://93.184.216.34: plain http")
    assert "https" in message
    assert "plain http" in refused(f"http://10.0.0.5/hook/{TOKEN}", allow_hosts=["10.0.0.5"])
    assert build({"url": f"http://localhost:9/{TOKEN}"}).channel == "webhook"


@pytest.mark.parametrize("url", [
    f"https://hooks.example:{TOKEN}/x",
    f"https://[hooks.example/{TOKEN}",
    f"https://hooks.example/a b?tok={TOKEN}",
    f"https://user:{TOKEN}@hooks.example/x",
    f"ftp://hooks.example/{TOKEN}",
    f"hooks.example/{TOKEN}",
    f"https:///{TOKEN}",
])
def test_a_malformed_url_is_one_line_without_its_secret_parts(
        url: str, no_connections: list[Any]) -> None:
    refused(url)
    assert no_connections == []


# --- the command line -----------------------------------------------------------------------

TENANTS = textwrap.dedent("""\
    defaults:
      notice_days: 14
      windows: ["Sat 02:00-06:00"]
    cohorts:
      - {name: canary, order: 1}
    tenants:
      - {id: aurora, cohort: canary, timezone: Europe/Berlin}
    """)


@pytest.fixture(autouse=True)
def nowhere_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a command reach for AWS after all, it finds a closed port, not an account."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def notify(tmp_path: Path, *extra: str) -> Finished:
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(TENANTS)
    return rollout_output("--app", "no-such-app", "notify", "--release", "1.5.0", "--tenants",
                          str(tenants), "--notes", str(EXAMPLE_NOTES), "--channel", "webhook",
                          *extra)


def one_line_error(printed: Finished) -> str:
    assert printed.code == 2, printed
    assert TOKEN not in printed.stdout + printed.stderr
    assert printed.stdout == ""
    lines = printed.stderr.strip().splitlines()
    assert len(lines) == 1, printed.stderr
    return lines[0]


def test_a_malformed_url_in_the_environment_exits_2_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_connections: list[Any]) -> None:
    monkeypatch.setenv("ROLLOUT_WEBHOOK_URL", f"https://hooks.example:{TOKEN}/x")
    line = one_line_error(notify(tmp_path))
    assert line.startswith("error: ROLLOUT_WEBHOOK_URL: webhook URL https://hooks.example")
    monkeypatch.setenv("ROLLOUT_WEBHOOK_URL", f"https://hooks.example/a b?tok={TOKEN}")
    assert "ROLLOUT_WEBHOOK_URL" in one_line_error(notify(tmp_path))
    assert no_connections == []


def test_a_link_local_url_in_a_file_exits_2_naming_the_file(
        tmp_path: Path, no_connections: list[Any]) -> None:
    secret_file = tmp_path / "webhook-url"
    secret_file.write_text(f"https://169.254.169.254/latest/?tok={TOKEN}\n")
    line = one_line_error(notify(tmp_path, "--webhook-url-file", str(secret_file)))
    assert f"{secret_file}: webhook URL https://169.254.169.254" in line
    assert no_connections == []


def test_the_url_is_refused_on_the_command_line(tmp_path: Path) -> None:
    line = one_line_error(notify(tmp_path, "--webhook-url", f"https://hooks.example/{TOKEN}"))
    assert "ROLLOUT_WEBHOOK_URL" in line and "--webhook-url-file" in line


def test_no_url_at_all_says_where_to_put_it(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_WEBHOOK_URL", raising=False)
    line = one_line_error(notify(tmp_path))
    assert "ROLLOUT_WEBHOOK_URL" in line and "--webhook-url-file" in line
