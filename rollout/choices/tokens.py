"""The link in a notice: a signed, expiring token good for one tenant, one release, one use.

A token is ``<payload>.<signature>``, both URL-safe base64 without padding: the payload is
the JSON of :class:`LinkClaims`, the signature its HMAC-SHA256 under the link key (see
:mod:`rollout.choices.key`). Whoever holds the link may choose for that tenant and
release only, so the claims say exactly that and the purpose (``choose``), and the
nonce lets the ledger accept each token once (:mod:`rollout.choices.book`).

A link lasts :data:`DEFAULT_LIFETIME`, or until the tenant's upgrade slot starts when that
comes sooner (but a day at least): a choice made after its slot began could no longer be
honoured anyway, and the page refuses any once the cohort has started.

Every refusal is a :class:`~rollout.choices.portal_api.TokenRefused` whose message may be
shown on the page as it is: it never repeats the token or says which part was wrong
beyond what the holder of a genuine link needs to know.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, ValidationError

from rollout.choices.portal_api import TokenRefused
from rollout.vocabulary.clock import as_utc

PURPOSE = "choose"
DEFAULT_LIFETIME = timedelta(days=30)
MIN_LIFETIME = timedelta(days=1)
"""A link is good for a day at least, even when its slot is sooner (a notice sent with no
notice period): the page closes choices once the cohort has started anyway."""
MAX_TOKEN_LENGTH = 1024
"""Longer text is refused before any decoding: a genuine token is a few hundred characters."""
MIN_KEY_BYTES = 32

NOT_VALID = "this link is not valid: open the link from your latest notice"


class LinkClaims(BaseModel):
    """What a token vouches for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str
    release: str
    purpose: str
    expires: datetime
    nonce: str


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, payload: str) -> str:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the link key must be at least {MIN_KEY_BYTES} bytes")
    return _encode(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def link_expiry(now: datetime, slot_start: datetime | None) -> datetime:
    """When a link issued at ``now`` stops working: in :data:`DEFAULT_LIFETIME`, or at the
    upgrade slot's start if that is sooner (and still ahead)."""
    latest = as_utc(now) + DEFAULT_LIFETIME
    if slot_start is None or as_utc(slot_start) <= as_utc(now):
        return latest
    return max(as_utc(now) + MIN_LIFETIME, min(latest, as_utc(slot_start)))


def issue(key: bytes, tenant: str, release: str, expires: datetime,
          nonce: str | None = None) -> str:
    """A token for ``tenant`` to choose about ``release`` until ``expires``."""
    claims = LinkClaims(tenant=tenant, release=release, purpose=PURPOSE,
                        expires=as_utc(expires), nonce=nonce or secrets.token_urlsafe(16))
    payload = _encode(json.dumps(claims.model_dump(mode="json"), sort_keys=True,
                                 separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_signature(key, payload)}"


def _signed_claims(key: bytes, text: str) -> LinkClaims:
    """The claims of a token whose signature is right; :class:`TokenRefused` otherwise."""
    if not isinstance(text, str) or not text or len(text) > MAX_TOKEN_LENGTH:
        raise TokenRefused(NOT_VALID)
    payload, dot, signature = text.strip().partition(".")
    if not dot or not payload.isascii() or not signature.isascii():
        raise TokenRefused(NOT_VALID)
    if not hmac.compare_digest(_signature(key, payload).encode(), signature.encode()):
        raise TokenRefused(NOT_VALID)
    try:
        return LinkClaims.model_validate(json.loads(_decode(payload)))
    except (binascii.Error, ValueError, ValidationError):
        raise TokenRefused(NOT_VALID) from None


def verify(key: bytes, text: str, now: datetime, *, tenant: str | None = None,
           release: str | None = None) -> LinkClaims:
    """The claims of a genuine, unexpired ``choose`` token (for ``tenant`` and ``release``
    when given); :class:`TokenRefused` with a message safe to show otherwise."""
    claims = _signed_claims(key, text)
    if claims.purpose != PURPOSE:
        raise TokenRefused("this link is not for choosing an upgrade window")
    if as_utc(now) >= as_utc(claims.expires):
        raise TokenRefused(f"this link expired on {as_utc(claims.expires):%Y-%m-%d %H:%M} UTC: "
                           "use the link of a newer notice, or write to us")
    if tenant is not None and claims.tenant != tenant:
        raise TokenRefused("this link is for another tenant")
    if release is not None and claims.release != release:
        raise TokenRefused("this link is for another release")
    return claims


def form_secret(key: bytes, token: str) -> str:
    """The value the page's form sends back (against cross-site requests): only who can
    read the page, opened with the token, can know it; it reveals neither."""
    digest = hmac.new(key, b"form-secret\x00" + token.encode("utf-8"), hashlib.sha256)
    return _encode(digest.digest())


def form_secret_matches(key: bytes, token: str, sent: str) -> bool:
    return hmac.compare_digest(form_secret(key, token).encode(), sent.encode("utf-8"))
