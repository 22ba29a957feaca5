"""What the error-budget check reads from outside: event counts per period, for a service's SLO.

A service's SLO names two CloudWatch metrics whose Sum counts events: the total, and either the
bad ones or the good ones. `bot.integrations.budget_metrics` reads both in one call and returns
aligned buckets; the arithmetic on them is `bot.core.budgets`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.core.ports.cloudwatch import MetricRef


@dataclass(frozen=True)
class EventMetrics:
    """The metric pair behind one SLO: ``total``, and ``bad`` or ``good`` (the other is derived)."""

    total: MetricRef
    bad: MetricRef | None = None
    good: MetricRef | None = None


@dataclass(frozen=True)
class EventBucket:
    """Events in one period starting at ``start``: how many there were, and how many failed."""

    start: datetime
    total: float
    bad: float


class EventCountSource(Protocol):
    async def buckets(self, metrics: EventMetrics, *, start: datetime, end: datetime,
                      period: int) -> Sequence[EventBucket]:
        """Buckets of ``period`` seconds from ``start`` to ``end``, oldest first; periods with
        no data at all are left out. Raises `bot.core.ports.errors.ProviderError`."""
        ...
