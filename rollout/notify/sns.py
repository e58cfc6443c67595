"""Notices to the notices SNS topic, with ``tenant`` and ``release`` message attributes.

Subscribers (an email relay, a customer portal, a queue) filter on the
attributes, so one topic serves every tenant.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rollout.aws_clients import AwsClients
from rollout.notify.base import NOTIFIERS, Notice, Notifier, notifier_settings

SUBJECT_LIMIT = 100


class SnsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sns:")


def subject_line(text: str) -> str:
    """What SNS accepts as a subject: printable ASCII on one line, at most 100 characters."""
    flat = " ".join(text.split())
    ascii_only = flat.encode("ascii", "replace").decode("ascii")
    return ascii_only[:SUBJECT_LIMIT]


class SnsNotifier:
    """Publishes each notice as one message on the topic."""

    channel = "sns"

    def __init__(self, clients: AwsClients, topic_arn: str) -> None:
        self._sns = clients.client("sns")
        self.topic_arn = topic_arn

    def send(self, notice: Notice) -> str:
        response = self._sns.publish(
            TopicArn=self.topic_arn,
            Subject=subject_line(notice.subject),
            Message=notice.body,
            MessageAttributes={
                "tenant": {"DataType": "String", "StringValue": notice.tenant},
                "release": {"DataType": "String", "StringValue": notice.release},
            },
        )
        return str(response["MessageId"])


@NOTIFIERS.register("sns")
def sns_notifier(clients: AwsClients, settings: dict[str, Any]) -> Notifier:
    checked = notifier_settings(SnsSettings, "sns", settings)
    return SnsNotifier(clients, checked.topic_arn)
