"""The preferences page in headless Chromium, served by uvicorn on loopback as ``rollout
portal`` serves it: a tenant opens its link, picks a window or a date to stay until,
submits, and reads the confirmation; the choice is what the backend recorded.

The backend is the :func:`choice_link` fixture's: the in-memory one of
:mod:`tests.portal_doubles` here, so the test is about the browser and the page; pointed
at the ledger's backend it checks the whole path (a :class:`ChoiceLink` says which link
to open and how to read what was recorded).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from rollout.choices.portal_api import ChoicePage, PortalBackend, WindowOption
from rollout.portal.app import create_app
from rollout.portal.serving import LOOPBACK, listening_socket, serving_in_background
from tests.chromium_page import ChromiumPage, chromium_page, require_chromium
from tests.portal_doubles import InMemoryPortalBackend

pytestmark = pytest.mark.integration

Recorded = tuple[str, str | None, date | None]
"""A recorded choice as the test compares it: action, window, until."""


@dataclass(frozen=True)
class ChoiceLink:
    """A tenant's link to the page, and where its choice lands."""

    backend: PortalBackend
    token: str
    window: str
    """One of the tenant's windows other than the planned one."""
    until: date
    """A day the tenant may stay on its current version until."""
    recorded: Callable[[], list[Recorded]]


TODAY = date(2027, 3, 1)


def birch_page(token: str) -> ChoicePage:
    """Tenant birch's page about release 1.5.0, planned in its Sunday window."""
    return ChoicePage(
        tenant="birch", release="1.5.0", title="Faster exports",
        changes=["CSV exports run in the background"], benefits=["Exports of any size"],
        risks=["Export links change format"],
        rollback_plan="Traffic returns to the previous version in one step.",
        when="Sun 2027-03-07 02:00-06:00 Europe/Berlin", timezone="Europe/Berlin",
        windows=[WindowOption("Sun 02:00-06:00", "Sundays 02:00-06:00", current=True),
                 WindowOption("Wed 22:00-23:59", "Wednesdays 22:00-23:59")],
        opt_out_earliest=TODAY + timedelta(days=1),
        opt_out_latest=TODAY + timedelta(days=60), form_secret="secret-of-" + token)


@pytest.fixture
def choice_link() -> ChoiceLink:
    token = "eyJ0ZW5hbnQiOiJiaXJjaCJ9.YnJvd3Nlci10ZXN0"
    backend = InMemoryPortalBackend(birch_page(token), token)
    return ChoiceLink(backend, token, "Wed 22:00-23:59", TODAY + timedelta(days=30),
                      lambda: [(c.action, c.window, c.until) for c in backend.recorded])


@pytest.fixture
def served_page(choice_link: ChoiceLink) -> Iterator[str]:
    """The page over the link's backend, on a free loopback port: its ``/choose`` URL."""
    sock = listening_socket(LOOPBACK, 0)
    try:
        with serving_in_background(create_app(choice_link.backend), sock) as url:
            yield url
    finally:
        sock.close()


@pytest.fixture
def browser_page() -> Iterator[ChromiumPage]:
    with chromium_page(require_chromium()) as page:
        yield page


def opened(page: ChromiumPage, url: str, token: str) -> None:
    page.visit(f"{url}?t={token}")
    assert page.evaluate("document.querySelector('h1').textContent") == \
        "Faster exports: version 1.5.0"


def confirmation(page: ChromiumPage) -> tuple[str, str, str]:
    """The confirmation page's heading, message and address."""
    return (page.evaluate("document.querySelector('h1').textContent"),
            page.evaluate("document.querySelector('[role=status]').textContent"),
            page.evaluate("location.href"))


def only_the_page_was_fetched(page: ChromiumPage, url: str) -> None:
    """No error, and no request but to the page (``data:`` is the browser's own date-picker
    icon, drawn without a fetch)."""
    assert page.record.console_errors == []
    fetched = [r for r in page.record.requests if not r.startswith("data:")]
    assert fetched and all(request.startswith(url) for request in fetched), fetched


def test_a_tenant_picks_another_window_and_reads_the_confirmation(
        browser_page: ChromiumPage, served_page: str, choice_link: ChoiceLink) -> None:
    opened(browser_page, served_page, choice_link.token)
    radio = browser_page.evaluate(
        f"[...document.querySelectorAll('input[name=window]')]"
        f".find(r => r.value === {json.dumps(choice_link.window)}).id")
    browser_page.click(f"label[for={radio}]")
    assert browser_page.evaluate(f"document.getElementById({radio!r}).checked") is True
    browser_page.click_and_wait("button[value=window]")

    heading, message, address = confirmation(browser_page)
    assert heading == "Your choice is recorded"
    assert message.startswith("Recorded: window")
    assert address == served_page and choice_link.token not in address
    assert choice_link.recorded() == [("window", choice_link.window, None)]
    only_the_page_was_fetched(browser_page, served_page)


def test_a_tenant_stays_on_its_version_until_a_date(
        browser_page: ChromiumPage, served_page: str, choice_link: ChoiceLink) -> None:
    opened(browser_page, served_page, choice_link.token)
    browser_page.fill("#until", choice_link.until.isoformat())
    browser_page.click_and_wait("button[value=opt_out]")

    heading, message, _ = confirmation(browser_page)
    assert (heading, message) == ("Your choice is recorded",
                                  "Recorded: opt_out for Faster exports.")
    assert choice_link.recorded() == [("opt_out", None, choice_link.until)]
    only_the_page_was_fetched(browser_page, served_page)


def test_the_browser_keeps_a_date_past_the_limit_from_being_sent(
        browser_page: ChromiumPage, served_page: str, choice_link: ChoiceLink) -> None:
    opened(browser_page, served_page, choice_link.token)
    latest = browser_page.evaluate("document.querySelector('#until').max")
    browser_page.fill("#until", (date.fromisoformat(latest) + timedelta(days=1)).isoformat())
    browser_page.click("button[value=opt_out]")
    browser_page.evaluate("new Promise(r => setTimeout(r, 300))")
    assert browser_page.evaluate("document.querySelector('#until').validity.rangeOverflow")
    assert browser_page.evaluate("document.querySelector('h1').textContent") == \
        "Faster exports: version 1.5.0"
    assert choice_link.recorded() == []


def test_a_form_on_another_site_posting_to_the_page_is_refused(
        browser_page: ChromiumPage, served_page: str, choice_link: ChoiceLink) -> None:
    """Even with the link's token and form secret in it: the browser says where it came from."""
    secret = choice_link.backend.open(choice_link.token).form_secret
    browser_page.visit(
        "data:text/html,<form method=post action='" + served_page + "'>"
        f"<input type=hidden name=t value='{choice_link.token}'>"
        f"<input type=hidden name=form_secret value='{secret}'>"
        "<button name=action value=confirm>Win a prize</button></form>")
    browser_page.click_and_wait("button")
    assert browser_page.evaluate("document.querySelector('h1').textContent") == \
        "This link cannot be used"
    assert "the form was not sent from this page" in browser_page.evaluate(
        "document.body.textContent")
    assert choice_link.recorded() == []
