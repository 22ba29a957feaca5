"""The normalization context in a service's ``GET /stats`` page (seed 004): its version and age.

Seed 004 reads "normalization context age" and "version" from ``GET /stats`` and keeps the
context under 24 hours old. The page is the service's own JSON object; these fields are read
and everything else in it is ignored:

- ``normalization_context``: an object with
  - ``version``: a string or a number;
  - ``age_seconds``: a number of seconds, or else
  - ``updated_at`` (or ``created_at``): an ISO 8601 time (with ``Z`` or an offset; without one it
    is read as UTC) or Unix epoch seconds;
- or, flat at the top level: ``normalization_context_age_seconds`` or ``context_age_seconds``,
  and ``normalization_context_version`` or ``context_version``.

An age the service computed itself (``age_seconds``) wins over a time, as it needs no agreement
between the two hosts' clocks. Anything else (not JSON, not an object, a time that cannot be
read or lies in the future, a negative age) is ``StatsUnreadable`` with a message that says
what was wrong, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.json_values import finite_number
from bot.core.text import clean_text

NESTED = "normalization_context"
AGE_FIELDS = ("normalization_context_age_seconds", "context_age_seconds")
VERSION_FIELDS = ("normalization_context_version", "context_version")
TIME_FIELDS = ("updated_at", "created_at")
EXPECTED = ("normalization_context.age_seconds, normalization_context.updated_at or "
            "context_age_seconds")
# A clock a little ahead of ours is not worth an error; further ahead, the time cannot be trusted.
CLOCK_SLACK = timedelta(minutes=5)
# Past this an age is not one (about 30 years): a unit mix-up, such as milliseconds.
LONGEST_AGE = timedelta(days=10_000)


class StatsUnreadable(ValueError):
    """The page gave no usable normalization context; the message says why."""


@dataclass(frozen=True)
class NormalizationContext:
    version: str | None
    age: timedelta
    updated_at: datetime | None  # when the page gave a time


def normalization_context(body: bytes, *, now: datetime) -> NormalizationContext:
    page = _json_object(body)
    nested = page.get(NESTED)
    if nested is not None and not isinstance(nested, Mapping):
        raise StatsUnreadable(f"{NESTED} is not an object")
    fields: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {}
    version = _version(fields.get("version"), *(page.get(name) for name in VERSION_FIELDS))
    age_value = fields.get("age_seconds")
    age_name = f"{NESTED}.age_seconds"
    if age_value is None:
        age_name, age_value = next(((name, page[name]) for name in AGE_FIELDS if page.get(name) is not None),
                                   (age_name, None))
    if age_value is not None:
        return NormalizationContext(version=version, age=_age(age_name, age_value), updated_at=None)
    time_name, time_value = next(((name, fields[name]) for name in TIME_FIELDS if fields.get(name) is not None),
                                 ("", None))
    if time_value is None:
        raise StatsUnreadable(f"the page names no normalization context age (expected {EXPECTED})")
    updated_at = _time(f"{NESTED}.{time_name}", time_value)
    if updated_at > now + CLOCK_SLACK:
        raise StatsUnreadable(f"{NESTED}.{time_name} {updated_at:%Y-%m-%d %H:%M} UTC is in the future: "
                              "check the service's clock")
    return NormalizationContext(version=version, age=max(now - updated_at, timedelta(0)), updated_at=updated_at)


def _json_object(body: bytes) -> Mapping[str, Any]:
    try:
        page = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StatsUnreadable("the page is not JSON") from None
    if not isinstance(page, Mapping):
        raise StatsUnreadable("the page is JSON but not an object")
    return page


def _version(*candidates: object) -> str | None:
    for value in candidates:
        if isinstance(value, str) and value.strip():
            return clean_text(value, limit=64)
        number = finite_number(value)
        if number is not None:
            return str(value) if isinstance(value, int) else f"{number:g}"
    return None



def _age(name: str, value: object) -> timedelta:
    seconds = finite_number(value)
    if seconds is None:
        raise StatsUnreadable(f"{name} is not a number of seconds")
    if seconds < 0:
        raise StatsUnreadable(f"{name} is negative")
    if seconds > LONGEST_AGE.total_seconds():
        raise StatsUnreadable(f"{name} is more than {LONGEST_AGE.days:,} days: is it in seconds?")
    return timedelta(seconds=seconds)


def _time(name: str, value: object) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        epoch = finite_number(value)
        if epoch is None or not 0 <= epoch < 1e11:  # 1e11 s is the year 5138: milliseconds, likely
            raise StatsUnreadable(f"{name} is not Unix epoch seconds")
        return datetime.fromtimestamp(epoch, UTC)
    if not isinstance(value, str):
        raise StatsUnreadable(f"{name} is not a time")
    try:
        parsed = datetime.fromisoformat(value.strip()[:64].replace("Z", "+00:00").replace("z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise StatsUnreadable(f"{name} is not an ISO 8601 time") from None
