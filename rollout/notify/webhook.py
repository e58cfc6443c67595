"""Notices POSTed as JSON to a webhook (a ticketing system, a chat relay, a portal).

Webhook URLs often carry a token, so the URL comes from the environment or a
file (never the command line, where ``ps`` shows it) and every message names
only its scheme and host. Where notices may go is the allow-list of
:mod:`rollout.checked_http`: https to a public address, plain http only to this
machine, anything internal only to a host named in :data:`ALLOW_HOSTS_ENV`, the
connection pinned to the checked address, no proxies. Redirects are never
followed: a 3xx is a failure.
"""

from __future__ import annotations

import http.client
import json
import re
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from rollout.aws_clients import AwsClients
from rollout.checked_http import CheckedConnection, CheckedTarget, UrlRules, check_url
from rollout.errors import RolloutFailed
from rollout.notify.base import NOTIFIERS, Notice, Notifier, notifier_settings

URL_ENV = "ROLLOUT_WEBHOOK_URL"
"""Where ``rollout notify --channel webhook`` reads the webhook URL by default."""

ALLOW_HOSTS_ENV = "ROLLOUT_WEBHOOK_ALLOW_HOSTS"
"""Comma-separated host names (or IP addresses) that may resolve to internal addresses."""

REPLY_LIMIT = 65536
"""Bytes of a reply read at most: only its ``id`` is wanted."""

MESSAGE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
"""A message id the webhook gives is printed and stored only if it looks like one."""

RULES = UrlRules(subject="webhook", goes="notices go", allow_hosts_env=ALLOW_HOSTS_ENV)
"""Refusals read ``webhook URL https://host: ...`` and name :data:`ALLOW_HOSTS_ENV`."""


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: SecretStr
    timeout: float = Field(default=10.0, gt=0, le=60)
    allow_hosts: tuple[str, ...] = ()
    """Hosts allowed to resolve to internal addresses (from :data:`ALLOW_HOSTS_ENV`)."""


class WebhookNotifier:
    """POSTs ``{tenant, release, contact, subject, body, slot_start, slot_end}``.

    The message id is the ``id`` of a JSON reply, or the ``X-Message-Id`` header,
    or else one we made up and sent as ``Idempotency-Key``.
    """

    channel = "webhook"

    def __init__(self, target: CheckedTarget, timeout: float) -> None:
        self._target = target
        self._timeout = timeout
        self.host = target.host

    def send(self, notice: Notice) -> str:
        key = uuid.uuid4().hex
        origin = self._target.origin
        connection = CheckedConnection(self._target, self._timeout)
        try:
            connection.request("POST", self._target.target, body=notice.model_dump_json().encode(),
                               headers={"Content-Type": "application/json",
                                        "Idempotency-Key": key})
            response = connection.getresponse()
            status, header_id = response.status, response.getheader("X-Message-Id")
            reply = response.read(REPLY_LIMIT)
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise RolloutFailed(f"cannot reach the webhook at {origin} ({reason}); "
                                f"no notice recorded for {notice.tenant}") from None
        finally:
            connection.close()
        if 300 <= status < 400:
            raise RolloutFailed(f"webhook at {origin} answered {status}, a redirect, which is "
                                f"not followed; set {URL_ENV} to the final address. No notice "
                                f"recorded for {notice.tenant}")
        if not 200 <= status < 300:
            raise RolloutFailed(f"webhook at {origin} answered {status} for tenant "
                                f"{notice.tenant}; no notice recorded, run notify again")
        return _reply_id(reply) or _plain_id(header_id) or key


def _plain_id(found: object) -> str | None:
    text = str(found) if found else None
    return text if text and MESSAGE_ID.fullmatch(text) else None


def _reply_id(reply: bytes) -> str | None:
    try:
        data = json.loads(reply)
    except ValueError:
        return None
    return _plain_id(data.get("id")) if isinstance(data, dict) else None


@NOTIFIERS.register("webhook")
def webhook_notifier(clients: AwsClients, settings: dict[str, Any]) -> Notifier:
    """Check the URL now, so a bad one is refused before any notice or ledger write."""
    checked = notifier_settings(WebhookSettings, "webhook", settings)
    target = check_url(checked.url.get_secret_value(), RULES, checked.allow_hosts)
    return WebhookNotifier(target, checked.timeout)
