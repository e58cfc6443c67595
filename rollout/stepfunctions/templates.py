"""Ledger documents with placeholders, as the ``States.Format`` call that fills them in.

The compiler knows a document's text ahead of time except for two values only the
execution knows: when it writes (:data:`NOW`, from ``$$.State.EnteredTime``) and which
event number it took (:data:`SEQ`, from ``$.ledger.seq``). A document with neither is
written as it is; one with either becomes ``{"S.$": "States.Format('…', …)"}``, its
literal text escaped as intrinsic functions require (a backslash before each of
``' { } \\``), so the stored string is the document with the values put in, byte for
byte.
"""

from __future__ import annotations

import re

NOW = "__NOW__"
"""Stands for the ISO timestamp at which the writing state was entered."""
SEQ = "__SEQ__"
"""Stands for the event's sequence number (a JSON number: the template has ``"seq": __SEQ__``)."""

NOW_PATH = "$$.State.EnteredTime"
SEQ_PATH = "$.ledger.seq"
INTRINSIC_ESCAPED = ("\\", "'", "{", "}")
"""The characters an intrinsic function's string literal must escape with a backslash."""

_SENTINELS = re.compile(f"{re.escape(NOW)}|{re.escape(SEQ)}")
_PATHS = {NOW: NOW_PATH, SEQ: SEQ_PATH}


def escape_literal(text: str) -> str:
    """``text`` as the body of an intrinsic function's single-quoted string literal."""
    for char in INTRINSIC_ESCAPED:  # the backslash first, so no escape is escaped again
        text = text.replace(char, "\\" + char)
    return text


def has_sentinels(text: str) -> bool:
    return _SENTINELS.search(text) is not None


def format_call(text: str) -> str:
    """The ``States.Format`` call producing ``text`` with each sentinel's value put in."""
    pieces = _SENTINELS.split(text)
    arguments = [_PATHS[found] for found in _SENTINELS.findall(text)]
    literal = "{}".join(escape_literal(piece) for piece in pieces)
    return f"States.Format('{literal}', {', '.join(arguments)})"


def string_value(text: str) -> dict[str, str]:
    """A DynamoDB string attribute holding ``text``, its sentinels filled in at run time."""
    return plain_or_formatted("S", text)


def plain_or_formatted(key: str, text: str) -> dict[str, str]:
    """``{key: text}``, or ``{key + ".$": States.Format(…)}`` when ``text`` has sentinels."""
    if has_sentinels(text):
        return {f"{key}.$": format_call(text)}
    return {key: text}


def filled_in(text: str, now: str, seq: int) -> str:
    """What the execution stores for ``text``: the reference a test compares against."""
    return text.replace(NOW, now).replace(SEQ, str(seq))
