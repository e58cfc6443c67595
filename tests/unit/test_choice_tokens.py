"""Notice links: a token works for its own tenant, release and purpose until it expires,
and every other token is refused with a message that never repeats it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from rollout.choices.portal_api import TokenRefused
from rollout.choices.tokens import (
    DEFAULT_LIFETIME,
    form_secret,
    form_secret_matches,
    issue,
    link_expiry,
    verify,
)

KEY = b"k" * 32
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=10)


def token(**overrides: object) -> str:
    fields: dict[str, object] = {"tenant": "aurora", "release": "1.5.0", "expires": LATER}
    fields.update(overrides)
    return issue(KEY, str(fields["tenant"]), str(fields["release"]),
                 fields["expires"])  # type: ignore[arg-type]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed(payload: dict[str, object], key: bytes = KEY) -> str:
    """A token over any payload, signed as the toolkit signs: to test what it checks
    after the signature."""
    text = b64(json.dumps(payload).encode())
    return f"{text}.{b64(hmac.new(key, text.encode(), hashlib.sha256).digest())}"


def refused(text: str, **expect: str) -> str:
    with pytest.raises(TokenRefused) as caught:
        verify(KEY, text, NOW, **expect)
    message = str(caught.value)
    if len(text) > 8:
        assert text not in message and text.split(".")[-1] not in message
    return message


def test_a_token_verifies_for_its_tenant_and_release() -> None:
    claims = verify(KEY, token(), NOW, tenant="aurora", release="1.5.0")
    assert (claims.tenant, claims.release, claims.purpose) == ("aurora", "1.5.0", "choose")
    assert claims.expires == LATER and claims.nonce


def test_each_token_has_its_own_nonce() -> None:
    assert verify(KEY, token(), NOW).nonce != verify(KEY, token(), NOW).nonce


def test_a_token_signed_with_another_key_is_refused() -> None:
    forged = issue(b"x" * 32, "aurora", "1.5.0", LATER)
    assert "not valid" in refused(forged)


def test_an_expired_token_is_refused() -> None:
    assert "expired" in refused(token(expires=NOW - timedelta(seconds=1)))
    assert "expired" in refused(token(expires=NOW))


def test_another_tenant_s_token_is_refused() -> None:
    assert "another tenant" in refused(token(tenant="birch"), tenant="aurora")


def test_a_token_for_another_release_is_refused() -> None:
    assert "another release" in refused(token(release="1.6.0"), release="1.5.0")


def test_a_token_for_another_purpose_is_refused() -> None:
    forged = signed({"tenant": "aurora", "release": "1.5.0", "purpose": "admin",
                     "expires": LATER.isoformat(), "nonce": "n"})
    assert "not for choosing" in refused(forged)


def test_a_tampered_payload_is_refused() -> None:
    good = token()
    payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["tenant"] = "birch"
    tampered = f"{b64(json.dumps(claims).encode())}.{signature}"
    assert "not valid" in refused(tampered)


@pytest.mark.parametrize("text", ["", "nodot", ".", "a.b", "é.é", "x" * 5000,
                                  signed({"tenant": "aurora"}), signed(["not", "an", "object"])])
def test_malformed_tokens_are_refused(text: str) -> None:
    assert "not valid" in refused(text)


def test_a_link_expires_at_the_slot_start_or_after_thirty_days() -> None:
    assert link_expiry(NOW, NOW + timedelta(days=3)) == NOW + timedelta(days=3)
    assert link_expiry(NOW, NOW + timedelta(seconds=30)) == NOW + timedelta(days=1)
    assert link_expiry(NOW, NOW + timedelta(days=90)) == NOW + DEFAULT_LIFETIME
    assert link_expiry(NOW, None) == NOW + DEFAULT_LIFETIME
    assert link_expiry(NOW, NOW - timedelta(days=1)) == NOW + DEFAULT_LIFETIME


def test_the_form_secret_belongs_to_its_token_and_reveals_neither() -> None:
    first, second = token(), token()
    secret = form_secret(KEY, first)
    assert form_secret_matches(KEY, first, secret)
    assert not form_secret_matches(KEY, second, secret)
    assert not form_secret_matches(KEY, first, "")
    assert first not in secret and KEY.decode() not in secret
