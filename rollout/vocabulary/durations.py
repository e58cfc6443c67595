"""The one way a duration is written and read: ``250ms``, ``90s``, ``5m``, ``1h``, ``2d``, ``1w``.

A bare number is seconds. Options take :func:`parse_duration`; files take the
:data:`Duration` field type (seconds) or :data:`Span` (a :class:`~datetime.timedelta`,
for schedules, where days and weeks matter). Output says a duration back with
:func:`format_duration` (as it would be typed) or :func:`human_duration` (as a
person reads a clock).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from rollout.errors import BadInput

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0,
                 "w": 604800.0, None: 1.0}
_WHOLE_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60))


def duration_problem(text: object) -> str | None:
    """Why ``text`` is not a duration, or ``None`` when it is one."""
    if isinstance(text, str) and _DURATION.match(text.strip()):
        return None
    return f"{text!r} is not a duration like 30s, 5m, 1h or 2d"


def parse_duration(text: str, what: str = "duration") -> float:
    """``text`` in seconds; :class:`BadInput` naming ``what`` (an option, a field) if not."""
    problem = duration_problem(text)
    if problem is not None:
        raise BadInput(f"{what} {problem}")
    match = _DURATION.match(text.strip())
    assert match is not None
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def format_duration(seconds: float) -> str:
    """Seconds as they would be typed, in the largest whole unit: ``1w``, ``2d``, ``90s``."""
    for unit, size in _WHOLE_UNITS:
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def human_duration(seconds: float) -> str:
    """``45 s``, ``3 min``, ``2 h 5 min``: rounded down, as a person reads a clock."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _seconds(value: Any) -> Any:
    """A field's text as seconds; pydantic puts the field's name before the problem."""
    if isinstance(value, bool):
        raise ValueError(duration_problem(value))
    if isinstance(value, int | float):
        return value
    problem = duration_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return parse_duration(value)


def _span(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    return timedelta(seconds=_seconds(value if isinstance(value, str) else str(value)))


def format_span(span: timedelta) -> str:
    """A span as it would be typed: ``2d``, ``90m``."""
    return format_duration(span.total_seconds())


Duration = Annotated[float, BeforeValidator(_seconds)]
"""A field of seconds that a user may write as ``5m`` or as a number."""

Span = Annotated[timedelta, BeforeValidator(_span),
                 PlainSerializer(format_span, return_type=str)]
"""A field of time a user writes as ``30m``, ``12h``, ``2d`` or ``1w``; said back the same way."""
