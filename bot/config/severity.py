"""Incident severities, P0 (most severe) to P3.

The names and timings that go with each severity come from configuration
(`bot.config.SeverityPolicy`); this module only knows the four levels and their order.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Severity"]


class Severity(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def rank(self) -> int:
        """0 for P0 up to 3 for P3: lower is more severe."""
        return int(self.value[1])

    @classmethod
    def parse(cls, value: object) -> Severity:
        """Read `P0`..`P3` in any case, with surrounding whitespace; raise ValueError otherwise."""
        if isinstance(value, Severity):
            return value
        if isinstance(value, str):
            member = cls.__members__.get(value.strip().upper())
            if member is not None:
                return member
        raise ValueError(f"unknown severity {_short_repr(value)} (expected {cls.expected()})")

    @classmethod
    def expected(cls) -> str:
        """The accepted spellings, for error messages: `P0, P1, P2, P3`."""
        return ", ".join(member.value for member in cls)


def _short_repr(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
