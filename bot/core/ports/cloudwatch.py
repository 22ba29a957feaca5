"""What the bot reads from CloudWatch: an alarm's metric and threshold, and a metric's values.

The core and the runbooks depend on these types; `bot.integrations.cloudwatch` implements them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True)
class MetricRef:
    namespace: str
    name: str
    dimensions: Mapping[str, str] = field(default_factory=dict)
    stat: str = "Average"
    period: int = 60  # seconds

    @property
    def label(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in sorted(self.dimensions.items()))
        return f"{self.namespace} {self.name}" + (f" ({dims})" if dims else "")


@dataclass(frozen=True)
class AlarmInfo:
    name: str
    metric: MetricRef
    threshold: float | None
    comparison: str  # e.g. GreaterThanThreshold
    state: str  # OK / ALARM / INSUFFICIENT_DATA
    state_changed_at: datetime | None


@dataclass(frozen=True)
class MetricSeries:
    metric: MetricRef
    points: tuple[tuple[datetime, float], ...]  # oldest first

    @property
    def empty(self) -> bool:
        return not self.points


class MetricSource(Protocol):
    async def alarm(self, name: str) -> AlarmInfo: ...

    async def series(self, metric: MetricRef, *, start: datetime, end: datetime) -> MetricSeries: ...


def window(end: datetime, *, hours: float = 2.0) -> tuple[datetime, datetime]:
    """The seeds look at the last hour or two around an alarm."""
    return end - timedelta(hours=hours), end


def alarm_window(now: datetime, alarm_at: datetime | None, *, hours: float = 2.0,
                 before_alarm: timedelta = timedelta(hours=1),
                 longest: timedelta = timedelta(hours=24)) -> tuple[datetime, datetime]:
    """The last ``hours`` up to now, reaching back to an hour before an older alarm.

    Up to now, so what happened after the alarm is in the picture too; never longer than
    ``longest``, so a days-old alarm does not ask CloudWatch for days of minute data.
    """
    start, end = window(now, hours=hours)
    if alarm_at is not None and alarm_at - before_alarm < start:
        start = max(alarm_at - before_alarm, now - longest)
    return start, end
