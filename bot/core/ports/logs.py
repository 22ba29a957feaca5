"""What the bot reads from a log store: the events of one log group over a time window.

The investigations depend on these types; `bot.integrations.logs` implements them over
CloudWatch Logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class LogEvent:
    at: datetime
    message: str
    stream: str = ""


@dataclass(frozen=True)
class LogEvents:
    """The events found, oldest first; ``truncated`` when the read stopped at its bound."""

    events: tuple[LogEvent, ...]
    truncated: bool = False


class LogSource(Protocol):
    async def events(self, *, group: str, start: datetime, end: datetime, pattern: str | None = None,
                     limit: int = 5000) -> LogEvents:
        """At most ``limit`` events of ``group`` between ``start`` and ``end``; ``pattern`` is the
        store's own filter syntax (CloudWatch: a quoted term matches it anywhere in the line)."""
        ...
