"""What the security gate's output redaction hides, on the lines scanners really print."""

from __future__ import annotations

import pytest

from rollout.gates.security import REDACTED, redact

LONG_WORD = "x" * 100_000
"""A hash or base64 blob on a line of its own: it once stalled the gate for minutes."""


@pytest.mark.parametrize(("line", "shown"), [
    ("db_password=hunter2 ok", f"db_password={REDACTED} ok"),
    ("API-KEY: 'abc123'", f"API-KEY: '{REDACTED}'"),
    ("Authorization: Bearer abcdefgh12345", f"Authorization: Bearer {REDACTED}"),
    ("nothing secret here", "nothing secret here"),
])
def test_a_credential_pair_loses_its_value_and_keeps_its_name(line: str, shown: str) -> None:
    assert redact(line, environ={}) == shown


def test_one_very_long_line_is_redacted_like_a_short_one() -> None:
    line = f"{LONG_WORD} token={LONG_WORD}"
    assert redact(line, environ={}) == f"{LONG_WORD} token={REDACTED}"
    assert redact(LONG_WORD, environ={}) == LONG_WORD
