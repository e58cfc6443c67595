"""``rollout notify`` against the moto server: SNS messages a subscriber reads, ledger records,
idempotence, the notice check a cohort's start uses, and the webhook channel."""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rollout.model.tenants import load_tenants
from rollout.notify.records import check_notice
from rollout.schedule.notice import NoticeRecord
from rollout.schedule.planner import plan_release
from tests.cli_runner import rollout
from tests.conftest import Fleet
from tests.fleet_reads import fleet_ledger
from tests.releases import short_notes_yaml

pytestmark = pytest.mark.integration

TENANTS = textwrap.dedent("""\
    defaults:
      notice_days: 14
      windows: ["Sat 02:00-06:00"]
      reply_to: success@acme.example
    cohorts:
      - {name: canary, order: 1, strategy: "canary:10:30m"}
      - {name: wave1, order: 2, strategy: "canary:10:30m", min_gap: 2d}
    tenants:
      - {id: aurora, cohort: canary, timezone: Europe/Berlin, contact: ops@aurora.example}
      - {id: birch, cohort: canary, timezone: America/New_York,
         windows: ["Fri 20:00-24:00"]}
      - {id: cedar, cohort: wave1, timezone: Asia/Tokyo, windows: ["Sat 10:00-14:00"],
         opt_out: {until: 2099-01-01, reason: frozen platform}}
    """)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("notify")
    (base / "tenants.yaml").write_text(TENANTS)
    for version in ("1.5.0", "1.6.0", "1.7.0"):
        (base / f"release-{version}.yaml").write_text(short_notes_yaml(version))
    return base


def plan_from() -> str:
    """A start date well after today, so the plan does not depend on when tests run."""
    return (datetime.now(UTC) + timedelta(days=400)).date().isoformat()


def notify(fleet: Fleet, files: Path, version: str, *extra: str) -> int:
    return rollout("notify", "--release", version, "--tenants", str(files / "tenants.yaml"),
                   "--notes", str(files / f"release-{version}.yaml"), *extra, fleet=fleet)


@pytest.fixture(scope="module")
def queue_url(fleet: Fleet) -> str:
    """A queue subscribed to the notices topic, the way a subscriber reads notices."""
    sqs = fleet.clients.client("sqs")
    url: str = sqs.create_queue(QueueName=f"{fleet.app}-notices")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    fleet.clients.client("sns").subscribe(TopicArn=fleet.shared.notices_topic_arn,
                                          Protocol="sqs", Endpoint=arn)
    return url


