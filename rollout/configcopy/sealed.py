"""A setting's value that will not show itself.

Values travel through comparisons, plans, reports and, when something fails,
exceptions and tracebacks. A SecureString that slips into any of those is a
leak, so every value read from a store is wrapped in :class:`Sealed` at once:
``repr``, ``str`` and ``format`` print a placeholder, pickling is refused, and
code that really needs the plaintext (a write to the store) calls
:meth:`Sealed.reveal` right where it needs it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import NoReturn

PLACEHOLDER = "<sealed>"


def sha256_hex(value: str) -> str:
    """The sha256 of ``value`` (UTF-8), as lowercase hex."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class Sealed:
    """A string compared by hash and never printed."""

    __slots__ = ("_digest", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._digest = sha256_hex(value)

    def reveal(self) -> str:
        """The plaintext: only for the call that writes it to a store."""
        return self._value

    @property
    def sha256(self) -> str:
        return self._digest

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sealed):
            return NotImplemented
        return hmac.compare_digest(self._digest, other._digest)

    def __hash__(self) -> int:
        return hash(self._digest)

    def __repr__(self) -> str:
        return f"Sealed({PLACEHOLDER})"

    def __str__(self) -> str:
        return PLACEHOLDER

    def __format__(self, spec: str) -> str:
        return PLACEHOLDER

    def __reduce__(self) -> NoReturn:
        raise TypeError("a sealed value is never pickled")
