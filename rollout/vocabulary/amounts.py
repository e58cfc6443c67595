"""An amount a user writes as a number or as a percentage: ``0.5`` or ``"20%"``.

The metric gate's ``max_increase`` and the judge's ``tolerance`` read the same way: a
plain number is absolute, in the metric's unit; a percentage is relative to the old
colour's value. One reader, so both say the same about what they refuse.
"""

from __future__ import annotations

import math
from typing import Any


def parse_amount(value: Any, relative_to: str) -> tuple[float, bool]:
    """``(amount, relative)``; ``ValueError`` saying what is expected (``relative_to``
    names what a percentage is a share of)."""
    relative = isinstance(value, str) and value.strip().endswith("%")
    text = value.strip().removesuffix("%") if isinstance(value, str) else value
    try:
        if isinstance(text, bool):
            raise TypeError
        amount = float(text)
    except (TypeError, ValueError):
        raise ValueError("must be a number (absolute, in the metric's unit) or a percentage "
                         f"like '20%' (of {relative_to})") from None
    if not math.isfinite(amount):
        raise ValueError(f"must be a finite number, got {value!r}")
    if amount < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return amount, relative
