"""Reading numbers out of JSON that someone else wrote.

A JSON number can arrive as a bool (``true`` is an ``int`` in Python), as NaN or an infinity
(Python's parser accepts them), or as an integer too large for a float; none of them is a
usable measurement.
"""

from __future__ import annotations

import math


def finite_number(value: object) -> float | None:
    """A JSON number as a float; None for anything else, NaN, infinities and ints past a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
