"""A tenant's choice end to end, in headless Chromium: the link from its notice, the page
served as ``rollout portal`` serves it over the ledger's backend, and the commands that
honour the choice afterwards.

``rollout notify`` sends each tenant its notice on the SNS topic (read back from an SQS
queue subscribed to it, as a mail relay would). Aurora opens its link, picks its Sunday
window and submits: ``rollout plan --json`` then plans it on a Sunday. Birch opens its own
and stays on its version until a date: ``rollout start`` pins it on blue. Replaying a link,
or opening another tenant's with a forged signature, is refused with 403. A day's notice
puts the cohort's slot tomorrow, so the links are still good today (a link expires when its
tenant's upgrade begins); ``start`` overrides the notice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from rollout.choices.backend import LedgerPortalBackend
from rollout.model.release import load_release_notes
from rollout.portal.app import create_app
from rollout.portal.serving import LOOPBACK, listening_socket, served_url, serving_in_background
from rollout.vocabulary.resource_names import link_key_parameter
from tests.chromium_page import ChromiumPage, chromium_page, require_chromium
from tests.cli_runner import address, rollout_output
from tests.conftest import Fleet, deploy_fleet
from tests.integration.test_choices_portal import sent_bodies
from tests.releases import short_notes_yaml
from tests.tenant_files import cohort_entry, tenant_entry, write_tenants

pytestmark = pytest.mark.integration

RELEASE = "1.5.0"
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/choose\?t=\S+)")


@dataclass(frozen=True)
class Portal:
    fleet: Fleet
    base: Path
    url: str
    links: dict[str, str]
    """Each tenant's link, from the notice it was sent."""


@pytest.fixture(scope="module")
def portal(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    base = tmp_path_factory.mktemp("portal-end-to-end")
    fleet = deploy_fleet(base, {"canary": ["aurora", "birch", "cedar"]},
                         versions={"blue": "1.4.2", "green": RELEASE})
    sock = listening_socket(LOOPBACK, 0)
    url = served_url(sock)
    tenants = write_tenants(base / "tenants.yaml", [cohort_entry("canary", "canary:50:1s")], [
        tenant_entry("aurora", "canary", timezone="Europe/Berlin",
                     windows=["daily 00:00-24:00", "Sun 02:00-06:00"]),
        tenant_entry("birch", "canary"), tenant_entry("cedar", "canary")],
        portal_url=url.removesuffix("/choose"), max_deferral="60d", notice_days=1)
    notes = base / "release.yaml"
    notes.write_text(short_notes_yaml(RELEASE))
    sqs, sns = fleet.clients.client("sqs"), fleet.clients.client("sns")
    queue = sqs.create_queue(QueueName=f"{fleet.app}-mailbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=fleet.shared.notices_topic_arn, Protocol="sqs", Endpoint=arn)
    with pytest.MonkeyPatch.context() as patch:
        address(patch, fleet, tenants)
        sent = rollout_output("notify", "--release", RELEASE, "--notes", str(notes),
                              "--tenants", str(tenants), "--json")
        assert sent.code == 0, sent.stderr
        links = {tenant: found.group(1) for tenant, bodies in sent_bodies(fleet, queue).items()
                 if (found := LINK.search(bodies[0]))}
        assert set(links) == {"aurora", "birch", "cedar"}
        assert not any(link in sent.stdout + sent.stderr for link in links.values())
        backend = LedgerPortalBackend.of(
            fleet.clients, fleet.shared, tenants,
            [load_release_notes(notes, RELEASE, "--release")])
        try:
            with serving_in_background(create_app(backend), sock):
                yield Portal(fleet, base, url, links)
        finally:
            sock.close()


@pytest.fixture
def browser() -> Iterator[ChromiumPage]:
    with chromium_page(require_chromium()) as page:
        yield page


def choose_window(page: ChromiumPage, link: str, window: str) -> str:
    page.visit(link)
    radio = page.evaluate(f"[...document.querySelectorAll('input[name=window]')]"
                          f".find(r => r.value === {json.dumps(window)}).id")
    page.click(f"label[for={radio}]")
    page.click_and_wait("button[value=window]")
    return str(page.evaluate("document.querySelector('h1').textContent"))


def test_a_window_chosen_in_the_browser_moves_the_tenant_in_the_plan(
        portal: Portal, browser: ChromiumPage) -> None:
    heading = choose_window(browser, portal.links["aurora"], "Sun 02:00-06:00")
    assert heading == "Your choice is recorded"

    planned = rollout_output("plan", "--release", RELEASE, "--tenants",
                             str(portal.base / "tenants.yaml"), "--json")
    assert planned.code == 0, planned.stderr
    (cohort,) = json.loads(planned.stdout)["cohorts"]
    slots = [group["local"] for group in cohort["included"] if "aurora" in group["tenants"]]
    slots += [e["follow_up_local"] for e in cohort["excluded"] if e["tenant"] == "aurora"]
    (slot,) = slots
    local = datetime.fromisoformat(slot["start"])
    assert (local.strftime("%a %H:%M"), slot["timezone"]) == ("Sun 02:00", "Europe/Berlin")
    assert portal.links["aurora"].split("t=")[1] not in planned.stdout + planned.stderr

    again = httpx.get(portal.links["aurora"], timeout=10)
    assert again.status_code == 403, "a link is used once"


def test_an_opt_out_chosen_in_the_browser_pins_the_tenant_at_start(
        portal: Portal, browser: ChromiumPage) -> None:
    until = date.today() + timedelta(days=30)
    browser.visit(portal.links["birch"])
    browser.fill("#until", until.isoformat())
    browser.click_and_wait("button[value=opt_out]")
    assert browser.evaluate("document.querySelector('h1').textContent") == \
        "Your choice is recorded"

    started = rollout_output("start", "--cohort", "canary", "--release", RELEASE,
                             "--override-notice", "end-to-end test", "--json")
    assert started.code == 0, started.stdout + started.stderr
    state = json.loads(started.stdout)
    assert state["pinned"]["birch"] == "blue" and "cedar" not in state["pinned"]
    assert f"opted out until {until.isoformat()}: chose on the preferences page" in \
        started.stdout


def test_forged_and_other_tenants_tokens_are_refused_and_nothing_is_recorded(
        portal: Portal) -> None:
    ledger_before = portal.fleet.clients.client("dynamodb").scan(
        TableName=portal.fleet.shared.ledger_table)["Items"]
    cedar = portal.links["cedar"]
    token = cedar.split("t=")[1]
    payload, _, signature = token.rpartition(".")
    forged = f"{portal.url}?t={payload}.{signature[::-1]}"
    assert httpx.get(forged, timeout=10).status_code == 403
    birch_payload = portal.links["birch"].split("t=")[1].rpartition(".")[0]
    other = f"{portal.url}?t={birch_payload}.{signature}"
    assert httpx.get(other, timeout=10).status_code == 403
    page = httpx.get(cedar, timeout=10)
    assert page.status_code == 200
    key = portal.fleet.clients.client("ssm").get_parameter(
        Name=link_key_parameter(portal.fleet.app), WithDecryption=True)["Parameter"]["Value"]
    assert key not in page.text
    assert not any(link.split("t=")[1] in page.text
                   for tenant, link in portal.links.items() if tenant != "cedar")
    assert portal.fleet.clients.client("dynamodb").scan(
        TableName=portal.fleet.shared.ledger_table)["Items"] == ledger_before
