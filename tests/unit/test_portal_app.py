"""The preferences page through HTTP, over an in-memory backend (:mod:`tests.portal_doubles`):
what a tenant reads, what each button records, what is refused (and then that nothing is
recorded), the headers a browser obeys, and that the link's token shows nowhere but the
forms' hidden fields.

The page runs in-process through httpx's ASGI transport, and behind Mangum with a Lambda
function-URL event as AWS would hand it one.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from datetime import date
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from rollout.choices.portal_api import ChoicePage, WindowOption
from rollout.errors import RolloutFailed
from rollout.portal import lambda_handler
from rollout.portal.app import SECURITY_HEADERS, create_app
from tests.portal_doubles import InMemoryPortalBackend

TOKEN = "eyJ0ZW5hbnQiOiJhdXJvcmEifQ.c2lnbmF0dXJlLW9mLWF1cm9yYQ"
SECRET = "Zm9ybS1zZWNyZXQtb2YtYXVyb3Jh"
ORIGIN = "http://testserver"
CLIENT = "198.51.100.23"
HOSTILE = "<script>alert('x')</script> & \"quoted\""
EARLIEST, LATEST = date(2027, 3, 2), date(2027, 4, 30)


def aurora_page(**changes: Any) -> ChoicePage:
    facts: dict[str, Any] = dict(
        tenant="aurora", release="1.5.0", title=f"Faster exports {HOSTILE}",
        changes=["CSV exports run in the background", f"change {HOSTILE}"],
        benefits=["Exports of any size finish"], risks=[f"risk {HOSTILE}"],
        rollback_plan="Traffic returns to the previous version in one step.",
        when="Sun 2027-03-07 02:00-06:00 Europe/Berlin", timezone="Europe/Berlin",
        windows=[WindowOption("daily 00:00-24:00", "every day: Tue 2027-03-02 00:00-24:00"),
                 WindowOption("Sun 02:00-06:00", f"Sundays 02:00-06:00 {HOSTILE}",
                              current=True)],
        opt_out_earliest=EARLIEST, opt_out_latest=LATEST, form_secret=SECRET)
    facts.update(changes)
    return ChoicePage(**facts)


class Client:
    """Requests to the page in this process, from the address ``CLIENT``."""

    def __init__(self, backend: InMemoryPortalBackend) -> None:
        self.app = create_app(backend)

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=(CLIENT, 50123))
            async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http:
                return await http.request(method, path, **options)
        return asyncio.run(send())

    def get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        return self.request("GET", path, params=params)

    def post(self, path: str, content: str, headers: dict[str, str]) -> httpx.Response:
        return self.request("POST", path, content=content, headers=headers)


@pytest.fixture
def backend() -> InMemoryPortalBackend:
    return InMemoryPortalBackend(aurora_page(), TOKEN)


@pytest.fixture
def client(backend: InMemoryPortalBackend) -> Client:
    return Client(backend)


def post(client: Client, headers: dict[str, str] | None = None, **fields: str) -> httpx.Response:
    form = {"t": TOKEN, "form_secret": SECRET, **fields}
    return client.post("/choose", content=urlencode(form), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN,
        "Sec-Fetch-Site": "same-origin", **(headers or {})})


class Outline(HTMLParser):
    """The parts of a page its accessibility and offline promises are about."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]


def outline(html: str) -> Outline:
    parsed = Outline()
    parsed.feed(html)
    return parsed


def without_hidden_fields(html: str) -> str:
    return re.sub(r'<input type="hidden" name="(t|form_secret)" value="[^"]*">', "", html)


