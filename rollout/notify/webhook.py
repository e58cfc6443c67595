"""Notices POSTed as JSON to a webhook (a ticketing system, a chat relay, a portal).

Webhook URLs often carry a token, so errors name only the host, never the URL.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from rollout.aws_clients import AwsClients
from rollout.errors import RolloutFailed
from rollout.notify.base import NOTIFIERS, Notice, Notifier, notifier_settings


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://[^/\s]+")
    timeout: float = Field(default=10.0, gt=0, le=60)


class WebhookNotifier:
    """POSTs ``{tenant, release, contact, subject, body, slot_start, slot_end}``.

    The message id is the ``id`` of a JSON reply, or the ``X-Message-Id`` header,
    or else one we made up and sent as ``Idempotency-Key``.
    """

    channel = "webhook"

    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self._timeout = timeout
        self.host = urlsplit(url).netloc.rpartition("@")[2]

    def send(self, notice: Notice) -> str:
        key = uuid.uuid4().hex
        request = urllib.request.Request(
            self._url, method="POST", data=notice.model_dump_json().encode("utf-8"),
            headers={"Content-Type": "application/json", "Idempotency-Key": key})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                header_id = response.headers.get("X-Message-Id")
                reply = response.read()
        except urllib.error.HTTPError as exc:
            raise RolloutFailed(f"webhook at {self.host} answered {exc.code} for tenant "
                                f"{notice.tenant}; no notice recorded, run notify again") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RolloutFailed(f"cannot reach the webhook at {self.host} ({reason}); "
                                f"no notice recorded for {notice.tenant}") from None
        return _reply_id(reply) or header_id or key


def _reply_id(reply: bytes) -> str | None:
    try:
        data = json.loads(reply)
    except ValueError:
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return str(found) if found else None


@NOTIFIERS.register("webhook")
def webhook_notifier(clients: AwsClients, settings: dict[str, Any]) -> Notifier:
    checked = notifier_settings(WebhookSettings, "webhook", settings)
    return WebhookNotifier(checked.url, checked.timeout)
