"""The preferences page as an ASGI app: ``GET /choose?t=…``, ``POST /choose``, ``GET /healthz``.

The app parses requests, guards them and renders pages; a
:class:`~rollout.choices.portal_api.PortalBackend` checks the token, says what the
tenant may choose, and checks and records the choice. A link that cannot be used is a
403 that says why; a choice a rule refuses is the page again, with the reason, as a
400; neither records anything (the backend refuses before it writes).

Against requests forged by another site, the form carries the backend's form secret,
which only who opened the page with the token can know, and a post that a browser says
came from elsewhere (``Sec-Fetch-Site``, or an ``Origin`` that is not the page's own) is
refused before the backend sees it. ``Origin: null`` passes that check: a browser sends
it for the page's own form, because the page asks for no referrer (so the token never
leaves in a ``Referer``); the form secret still has to match.

Nothing here logs: a request line would carry the token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from rollout.choices.portal_api import (
    ChoiceAction,
    ChoiceForm,
    ChoiceRefused,
    PortalBackend,
    TokenRefused,
)
from rollout.portal.pages import choice_page, outcome_page, plain_page, refused_link_page

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
"""On every answer: nothing fetched, no framing, no ``Referer`` carrying the token out,
and no cache keeping a page that holds it."""

MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 16
ACTIONS: dict[str, ChoiceAction] = {"window": "window", "opt_out": "opt_out",
                                    "confirm": "confirm"}
DEFAULT_PORTS = {"http": 80, "https": 443}

NO_TOKEN = "it carries no token: open the link from your latest notice"
FROM_ELSEWHERE = "the form was not sent from this page: open your link again"
NO_ACTION = "choose a window, a date to stay on your current version, or confirm the planned time"


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every response, 404s included."""

    def __init__(self, app: AsgiApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class UnreadableForm(Exception):
    """A post the page cannot read as its form; ``status`` is the answer's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _origin_parts(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        return (parts.scheme.lower(), (parts.hostname or "").lower(),
                parts.port or DEFAULT_PORTS.get(parts.scheme.lower()))
    except ValueError:
        return None


def sent_from_elsewhere(request: Request) -> bool:
    """Whether the browser says the post comes from another site than the page's own."""
    if request.headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("origin")
    if origin is None or origin.strip().lower() == "null":
        return False
    own = _origin_parts(f"{request.url.scheme}://{request.url.netloc}")
    return own is None or _origin_parts(origin.strip()) != own


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form's fields (the first value of each), read within :data:`MAX_FORM_BYTES`."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise UnreadableForm(415, "send the form from the page (it posts "
                                  "application/x-www-form-urlencoded)")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise UnreadableForm(413, "the form is larger than the page ever sends")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                          max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise UnreadableForm(400, "the form could not be read: send it from the page") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def choice_form(fields: dict[str, str], source: str) -> ChoiceForm:
    """The tenant's choice from the form's fields; :class:`ChoiceRefused` when they do not
    say one (the backend checks it against the rules)."""
    action = ACTIONS.get(fields.get("action", ""))
    if action is None:
        raise ChoiceRefused(NO_ACTION)
    until: date | None = None
    written = fields.get("until", "").strip()
    if action == "opt_out" and written:
        try:
            until = date.fromisoformat(written)
        except ValueError:
            raise ChoiceRefused(f"{written[:40]!r} is not a date like 2026-03-07") from None
    window = fields.get("window", "").strip() if action == "window" else ""
    return ChoiceForm(action=action, form_secret=fields.get("form_secret", ""),
                      window=window or None, until=until, source=source)


def _html(page: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(page, status_code=status)


def _refused_link(reason: str) -> HTMLResponse:
    return _html(refused_link_page(reason), 403)


class ChoicePages:
    """The routes' handlers over one backend (called in a thread: backends block on AWS)."""

    def __init__(self, backend: PortalBackend) -> None:
        self._backend = backend

    async def show(self, request: Request) -> Response:
        token = request.query_params.get("t", "")
        if not token:
            return _refused_link(NO_TOKEN)
        try:
            page = await run_in_threadpool(self._backend.open, token)
        except TokenRefused as exc:
            return _refused_link(str(exc))
        return _html(choice_page(page, token))

    async def choose(self, request: Request) -> Response:
        if sent_from_elsewhere(request):
            return _refused_link(FROM_ELSEWHERE)
        try:
            fields = await form_fields(request)
        except UnreadableForm as exc:
            return _html(plain_page("The form could not be read", str(exc)), exc.status)
        token = fields.get("t", "")
        if not token:
            return _refused_link(NO_TOKEN)
        source = request.client.host if request.client else "unknown"
        try:
            form = choice_form(fields, source)
            outcome = await run_in_threadpool(self._backend.choose, token, form)
        except TokenRefused as exc:
            return _refused_link(str(exc))
        except ChoiceRefused as exc:
            return await self._again(token, str(exc))
        return _html(outcome_page(outcome))

    async def _again(self, token: str, refusal: str) -> Response:
        """The page again, saying why the choice was not recorded (400)."""
        try:
            page = await run_in_threadpool(self._backend.open, token)
        except TokenRefused as exc:
            return _refused_link(str(exc))
        return _html(choice_page(page, token, refusal), 400)


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _failed(request: Request, exc: Exception) -> Response:
    """A plain 500 that still carries the security headers (it is answered outside the
    middleware) and says nothing about the failure."""
    page = plain_page("Something went wrong", "your choice may not be recorded: "
                                              "try again in a few minutes, or write to us")
    return HTMLResponse(page, status_code=500, headers=SECURITY_HEADERS)


def create_app(backend: PortalBackend) -> Starlette:
    """The preferences page over ``backend``."""
    pages = ChoicePages(backend)
    return Starlette(
        routes=[Route("/choose", pages.show, methods=["GET"]),
                Route("/choose", pages.choose, methods=["POST"]),
                Route("/healthz", healthz, methods=["GET"])],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={Exception: _failed},
    )