def test_the_page_shows_the_release_facts_and_the_tenants_windows(client: Client) -> None:
    answer = client.get("/choose", params={"t": TOKEN})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    text = " ".join("".join(outline(answer.text).text).split())
    for fact in ("CSV exports run in the background", "Exports of any size finish",
                 "Traffic returns to the previous version in one step.",
                 "Sun 2027-03-07 02:00-06:00 Europe/Berlin", "every day: Tue 2027-03-02",
                 f"Faster exports {HOSTILE}: version 1.5.0", f"risk {HOSTILE}"):
        assert fact in text
    radios = [a for a in outline(answer.text).all("input") if a.get("type") == "radio"]
    assert [(r["value"], "checked" in r) for r in radios] == [
        ("daily 00:00-24:00", False), ("Sun 02:00-06:00", True)]
    until = next(a for a in outline(answer.text).all("input") if a.get("name") == "until")
    assert (until["type"], until["min"], until["max"]) == ("date", "2027-03-02", "2027-04-30")


def test_every_text_is_escaped(client: Client) -> None:
    html = client.get("/choose", params={"t": TOKEN}).text
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in html


def test_the_page_is_plain_accessible_html_without_any_asset(client: Client) -> None:
    html = client.get("/choose", params={"t": TOKEN}).text
    page = outline(html)
    assert page.all("html") == [{"lang": "en"}]
    assert len(page.all("h1")) == 1
    assert page.all("script") == [] and page.all("link") == [] and page.all("img") == []
    assert not re.search(r"(src|href)=|url\(|@import", html)
    labelled = {attrs["for"] for attrs in page.all("label")}
    visible = [a for a in page.all("input") if a.get("type") != "hidden"]
    assert visible and all(a["id"] in labelled for a in visible)
    assert len(page.all("form")) == len(page.all("fieldset")) == len(page.all("legend")) == 3
    assert all(form == {"method": "post", "action": "choose"} for form in page.all("form"))


def test_the_token_and_form_secret_are_only_in_the_hidden_fields(client: Client) -> None:
    html = client.get("/choose", params={"t": TOKEN}).text
    hidden = {(a["name"], a["value"]) for a in outline(html).all("input") if a["type"] == "hidden"}
    assert hidden == {("t", TOKEN), ("form_secret", SECRET)}
    rest = without_hidden_fields(html)
    for secret in (TOKEN, SECRET, *TOKEN.split(".")):
        assert secret not in rest


@pytest.mark.parametrize("path", ["/choose?t=" + TOKEN, "/choose", "/healthz", "/nowhere"])
def test_every_answer_carries_the_security_headers(client: Client, path: str) -> None:
    answer = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert "form-action 'self'" in answer.headers["Content-Security-Policy"]


def test_healthz_answers_ok(client: Client) -> None:
    answer = client.get("/healthz")
    assert (answer.status_code, answer.text) == (200, "ok")


@pytest.mark.parametrize(("fields", "recorded"), [
    ({"action": "window", "window": "daily 00:00-24:00"}, ("window", "daily 00:00-24:00", None)),
    ({"action": "opt_out", "until": "2027-04-30"}, ("opt_out", None, date(2027, 4, 30))),
    ({"action": "confirm"}, ("confirm", None, None)),
])
def test_each_choice_is_recorded_and_confirmed(client: Client, backend: InMemoryPortalBackend,
                                               fields: dict[str, str],
                                               recorded: tuple[Any, ...]) -> None:
    answer = post(client, **fields)
    assert answer.status_code == 200
    assert "Your choice is recorded" in answer.text
    assert f"Recorded: {recorded[0]} for Faster exports &lt;script&gt;" in answer.text
    assert "<form" not in answer.text and TOKEN not in answer.text and SECRET not in answer.text
    [form] = backend.recorded
    assert (form.action, form.window, form.until) == recorded
    assert form.source == CLIENT


def test_a_used_link_is_refused_with_403(client: Client, backend: InMemoryPortalBackend) -> None:
    assert post(client, action="confirm").status_code == 200
    again = post(client, action="window", window="daily 00:00-24:00")
    assert again.status_code == 403
    assert "this link cannot be used: this link has been used already" in again.text
    assert len(backend.recorded) == 1


