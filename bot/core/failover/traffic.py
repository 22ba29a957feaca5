"""Did the traffic move? The requests each provider served, from CloudWatch, since the switch.

The service publishes its requests (and, optionally, its failed requests) per provider, one
dimension telling them apart. The newest period after the switch decides: the target's share
of that period's requests must be within ``SHARE_TOLERANCE`` of the share asked for, or within
half of it for a small canary share (10% asks for at least 5%), and it must have served some.
The newest period, because the first one may still hold requests sent before the switch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.config.providers import TrafficMetric
from bot.core.ports.cloudwatch import MetricRef, MetricSource

SHARE_TOLERANCE = 0.1


@dataclass(frozen=True)
class TrafficReading:
    requests: dict[str, float]  # per provider, in the newest period after the switch
    at: datetime | None  # that period's start; None when no provider served anything yet

    def share(self, provider: str) -> float | None:
        total = sum(self.requests.values())
        return self.requests.get(provider, 0.0) / total if total > 0 else None

    def moved(self, provider: str, wanted_percent: int) -> bool:
        share = self.share(provider)
        wanted = wanted_percent / 100
        return (share is not None and self.requests.get(provider, 0.0) > 0
                and share >= wanted - min(SHARE_TOLERANCE, wanted / 2))

    @property
    def line(self) -> str:
        if self.at is None:
            return "no requests recorded since the switch yet"
        total = sum(self.requests.values())
        parts = ", ".join(f"{name} {count:g} ({count / total:.0%})" for name, count in self.requests.items() if count)
        return f"requests in the newest minute: {parts}"


def _ref(metric: TrafficMetric, name: str, provider: str) -> MetricRef:
    return MetricRef(metric.namespace, name, {**metric.dimensions, metric.dimension: provider}, stat="Sum",
                     period=metric.period)


async def read_traffic(metrics: MetricSource, metric: TrafficMetric, providers: Sequence[str], *,
                       since: datetime, now: datetime) -> TrafficReading:
    series = await asyncio.gather(*(metrics.series(_ref(metric, metric.name, p), start=since, end=now)
                                    for p in providers))
    stamps = [stamp for s in series for stamp, _ in s.points if stamp >= since]
    if not stamps:
        return TrafficReading(requests={}, at=None)
    newest = max(stamps)
    requests = {p: sum(value for stamp, value in s.points if stamp == newest)
                for p, s in zip(providers, series, strict=True)}
    return TrafficReading(requests=requests, at=newest)


async def error_rate(metrics: MetricSource, metric: TrafficMetric, provider: str, *, since: datetime,
                     now: datetime) -> tuple[float, float] | None:
    """(failed, total) requests of ``provider`` since ``since``; None without an errors metric."""
    if metric.errors is None:
        return None
    total, failed = await asyncio.gather(
        metrics.series(_ref(metric, metric.name, provider), start=since, end=now),
        metrics.series(_ref(metric, metric.errors, provider), start=since, end=now))
    return sum(v for _, v in failed.points), sum(v for _, v in total.points)
