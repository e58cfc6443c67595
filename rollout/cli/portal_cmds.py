"""``rollout portal``: serve the preferences page the links in notices open, on this machine.

The same app runs in production behind a Lambda function URL
(:mod:`rollout.portal.lambda_handler`); this command is for local use and for a
provider who puts its own TLS proxy in front. It listens on loopback unless a host is
allowed by name, and logs no request (each one carries a tenant's token).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rollout.cli import app, context
from rollout.cli.output import console, err_console
from rollout.errors import RolloutError

if TYPE_CHECKING:
    from rollout.choices.backend import LedgerPortalBackend
    from rollout.model.release import ReleaseNotes

PORTAL_EXTRA = "pip install 'tenant-rollout[portal]'"
OfferedNotes = Annotated[list[Path], typer.Option(
    "--notes", metavar="FILE",
    help="The notes of a release tenants may choose about (repeatable).")]
"""The releases the preferences page offers: ``rollout portal`` and ``stacks portal``."""


def portal_backend(tenants: Path, notes: list[ReleaseNotes]) -> LedgerPortalBackend:
    """The page's backend on this app's ledger, with its link key (made on first need)."""
    from rollout.choices.backend import LedgerPortalBackend

    ctx = context.current()
    return LedgerPortalBackend.of(ctx.clients_for(ctx.shared), ctx.shared, tenants, notes)


def _say_where_links_point(tenants: Path, url: str) -> None:
    """A note on stderr when the links in notices point elsewhere than this page."""
    from rollout.model.tenants import load_tenants

    named = load_tenants(tenants).defaults.portal_url
    if named is None:
        err_console.print(f"{tenants} names no defaults.portal_url: notices carry no link to "
                          "this page")
    elif named.rstrip("/") + "/choose" != url:
        err_console.print(f"the links in notices open {named.rstrip('/')}/choose "
                          f"(defaults.portal_url in {tenants}), not this address")


@app.command("portal")
def portal(
    tenants: Annotated[Path, typer.Option(
        "--tenants", help="The tenants file (see examples/tenants.yaml), re-read per request.")],
    notes: OfferedNotes,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on; any but loopback must also be named by "
                       "--allow-host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(
        "--port", min=0, max=65535, help="Port to listen on (0: a free one).")] = 8080,
    allow_hosts: Annotated[list[str] | None, typer.Option(
        "--allow-host", metavar="HOST",
        help="Allow --host to be this non-loopback address (repeatable): the page speaks "
             "plain http, so put TLS in front of it.")] = None,
) -> None:
    """Serve the preferences page tenants open from their notice's link (until Ctrl-C)."""
    try:
        from rollout.portal.app import create_app
        from rollout.portal.serving import (
            checked_host,
            listening_socket,
            portal_server,
            served_url,
        )
    except ImportError as exc:
        raise RolloutError(f"`rollout portal` needs the web server packages ({exc.name} is "
                           f"missing): {PORTAL_EXTRA}") from None
    from rollout.model.tenants import load_tenants
    from rollout.portal.releases import offered_releases

    checked_host(host, allow_hosts or [])
    load_tenants(tenants)
    offered = offered_releases(notes)
    sock = listening_socket(host, port)
    try:
        server = portal_server(create_app(portal_backend(tenants, offered)))
        url = served_url(sock)
        _say_where_links_point(tenants, url)
        console.print(url)
        server.run(sockets=[sock])
    finally:
        sock.close()
