"""Measuring each service's error budget: read its event counts, then judge them.

Reads go through the `EventCountSource` port and happen outside any database transaction (the
budget job measures first, then claims its timer and acts in one short transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import IncidentBotConfig
from bot.config.budgets import BurnAlertsConfig, ErrorBudgetConfig, EventMetricConfig
from bot.core.budgets import (
    DIGEST_WINDOWS,
    Budget,
    BurnVerdict,
    Counts,
    burn_rate,
    count,
    judge_burn,
    plan_reads,
    recent_span,
    window_start,
)
from bot.core.ports.budgets import EventBucket, EventCountSource, EventMetrics
from bot.core.ports.cloudwatch import MetricRef
from bot.core.ports.errors import ProviderError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Measurement:
    """What one check found for one service."""

    service: str
    slo: ErrorBudgetConfig
    measured_at: datetime
    buckets: tuple[EventBucket, ...]
    budget: Budget
    verdict: BurnVerdict

    def counts(self, *, start: datetime, end: datetime) -> Counts:
        return count(self.buckets, start=start, end=end)

    def rate_over(self, window: timedelta) -> float | None:
        counts = self.counts(start=self.measured_at - window, end=self.measured_at)
        return burn_rate(counts, target=self.slo.target)

    def digest_rates(self) -> tuple[float | None, ...]:
        """The burn rates over the last hour and the last day."""
        return tuple(self.rate_over(window) for window in DIGEST_WINDOWS)


def event_metrics(slo: ErrorBudgetConfig) -> EventMetrics:
    def ref(metric: EventMetricConfig | None) -> MetricRef | None:
        if metric is None:
            return None
        return MetricRef(namespace=metric.namespace, name=metric.name, dimensions=dict(metric.dimensions), stat="Sum")

    total = ref(slo.total_events)
    assert total is not None
    return EventMetrics(total=total, bad=ref(slo.bad_events), good=ref(slo.good_events))


async def measure(source: EventCountSource, *, service: str, slo: ErrorBudgetConfig, alerts: BurnAlertsConfig,
                  now: datetime) -> Measurement:
    """Read ``service``'s counts and judge them. Raises `ProviderError` when CloudWatch fails."""
    start = window_start(now, slo.window)
    metrics = event_metrics(slo)
    buckets: list[EventBucket] = []
    for read in plan_reads(now=now, budget_start=start, recent=recent_span(alerts.fast_burn, alerts.slow_burn)):
        buckets.extend(await source.buckets(metrics, start=read.start, end=read.end, period=read.period))
    # "Now" is in the budget too: a bucket that starts this very second counts.
    budget = Budget(target=slo.target, start=start, counts=count(buckets, start=start, end=now + timedelta(seconds=1)))
    verdict = judge_burn(buckets, now=now + timedelta(seconds=1), target=slo.target, fast=alerts.fast_burn,
                         slow=alerts.slow_burn, min_events=alerts.min_events)
    return Measurement(service=service, slo=slo, measured_at=now, buckets=tuple(buckets), budget=budget,
                       verdict=verdict)


def budgeted_services(config: IncidentBotConfig) -> Mapping[str, ErrorBudgetConfig]:
    return {name: service.error_budget for name, service in config.services.items()
            if service.error_budget is not None}


async def measure_all(source: EventCountSource, *, config: IncidentBotConfig,
                      now: datetime) -> Sequence[Measurement]:
    """Every budgeted service that could be read; one that CloudWatch refuses is left out (and
    logged), so the others are still judged."""
    found = []
    for service, slo in budgeted_services(config).items():
        try:
            found.append(await measure(source, service=service, slo=slo, alerts=config.error_budgets, now=now))
        except ProviderError as exc:
            log.warning("could not read the error budget of %s: %s", service, exc)
    return found
