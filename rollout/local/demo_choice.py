"""The demo's customer choice: a tenant opens the link in its notice and picks another of its
windows on the preferences page, and the plan moves it.

The notices go out on the SNS topic as ``rollout notify`` sends them; the demo keeps a copy
of each, as the tenant's mailbox would (:class:`Mailbox`). The page is the one the shared
stack deployed, its code served on a loopback port as its function URL's stand-in
(:mod:`rollout.local.data_plane.function_process`), and the tenant's browser is plain HTTP
requests: the page works without JavaScript, so a GET and a form POST are all a browser
would send.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import httpx

from rollout.errors import RolloutFailed
from rollout.notify.base import Notice, Notifier

LINK = re.compile(r"https?://\S+/choose\?t=\S+")
FORM_SECRET = re.compile(r'name="form_secret" value="([^"]+)"')
STATUS = re.compile(r'role="status"[^>]*>(.*?)</', re.DOTALL)


@dataclass
class Mailbox:
    """A notifier that delivers through ``inner`` and keeps each tenant's last notice."""

    inner: Notifier
    received: dict[str, Notice] = field(default_factory=dict)

    @property
    def channel(self) -> str:
        return self.inner.channel

    def send(self, notice: Notice) -> str:
        sent = self.inner.send(notice)
        self.received[notice.tenant] = notice
        return sent

    def link_of(self, tenant: str) -> str:
        """The preferences link in ``tenant``'s notice."""
        found = LINK.search(self.received[tenant].body)
        if found is None:
            raise RolloutFailed(f"the notice of {tenant} carries no link to the preferences "
                                "page: set defaults.portal_url")
        return found.group(0)


def choose_window(link: str, window: str) -> str:
    """Open ``link`` and choose ``window``, as a tenant's browser would; the page's
    confirmation, in words."""
    url, _, token = link.partition("?t=")
    with httpx.Client(timeout=10, trust_env=False) as browser:
        page = browser.get(url, params={"t": token})
        secret = FORM_SECRET.search(page.text)
        if page.status_code != 200 or secret is None:
            raise RolloutFailed(f"the preferences page answered {page.status_code}")
        answer = browser.post(url, data={"t": token, "form_secret": html.unescape(
            secret.group(1)), "action": "window", "window": window})
    said = STATUS.search(answer.text)
    if answer.status_code != 200 or said is None:
        raise RolloutFailed(f"the preferences page refused the choice ({answer.status_code})")
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", said.group(1))).split())


__all__ = ["Mailbox", "choose_window"]
