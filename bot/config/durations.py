"""Durations as people write them in configuration and commands: `30s`, `15m`, `1h30m`, `2d`.

`parse_duration` is strict on purpose: a duration in the config decides when someone gets paged,
so an ambiguous spelling (`1.5h`, `90`, `30M`, `-5m`) is an error rather than a guess.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["ACCEPTED_DURATIONS", "format_duration", "parse_duration"]

ACCEPTED_DURATIONS = (
    "whole numbers with a unit s, m, h or d (ms below a second), largest unit first, "
    "e.g. 30s, 15m, 1h, 2d, 1h30m or 1500ms"
)

# Largest first: the order they must appear in, and the order `format_duration` writes them.
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
# What a duration may be written in, in milliseconds: the seconds' units and `ms`, for the few
# thresholds under a second or between two (seed 003's 1.5 s is `1500ms`).
_UNIT_MILLISECONDS = {**{unit: size * 1000 for unit, size in _UNIT_SECONDS.items()}, "ms": 1}
_PART = re.compile(r"([0-9]+)\s*([A-Za-z]+)\s*", re.ASCII)
_BARE_NUMBER = re.compile(r"[0-9]+", re.ASCII)
# More digits than this cannot fit in a timedelta whatever the unit; checking the length first
# keeps int() away from absurdly long digit strings.
_MAX_DIGITS = 15


def parse_duration(text: str) -> timedelta:
    """Parse `30s`, `15m`, `1h`, `2d`, `0m`, `90s`, `1h30m` or `1h 30m` into a timedelta.

    Raises ValueError, naming what is accepted, for anything else.
    """
    if not isinstance(text, str):
        raise TypeError(f"duration must be a string, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise _invalid(text, "it is empty")
    if stripped.startswith("-"):
        raise _invalid(text, "it is negative")
    milliseconds = 0
    previous_unit: str | None = None
    position = 0
    while position < len(stripped):
        match = _PART.match(stripped, position)
        if match is None:
            raise _invalid(text, _unparsable(stripped[position:]))
        digits, unit = match.groups()
        _check_unit(text, unit, previous_unit)
        if len(digits) > _MAX_DIGITS:
            raise _invalid(text, "it is too large")
        milliseconds += int(digits) * _UNIT_MILLISECONDS[unit]
        previous_unit = unit
        position = match.end()
    try:
        return timedelta(milliseconds=milliseconds)
    except OverflowError:
        raise _invalid(text, "it is too large") from None


def format_duration(duration: timedelta, *, max_units: int | None = 2) -> str:
    """Write a duration compactly: `45s`, `14m`, `1h 5m`, `2d 3h`.

    Sub-second parts are dropped. `max_units` keeps that many units counted from the largest
    non-zero one (so `1d 0h 5m` shows as `1d` with the default 2); `None` keeps them all, and
    then `parse_duration` reads the result back exactly.
    """
    microseconds = (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds
    remaining = abs(microseconds) // 1_000_000
    sign = "-" if microseconds < 0 and remaining else ""
    amounts = []
    for unit, size in _UNIT_SECONDS.items():
        amount, remaining = divmod(remaining, size)
        amounts.append((amount, unit))
    first = next((index for index, (amount, _) in enumerate(amounts) if amount), None)
    if first is None:
        return "0s"
    shown = amounts[first:] if max_units is None else amounts[first:first + max(max_units, 1)]
    return sign + " ".join(f"{amount}{unit}" for amount, unit in shown if amount)


def _unparsable(rest: str) -> str:
    if _BARE_NUMBER.fullmatch(rest):
        return f"{rest[:10]!r} has no unit"
    return f"unexpected {rest[:10]!r}"


def _check_unit(text: str, unit: str, previous_unit: str | None) -> None:
    if unit not in _UNIT_MILLISECONDS:
        raise _invalid(text, f"unknown unit {unit[:10]!r}")
    if previous_unit is not None:
        units = list(_UNIT_MILLISECONDS)
        if units.index(unit) <= units.index(previous_unit):
            raise _invalid(text, f"unit {unit!r} is repeated or out of order")


def _invalid(text: str, reason: str) -> ValueError:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return ValueError(f"invalid duration {shown!r}: {reason}; expected {ACCEPTED_DURATIONS}")
