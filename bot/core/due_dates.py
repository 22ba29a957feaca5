"""Due dates as people type them: 2026-12-24, today, tomorrow, 3d, 2w, +5d, friday."""

from __future__ import annotations

import re
from datetime import date, timedelta

_RELATIVE = re.compile(r"^\+?(\d{1,3})([dw])$")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Further out than this is a typo, not a plan.
LATEST = timedelta(days=3650)


class DueDateError(ValueError):
    """The text looks like a due date but is not one that can be kept."""


def parse_due(token: str, *, today: date) -> date | None:
    """The date ``token`` names, or None if it doesn't look like a due date at all."""
    word = token.strip().lower().removeprefix("due:").removeprefix("by:")
    if not word:
        return None
    if word == "today":
        return today
    if word == "tomorrow":
        return today + timedelta(days=1)
    if word in _WEEKDAYS or (word[:3] in {d[:3] for d in _WEEKDAYS} and len(word) == 3):
        wanted = next(i for i, d in enumerate(_WEEKDAYS) if d.startswith(word[:3]))
        ahead = (wanted - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    relative = _RELATIVE.match(word)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return _checked(today + timedelta(days=amount * (7 if unit == "w" else 1)), today=today)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", word):
        try:
            return _checked(date.fromisoformat(word), today=today)
        except ValueError as exc:
            raise DueDateError(f"`{token[:20]}` is not a date in the calendar.") from exc
    return None


def _checked(due: date, *, today: date) -> date:
    if due - today > LATEST:
        raise DueDateError(f"{due.isoformat()} is more than ten years away.")
    return due
