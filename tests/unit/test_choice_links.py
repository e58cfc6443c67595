"""Where links point: ``defaults.portal_url`` is https, or plain http on this machine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from rollout.choices.links import ChoiceLinks, token_of
from rollout.choices.tokens import verify
from rollout.model.tenants import Defaults


@pytest.mark.parametrize("url", ["https://prefs.acme.example", "https://prefs.acme.example/",
                                 "http://127.0.0.1:8080", "http://localhost:9000/prefs"])
def test_https_or_loopback_http_portal_urls_are_taken(url: str) -> None:
    taken = Defaults(windows=["Sat 02:00-06:00"], portal_url=url).portal_url  # type: ignore[list-item]
    assert taken == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://prefs.acme.example", "ftp://127.0.0.1",
                                 "https://prefs.acme.example/?a=1", "prefs.acme.example",
                                 "https://user@prefs.acme.example"])
def test_other_portal_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="is not an https URL"):
        Defaults(windows=["Sat 02:00-06:00"], portal_url=url)  # type: ignore[list-item]


def test_a_link_carries_a_token_for_its_tenant() -> None:
    key = b"q" * 32
    links = ChoiceLinks("https://prefs.acme.example/", key)
    link = links.link("aurora", "1.5.0", datetime(2027, 3, 1, tzinfo=UTC), None)
    assert link.startswith("https://prefs.acme.example/choose?t=")
    assert verify(key, token_of(link), datetime(2027, 3, 2, tzinfo=UTC), tenant="aurora")
    assert "q" * 32 not in repr(links)
