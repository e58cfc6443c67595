"""Rehearsal traffic stays bounded and on loopback, and its tally adds up."""

from __future__ import annotations

import pytest

from rollout.errors import BadInput
from rollout.local.traffic import Tally, checked_loopback, checked_rate


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://[::1]:80/", "http://localhost:1"])
def test_loopback_urls_are_accepted(url: str) -> None:
    assert checked_loopback(url) == url


@pytest.mark.parametrize("url", ["http://10.0.0.10:8080", "https://example.com",
                                 "http://169.254.169.254/", "http://0.0.0.0:80"])
def test_anything_but_loopback_is_refused(url: str) -> None:
    with pytest.raises(BadInput, match="loopback addresses only"):
        checked_loopback(url)


def test_the_rate_and_the_length_are_bounded() -> None:
    assert checked_rate(50, 2) == 100
    assert checked_rate(0.5, 1) == 1
    for rps, seconds in ((0, 1), (5000, 1), (10, 0), (10, 7200)):
        with pytest.raises(BadInput):
            checked_rate(rps, seconds)


def test_the_tally_counts_colours_statuses_tenants_and_failures() -> None:
    tally = Tally()
    tally.add("aurora", "blue", 200)
    tally.add("aurora", "green", 502)
    tally.add("birch", "none", None)
    summary = tally.summary(1.23456)
    assert summary.requests == 3 and summary.failed == 1 and summary.seconds == 1.235
    assert summary.per_colour == {"blue": 1, "green": 1, "none": 1}
    assert summary.statuses == {"200": 1, "502": 1}
    assert summary.per_tenant == {"aurora": {"blue": 1, "green": 1}, "birch": {"none": 1}}