def drain(fleet: Fleet, url: str) -> list[dict[str, Any]]:
    sqs = fleet.clients.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                    WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_notify_sends_each_tenant_its_notice_once(
        fleet: Fleet, files: Path, queue_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    start = plan_from()
    assert notify(fleet, files, "1.5.0", "--from", start, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(s["tenant"] for s in report["sent"]) == ["aurora", "birch", "cedar"]

    messages = {m["MessageAttributes"]["tenant"]["Value"]: m for m in drain(fleet, queue_url)}
    assert sorted(messages) == ["aurora", "birch", "cedar"]
    assert {m["MessageAttributes"]["release"]["Value"] for m in messages.values()} == {"1.5.0"}

    tenants = load_tenants(files / "tenants.yaml")
    timeframes = plan_release(tenants, "1.5.0", datetime.fromisoformat(start).replace(
        tzinfo=UTC)).timeframes()
    aurora = timeframes["aurora"]
    assert aurora.local is not None
    body = messages["aurora"]["Message"]
    assert f"When (your local time): {aurora.local.describe()}" in body
    assert "Europe/Berlin" in body and "CSV exports run in the background" in body
    assert "success@acme.example" in body
    assert messages["aurora"]["Subject"].startswith("Upgrade to 1.5.0 for aurora")
    assert "opted out until 2099-01-01: frozen platform" in messages["cedar"]["Message"]

    ledger = fleet_ledger(fleet)
    records = {r.tenant: r for r in ledger.query("NOTICE#1.5.0", "TENANT#", NoticeRecord)}
    assert sorted(records) == ["aurora", "birch", "cedar"]
    assert {t: r.message_id for t, r in records.items()} == \
        {t: m["MessageId"] for t, m in messages.items()}
    assert aurora.slot is not None and records["aurora"].slot_start == aurora.slot.start
    assert all(r.channel == "sns" for r in records.values())

    assert notify(fleet, files, "1.5.0", "--from", start) == 0
    assert "nothing new to send: 3 tenant(s) already have their notice for release 1.5.0" \
        in capsys.readouterr().out.replace("\n", " ")
    assert drain(fleet, queue_url) == []
    assert len(ledger.query("NOTICE#1.5.0", "TENANT#", NoticeRecord)) == 3


def test_start_is_blocked_until_the_notice_period_has_passed(
        fleet: Fleet, files: Path, queue_url: str) -> None:
    tenants = load_tenants(files / "tenants.yaml")
    ledger = fleet_ledger(fleet)
    now = datetime.now(UTC)
    never = check_notice(ledger, "1.6.0", tenants, "canary", now)
    assert [(m.tenant, m.complete_at) for m in never] == [("aurora", None), ("birch", None)]

    assert notify(fleet, files, "1.6.0", "--from", plan_from()) == 0
    drain(fleet, queue_url)
    fresh = check_notice(ledger, "1.6.0", tenants, "canary", datetime.now(UTC))
    assert [m.tenant for m in fresh] == ["aurora", "birch"]
    assert all(m.complete_at is not None and m.complete_at > now + timedelta(days=13)
               for m in fresh)
    assert check_notice(ledger, "1.6.0", tenants, "canary", now + timedelta(days=15)) == []
    assert check_notice(ledger, "1.6.0", tenants, "wave1", now + timedelta(days=15)) == []


def test_bad_notes_exit_2_and_send_nothing(fleet: Fleet, files: Path, queue_url: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (files / "release-2.0.0.yaml").write_text(short_notes_yaml("2.0.0").replace(
        "risks: [Export links change format]\n", ""))
    assert notify(fleet, files, "2.0.0") == 2
    assert "release-2.0.0.yaml" in capsys.readouterr().err.replace("\n", "")
    (files / "release-2.0.1.yaml").write_text(short_notes_yaml("2.0.0"))
    assert notify(fleet, files, "2.0.1") == 2
    assert "release-2.0.1.yaml:1: version: the notes are for 2.0.0, but --release is 2.0.1" \
        in capsys.readouterr().err.replace("\n", "")
    ledger = fleet_ledger(fleet)
    assert ledger.query("NOTICE#2.0.0", "TENANT#", NoticeRecord) == []
    assert ledger.query("NOTICE#2.0.1", "TENANT#", NoticeRecord) == []
    assert drain(fleet, queue_url) == []


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        reply = json.dumps({"id": f"hook-{len(_Hook.received)}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def webhook() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_notices_can_go_to_a_webhook(fleet: Fleet, files: Path, webhook: str,
                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _Hook.received.clear()
    monkeypatch.setenv("ROLLOUT_WEBHOOK_URL", webhook)
    args = ("--from", plan_from(), "--channel", "webhook")
    assert notify(fleet, files, "1.7.0", *args) == 0
    assert sorted(p["tenant"] for p in _Hook.received) == ["aurora", "birch", "cedar"]
    assert all(p["release"] == "1.7.0" and "What changes" in p["body"] for p in _Hook.received)
    ledger = fleet_ledger(fleet)
    records = ledger.query("NOTICE#1.7.0", "TENANT#", NoticeRecord)
    assert sorted(r.message_id or "" for r in records) == ["hook-1", "hook-2", "hook-3"]
    assert {r.channel for r in records} == {"webhook"}
    monkeypatch.delenv("ROLLOUT_WEBHOOK_URL")
    url_file = tmp_path / "webhook-url"
    url_file.write_text(webhook + "\n")
    assert notify(fleet, files, "1.7.0", *args, "--webhook-url-file", str(url_file)) == 0
    assert len(_Hook.received) == 3


class _Redirect(BaseHTTPRequestHandler):
    """Answers every POST with a redirect to wherever ``target`` says."""

    target: ClassVar[str] = ""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(307)
        self.send_header("Location", _Redirect.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_a_webhook_redirect_is_not_followed_and_nothing_is_recorded(
        fleet: Fleet, files: Path, webhook: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _Hook.received.clear()
    _Redirect.target = webhook
    server = HTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    (files / "release-1.8.0.yaml").write_text(short_notes_yaml("1.8.0"))
    token = "tok-3a1f-never-shown"
    monkeypatch.setenv("ROLLOUT_WEBHOOK_URL",
                       f"http://127.0.0.1:{server.server_address[1]}/hook?token={token}")
    try:
        code = notify(fleet, files, "1.8.0", "--from", plan_from(), "--channel", "webhook")
    finally:
        server.shutdown()
        server.server_close()
    printed = capsys.readouterr()
    assert code == 1
    assert token not in printed.out + printed.err
    [line] = printed.err.strip().splitlines()
    assert "answered 307, a redirect, which is not followed" in line
    assert _Hook.received == []
    ledger = fleet_ledger(fleet)
    assert ledger.query("NOTICE#1.8.0", "TENANT#", NoticeRecord) == []
