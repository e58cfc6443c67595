"""Customers' choices against the moto server: the link in a notice, the page's backend
recording one choice per link, and ``plan``, ``notify`` and ``start`` honouring it; no
output ever shows the link key or a tenant's token."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rollout.choices import key as key_module
from rollout.choices.backend import LedgerPortalBackend
from rollout.choices.book import ChoiceBook
from rollout.choices.key import link_key
from rollout.choices.links import ChoiceLinks, token_of
from rollout.choices.portal_api import ChoiceForm, ChoiceRefused, TokenRefused
from rollout.choices.tokens import verify
from rollout.model.release import ReleaseNotes, load_release_notes
from rollout.vocabulary.resource_names import link_key_parameter
from tests.cli_runner import Finished, address, rollout_output
from tests.conftest import Fleet, deploy_fleet
from tests.releases import short_notes_yaml
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

PORTAL = "http://127.0.0.1:8080"
LINK = re.compile(r"http://127\.0\.0\.1:8080/choose\?t=(\S+)")


@pytest.fixture(scope="module")
def chosen_fleet(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[tuple[Fleet, Path]]:
    base = tmp_path_factory.mktemp("choices")
    fleet = deploy_fleet(base, {"canary": ["aurora", "birch", "cedar"]},
                         versions={"blue": "1.4.2", "green": "1.5.0"})
    write_tenants(base / "tenants.yaml", [cohort_entry("canary", "canary:50:1s")], [
        tenant_entry("aurora", "canary", timezone="Europe/Berlin",
                     windows=["daily 00:00-24:00", "Sun 02:00-06:00"]),
        tenant_entry("birch", "canary"), tenant_entry("cedar", "canary")],
        portal_url=PORTAL, max_deferral="60d")
    for version in ("1.5.0", "1.6.0", "1.7.0"):
        (base / f"release-{version}.yaml").write_text(short_notes_yaml(version))
    with pytest.MonkeyPatch.context() as patch:
        address(patch, fleet, base / "tenants.yaml")
        yield fleet, base


def notes(base: Path, version: str) -> ReleaseNotes:
    return load_release_notes(base / f"release-{version}.yaml", version, "--release")


def key_text(fleet: Fleet) -> str:
    found = fleet.clients.client("ssm").get_parameter(Name=link_key_parameter(fleet.app),
                                                      WithDecryption=True)
    return str(found["Parameter"]["Value"])


def backend(fleet: Fleet, base: Path) -> LedgerPortalBackend:
    return LedgerPortalBackend.of(fleet.clients, fleet.shared, base / "tenants.yaml",
                                  [notes(base, v) for v in ("1.5.0", "1.6.0", "1.7.0")])


def fresh_token(fleet: Fleet, tenant: str, release: str) -> str:
    """A link as ``notify`` makes it, for tests that need one of their own."""
    links = ChoiceLinks(PORTAL, link_key(fleet.clients, fleet.app))
    return token_of(links.link(tenant, release, datetime.now(UTC), None))


def quiet(finished: Finished, fleet: Fleet, *tokens: str) -> Finished:
    """``finished``, after checking its output shows neither the key nor any token."""
    said = finished.stdout + finished.stderr
    assert key_text(fleet) not in said
    for token in tokens:
        assert token not in said and token.split(".")[-1] not in said
    return finished


def notify(base: Path, version: str) -> Finished:
    return rollout_output("notify", "--release", version, "--notes",
                          str(base / f"release-{version}.yaml"), "--tenants",
                          str(base / "tenants.yaml"), "--json")


def sent_bodies(fleet: Fleet, queue: str) -> dict[str, list[str]]:
    sqs = fleet.clients.client("sqs")
    found: dict[str, list[str]] = {}
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
            "Messages", []):
        for message in batch:
            body: dict[str, Any] = json.loads(message["Body"])
            tenant = body["MessageAttributes"]["tenant"]["Value"]
            found.setdefault(tenant, []).append(body["Message"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return found


@pytest.fixture(scope="module")
def queue(chosen_fleet: tuple[Fleet, Path]) -> str:
    fleet, _ = chosen_fleet
    sqs = fleet.clients.client("sqs")
    url: str = sqs.create_queue(QueueName=f"{fleet.app}-choices")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    fleet.clients.client("sns").subscribe(TopicArn=fleet.shared.notices_topic_arn,
                                          Protocol="sqs", Endpoint=arn)
    return url


def table_text(fleet: Fleet) -> str:
    items = fleet.clients.client("dynamodb").scan(TableName=fleet.shared.ledger_table)["Items"]
    return json.dumps(items)


def test_each_notice_carries_a_link_whose_token_verifies_and_is_shown_nowhere_else(
        chosen_fleet: tuple[Fleet, Path], queue: str) -> None:
    fleet, base = chosen_fleet
    done = notify(base, "1.5.0")
    assert done.code == 0, done.stderr
    bodies = sent_bodies(fleet, queue)
    key = link_key(fleet.clients, fleet.app)
    tokens = {}
    for tenant in ("aurora", "birch", "cedar"):
        (body,) = bodies[tenant]
        assert "Choose another window or stay on your current version: " in body
        (tokens[tenant],) = LINK.findall(body)
        claims = verify(key, tokens[tenant], datetime.now(UTC), tenant=tenant, release="1.5.0")
        assert claims.expires <= datetime.now(UTC) + timedelta(days=30)
    quiet(done, fleet, *tokens.values())
    stored = table_text(fleet)
    assert not any(token in stored or token.split(".")[-1] in stored
                   for token in tokens.values())


def test_the_page_records_one_choice_per_link_and_refuses_a_replay(
        chosen_fleet: tuple[Fleet, Path]) -> None:
    fleet, base = chosen_fleet
    portal = backend(fleet, base)
    token = fresh_token(fleet, "birch", "1.6.0")
    page = portal.open(token)
    assert (page.tenant, page.release, page.open) == ("birch", "1.6.0", True)
    assert [w.value for w in page.windows] == ["daily 00:00-24:00"]
    wrong = ChoiceForm(action="confirm", form_secret="not-the-page-s", source="198.51.100.7")
    with pytest.raises(TokenRefused):
        portal.choose(token, wrong)
    book = ChoiceBook(fleet.clients, fleet.shared.ledger_table, "1.6.0")
    assert book.choices() == []
    with pytest.raises(ChoiceRefused):
        portal.choose(token, ChoiceForm(action="window", window="Sun 02:00-06:00",
                                        form_secret=page.form_secret, source="198.51.100.7"))
    assert book.choices() == []
    form = ChoiceForm(action="opt_out", until=date.today() + timedelta(days=10),
                      form_secret=page.form_secret, source="198.51.100.7")
    assert "you stay on your current version until" in portal.choose(token, form).message
    (recorded,) = book.choices()
    assert (recorded.tenant, recorded.action, recorded.source) == ("birch", "opt_out",
                                                                   "198.51.100.7")
    with pytest.raises(TokenRefused, match="used already"):
        portal.choose(token, form)
    with pytest.raises(TokenRefused, match="used already"):
        portal.open(token)
    assert book.choices() == [recorded]


def test_other_tenants_forged_and_expired_links_are_refused_with_nothing_recorded(
        chosen_fleet: tuple[Fleet, Path]) -> None:
    fleet, base = chosen_fleet
    portal = backend(fleet, base)
    key = link_key(fleet.clients, fleet.app)
    expired = ChoiceLinks(PORTAL, key).link("cedar", "1.6.0",
                                            datetime.now(UTC) - timedelta(days=31), None)
    forged = ChoiceLinks(PORTAL, b"f" * 32).link("cedar", "1.6.0", datetime.now(UTC), None)
    for link in (expired, forged):
        with pytest.raises(TokenRefused):
            portal.open(token_of(link))
        with pytest.raises(TokenRefused):
            portal.choose(token_of(link), ChoiceForm(action="confirm", form_secret="x"))
    assert ChoiceBook(fleet.clients, fleet.shared.ledger_table, "1.6.0").choice("cedar") is None


def test_plan_shows_the_slot_of_the_window_a_tenant_chose(
        chosen_fleet: tuple[Fleet, Path]) -> None:
    fleet, base = chosen_fleet
    portal = backend(fleet, base)
    token = fresh_token(fleet, "aurora", "1.7.0")
    page = portal.open(token)
    portal.choose(token, ChoiceForm(action="window", window="Sun 02:00-06:00",
                                    form_secret=page.form_secret, source="203.0.113.5"))
    start = (datetime.now(UTC) + timedelta(days=400)).date().isoformat()
    done = quiet(rollout_output("plan", "--release", "1.7.0", "--tenants",
                                str(base / "tenants.yaml"), "--from", start, "--json"),
                 fleet, token)
    assert done.code == 0, done.stderr
    (cohort,) = json.loads(done.stdout)["cohorts"]
    slots = [group["local"] for group in cohort["included"] if "aurora" in group["tenants"]]
    slots += [e["follow_up_local"] for e in cohort["excluded"] if e["tenant"] == "aurora"]
    (slot,) = slots
    local = datetime.fromisoformat(slot["start"])
    assert (local.strftime("%a %H:%M"), slot["timezone"]) == ("Sun 02:00", "Europe/Berlin")
    assert "customer choices are not included" not in done.stderr


def test_an_opt_out_is_confirmed_once_and_pins_the_tenant_at_start(
        chosen_fleet: tuple[Fleet, Path], queue: str) -> None:
    fleet, base = chosen_fleet
    assert notify(base, "1.5.0").code == 0  # every tenant has its notice
    sent_bodies(fleet, queue)
    portal = backend(fleet, base)
    token = fresh_token(fleet, "cedar", "1.5.0")
    until = date.today() + timedelta(days=20)
    portal.choose(token, ChoiceForm(action="opt_out", until=until,
                                    form_secret=portal.open(token).form_secret))
    first = quiet(notify(base, "1.5.0"), fleet, token)
    assert [c["tenant"] for c in json.loads(first.stdout)["confirmed"]] == ["cedar"]
    (confirmation,) = sent_bodies(fleet, queue)["cedar"]
    assert f"stay on the current version until {until}" in confirmation
    again = quiet(notify(base, "1.5.0"), fleet, token)
    assert json.loads(again.stdout)["confirmed"] == []
    assert sent_bodies(fleet, queue) == {}

    started = quiet(rollout_output("start", "--cohort", "canary", "--release", "1.5.0",
                                   "--json"), fleet, token)
    assert started.code == 0, started.stdout + started.stderr
    state = json.loads(started.stdout)
    assert state["pinned"] == {"cedar": "blue"}
    assert "chose on the preferences page" in started.stdout
    shown = quiet(rollout_output("status", "--cohort", "canary"), fleet, token)
    assert shown.code == 0, shown.stderr
    assert f"canary: cedar chose to stay on the current version until {until}" in shown.stdout
    as_json = quiet(rollout_output("status", "--cohort", "canary", "--json"), fleet, token)
    assert as_json.code == 0, as_json.stderr
    (row,) = json.loads(as_json.stdout)
    assert row["pins"] == {"cedar": "blue"}
    (choice,) = row["choices"]
    at = datetime.fromisoformat(choice.pop("at"))
    assert choice == {"tenant": "cedar", "action": "opt_out", "window": None,
                      "until": until.isoformat(), "source": "unknown"}
    assert at.utcoffset() == timedelta(0)
    assert timedelta(0) <= datetime.now(UTC) - at < timedelta(minutes=5)


def test_the_link_key_is_made_once_and_a_racing_creator_reads_the_winner_s(
        chosen_fleet: tuple[Fleet, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    fleet, _ = chosen_fleet
    winner = link_key(fleet.clients, fleet.app)
    assert link_key(fleet.clients, fleet.app) == winner and len(winner) >= 32
    found = fleet.clients.client("ssm").get_parameter(Name=link_key_parameter(fleet.app))
    assert found["Parameter"]["Type"] == "SecureString"
    real_read = key_module._read
    looks = iter([None])  # the loser looked before the winner wrote

    def late_read(ssm: Any, name: str) -> bytes | None:
        return next(looks, real_read(ssm, name))

    monkeypatch.setattr(key_module, "_read", late_read)
    assert link_key(fleet.clients, fleet.app) == winner