@pytest.mark.parametrize(("fields", "message"), [
    ({"action": "window", "window": "Mon 01:00-02:00"},
     "Mon 01:00-02:00 is not one of your upgrade windows"),
    ({"action": "opt_out", "until": "2027-05-01"}, "you can stay until 2027-04-30 at the latest"),
    ({"action": "opt_out", "until": "31/02/2027"}, "&#x27;31/02/2027&#x27; is not a date"),
    ({"action": "upgrade-never"}, "choose a window, a date to stay on your current version"),
    ({}, "choose a window, a date to stay on your current version"),
])
def test_a_refused_choice_shows_the_page_again_with_why_and_records_nothing(
        client: Client, backend: InMemoryPortalBackend, fields: dict[str, str],
        message: str) -> None:
    answer = post(client, **fields)
    assert answer.status_code == 400
    alert = next(a for a in outline(answer.text).all("p") if a.get("role") == "alert")
    assert alert["class"] == "refused"
    assert message in answer.text
    assert len(outline(answer.text).all("form")) == 3
    assert backend.recorded == []


@pytest.mark.parametrize("token", ["forged.token", "", TOKEN + "x"])
def test_a_link_that_cannot_be_used_is_403_and_shows_nothing_of_the_release(
        client: Client, token: str) -> None:
    answer = client.get("/choose", params={"t": token} if token else None)
    assert answer.status_code == 403
    assert "this link cannot be used: " in answer.text
    assert "Faster exports" not in answer.text and "<form" not in answer.text


@pytest.mark.parametrize("fields", [{"t": "forged.token"}, {"form_secret": "guessed"},
                                    {"t": ""}])
def test_a_post_with_a_bad_token_or_form_secret_is_403_and_records_nothing(
        client: Client, backend: InMemoryPortalBackend, fields: dict[str, str]) -> None:
    answer = post(client, action="confirm", **fields)
    assert answer.status_code == 403
    assert "this link cannot be used: " in answer.text
    assert backend.recorded == []


@pytest.mark.parametrize("headers", [
    {"Origin": "https://attacker.example"},
    {"Origin": "http://testserver.attacker.example"},
    {"Origin": "http://testserver:8081"},
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
])
def test_a_post_from_another_site_is_403_and_records_nothing(
        client: Client, backend: InMemoryPortalBackend, headers: dict[str, str]) -> None:
    answer = post(client, headers=headers, action="confirm")
    assert answer.status_code == 403
    assert "the form was not sent from this page" in answer.text
    assert backend.recorded == []


def test_the_pages_own_post_passes_with_a_null_origin(client: Client,
                                                     backend: InMemoryPortalBackend) -> None:
    """What a browser sends for the page's own form under ``Referrer-Policy: no-referrer``."""
    assert post(client, headers={"Origin": "null"}, action="confirm").status_code == 200
    assert len(backend.recorded) == 1


@pytest.mark.parametrize(("content_type", "body", "status"), [
    ("application/json", '{"t": "x"}', 415),
    ("application/x-www-form-urlencoded", "t=" + "a" * 20_000, 413),
    ("application/x-www-form-urlencoded", "&".join(f"f{i}=1" for i in range(40)), 400),
])
def test_a_post_that_is_not_the_pages_form_is_refused(
        client: Client, backend: InMemoryPortalBackend, content_type: str, body: str,
        status: int) -> None:
    answer = client.post("/choose", content=body, headers={"Content-Type": content_type})
    assert answer.status_code == status
    assert backend.recorded == []


def test_a_closed_release_says_why_and_offers_no_form(backend: InMemoryPortalBackend) -> None:
    backend.page = aurora_page(open=False, windows=[], closed_reason="the rollout has started",
                               recorded="you chose to keep the planned time")
    html = Client(backend).get("/choose", params={"t": TOKEN}).text
    assert "You can no longer change this upgrade: the rollout has started." in html
    assert "On record: you chose to keep the planned time." in html
    assert "<form" not in html and TOKEN not in html and SECRET not in html


