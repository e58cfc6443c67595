"""The ``Notifier`` protocol: deliver one rendered notice and say what id it got.

One implementation per channel, one file each, registered on :data:`NOTIFIERS`
with ``@NOTIFIERS.register("<kind>")`` as a factory ``(clients, settings) ->
Notifier``. Each validates its own settings and owns its client and error
mapping; the caller only sees :class:`Notifier`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from rollout.aws_clients import AwsClients
from rollout.errors import BadInput
from rollout.plugins import Registry

S = TypeVar("S", bound=BaseModel)


class Notice(BaseModel):
    """One tenant's notice for one release, ready to send. It holds no secret but the
    tenant's own link to its preferences page (in the body alone, never recorded)."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    release: str
    contact: str | None
    subject: str
    body: str
    slot_start: datetime | None
    slot_end: datetime | None


class Notifier(Protocol):
    """Delivers notices through one channel."""

    @property
    def channel(self) -> str:
        """The channel's name, recorded with every notice (``sns``, ``webhook``)."""
        ...

    def send(self, notice: Notice) -> str:
        """Deliver ``notice``; return the id the channel gave the message."""
        ...


NotifierFactory = Callable[[AwsClients, dict[str, Any]], Notifier]
NOTIFIERS: Registry[NotifierFactory] = Registry("notifier", "rollout.notify")


def notifier_settings(model: type[S], kind: str, settings: dict[str, Any]) -> S:
    """Validate a notifier's settings; :class:`BadInput` names the field."""
    try:
        return model.model_validate(settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(settings)"
        raise BadInput(f"notifier {kind}: {field}: {first['msg']}") from None
