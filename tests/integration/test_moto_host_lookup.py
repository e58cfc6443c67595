"""The embedded moto server finds a request's service once per host, not per request."""

from __future__ import annotations

import moto.backends
import pytest

from rollout.aws_clients import AwsClients

pytestmark = pytest.mark.integration


def test_requests_to_a_known_host_do_not_list_moto_s_folder_again(
        aws: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    sqs = aws.client("sqs")
    sqs.list_queues()  # this host is looked up now, if no test did before
    listed: list[str] = []
    listing = moto.backends.list_of_moto_modules

    def counted() -> object:
        listed.append("listed")
        return listing()

    monkeypatch.setattr(moto.backends, "list_of_moto_modules", counted)
    for name in ("host-lookup-a", "host-lookup-b"):
        sqs.create_queue(QueueName=name)
    assert {url.rsplit("/", 1)[1] for url in sqs.list_queues()["QueueUrls"]} >= {
        "host-lookup-a", "host-lookup-b"}
    assert listed == []