def test_no_log_record_carries_the_token_or_the_form_secret(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    """The test's own HTTP client (httpx) logs the URLs it fetches; the page logs nothing."""
    caplog.set_level(logging.DEBUG)
    client.get("/choose", params={"t": TOKEN})
    post(client, action="window", window="Mon 01:00-02:00")
    post(client, action="confirm")
    post(client, action="confirm")
    own_client = [r for r in caplog.records if r.name.startswith("httpx")]
    assert any(TOKEN in r.getMessage() for r in own_client), "the capture sees no request"
    for record in set(caplog.records) - set(own_client):
        said = record.getMessage() + str(record.args)
        assert TOKEN not in said and SECRET not in said and TOKEN.split(".")[1] not in said


FUNCTION_HOST = "abcdefgh.lambda-url.eu-west-1.on.aws"


def function_url_event(method: str, query: str = "", body: str | None = None,
                       headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A Lambda function-URL request (payload format 2.0) for ``/choose``."""
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default", "rawPath": "/choose", "rawQueryString": query,
        "headers": {"host": FUNCTION_HOST, "x-forwarded-proto": "https",
                    "x-forwarded-port": "443", "x-forwarded-for": "203.0.113.7",
                    **(headers or {})},
        "requestContext": {
            "accountId": "anonymous", "apiId": "abcdefgh", "domainName": FUNCTION_HOST,
            "domainPrefix": "abcdefgh", "requestId": "c0ffee", "routeKey": "$default",
            "stage": "$default", "time": "07/Mar/2027:02:00:00 +0000", "timeEpoch": 0,
            "http": {"method": method, "path": "/choose", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "Mozilla/5.0"}},
        "isBase64Encoded": body is not None,
    }
    if body is not None:
        event["body"] = base64.b64encode(body.encode()).decode()
    return event


def test_behind_a_function_url_the_page_opens_and_records_with_the_callers_address(
        backend: InMemoryPortalBackend) -> None:
    handler = lambda_handler.handler_for(backend)
    opened = handler(function_url_event("GET", urlencode({"t": TOKEN})), None)
    assert opened["statusCode"] == 200
    assert opened["headers"]["content-security-policy"] == SECURITY_HEADERS[
        "Content-Security-Policy"]
    assert "Faster exports" in opened["body"]
    form = urlencode({"t": TOKEN, "form_secret": SECRET, "action": "opt_out",
                      "until": "2027-04-01"})
    chosen = handler(function_url_event("POST", body=form, headers={
        "content-type": "application/x-www-form-urlencoded",
        "origin": f"https://{FUNCTION_HOST}"}), None)
    assert chosen["statusCode"] == 200
    assert "Your choice is recorded" in chosen["body"]
    [recorded] = backend.recorded
    assert (recorded.until, recorded.source) == (date(2027, 4, 1), "203.0.113.7")


def test_behind_a_function_url_a_post_from_another_site_is_403(
        backend: InMemoryPortalBackend) -> None:
    form = urlencode({"t": TOKEN, "form_secret": SECRET, "action": "confirm"})
    refused = lambda_handler.handler_for(backend)(function_url_event("POST", body=form, headers={
        "content-type": "application/x-www-form-urlencoded",
        "origin": "https://attacker.example"}), None)
    assert refused["statusCode"] == 403
    assert backend.recorded == []


def test_the_function_refuses_to_start_naming_each_missing_setting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in lambda_handler.SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(lambda_handler.APP_ENV, "acme")
    with pytest.raises(RolloutFailed) as refused:
        lambda_handler.handler  # noqa: B018 - the look-up Lambda's init makes
    message = str(refused.value)
    assert message.startswith("the preferences page cannot start: set ")
    for name in set(lambda_handler.SETTINGS) - {lambda_handler.APP_ENV}:
        assert name in message
    assert lambda_handler.APP_ENV not in message
