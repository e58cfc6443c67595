"""The one way a duration is written and read: ``90s``, ``5m``, ``1h``, ``250ms`` or plain seconds.

Files and options take :func:`parse_duration` (or the :data:`Duration` field type);
output says a duration back with :func:`format_duration` (as it would be typed) or
:func:`human_duration` (as a person reads a clock).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

from rollout.errors import BadInput

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str, what: str = "duration") -> float:
    """``90s``, ``5m``, ``1h``, ``250ms`` or plain seconds → seconds; bad input naming ``what``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise BadInput(f"{what} {text!r} is not a duration like 30s, 5m or 1h")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def format_duration(seconds: float) -> str:
    """Seconds as they would be typed: ``1h``, ``5m``, ``90s``."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
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
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except BadInput as exc:
            raise ValueError(str(exc)) from None
    return value


Duration = Annotated[float, BeforeValidator(_seconds)]
"""A field of seconds that a user may write as ``5m`` or as a number."""
