"""Data quality: is the model fed fresh, complete data? Seeds 002 and 004, read as a responder would.

Three sources, each optional (``data_quality:`` in the service's config names them), read at once:

- CloudWatch, per feature: its freshness (seconds since the last materialization) and its null
  rate (0 to 1), the latest datapoint of each in the window (at least the last hour).
- The feature store's health URL (seed 002: ``curl http://feast-server:6566/health``). No answer,
  a time-out or a 5xx is a feature store down, which seed 002 calls critical and its runbook
  raises to P1 (``data["suggested_severity"]``); so is a 2xx whose JSON ``"status"`` says so
  (``DOWN_WORDS``). A 4xx or a redirect elsewhere says nothing about the store: the line says
  to check ``probe_url``.
- The service's ``GET /stats`` (seed 004): the normalization context's version and age, read
  as ``runbooks.investigations.stats_page`` documents.

The verdict (``data_quality_rules``): critical when the feature store is down or a feature is more
than ``CRITICAL_AGE_FACTOR`` times its maximum age; a warning when a feature is stale, its null rate
is over the limit, it reported nothing usable in the window, or the normalization context is older
than its limit (seed 004: "< 24h old"); otherwise ok. A source that cannot be read is a line that
says why; when none can, the finding is unavailable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from bot.config.models import DataQualityConfig
from bot.core.ports.cloudwatch import MetricRef, MetricSeries
from bot.core.ports.errors import ProviderError
from bot.core.ports.http_probe import HttpProbe
from bot.core.text import truncate
from runbooks.investigations.base import Finding, InvestigationKind, Scope, unavailable
from runbooks.investigations.data_quality_report import Report, finding
from runbooks.investigations.data_quality_rules import (
    ContextState,
    FeatureReadings,
    Limits,
    Reading,
    judge_feature,
    store_health,
)
from runbooks.investigations.stats_page import StatsUnreadable, normalization_context

# Freshness metrics are often published every few minutes: read at least this far back for a point.
READ_AT_LEAST = timedelta(hours=1)
PARALLEL_READS = 8
FRESHNESS_STAT = "Maximum"
NULL_RATE_STAT = "Average"

_Read = TypeVar("_Read")


class MetricSeriesSource(Protocol):
    async def series(self, metric: MetricRef, *, start: datetime, end: datetime) -> MetricSeries: ...


class DataQualityInvestigation:
    kind = InvestigationKind.DATA_QUALITY
    timeout_s = 20.0

    def __init__(self, metrics: MetricSeriesSource, http: HttpProbe) -> None:
        self._metrics = metrics
        self._http = http

    async def run(self, scope: Scope) -> Finding:
        config = scope.service.data_quality
        if config is None:
            return unavailable(self.kind, "data quality: nothing to read configured",
                               f"Add `data_quality:` to service {scope.service_name} in the config.")
        report = Report()
        reads: list[Awaitable[None]] = []
        if config.reads_metrics:
            reads.append(self._read_features(config, scope, report))
        if config.probe_url is not None:
            reads.append(self._probe_store(config.probe_url, report))
        if config.stats_url is not None:
            reads.append(self._read_context(config.stats_url, scope.end, report))
        await asyncio.gather(*reads)
        return finding(scope, config, report)

    async def _read_features(self, config: DataQualityConfig, scope: Scope, report: Report) -> None:
        start = min(scope.start, scope.end - READ_AT_LEAST)
        gate = asyncio.Semaphore(PARALLEL_READS)
        failures: list[ProviderError] = []  # after the first, the reads still queued are skipped

        async def latest(metric: str | None, stat: str, feature: str) -> Reading | None:
            if metric is None:
                return None
            ref = MetricRef(namespace=config.namespace or "", name=metric, stat=stat,
                            dimensions={**config.dimensions, config.feature_dimension: feature})
            async with gate:
                if failures:
                    return None
                try:
                    series = await self._metrics.series(ref, start=start, end=scope.end)
                except ProviderError as exc:
                    failures.append(exc)
                    return None
            return Reading(value=series.points[-1][1], at=series.points[-1][0]) if series.points else None

        async def one(feature: str) -> FeatureReadings:
            freshness, null_rate = await asyncio.gather(latest(config.freshness_metric, FRESHNESS_STAT, feature),
                                                        latest(config.null_rate_metric, NULL_RATE_STAT, feature))
            return FeatureReadings(feature, freshness, null_rate)

        readings = await asyncio.gather(*(one(feature) for feature in config.features))
        if failures:
            said = truncate(" ".join(failures[0].message.split()), 200)
            report.metrics_problem = f"CloudWatch could not be read: {said}"
            return
        if not any(r.freshness or r.null_rate for r in readings):
            metrics = " or ".join(m for m in (config.freshness_metric, config.null_rate_metric) if m)
            report.metrics_problem = (f"CloudWatch has no {metrics} datapoint for any feature in {config.namespace} "
                                      f"since {start:%H:%M} UTC: check the namespace, metric and dimension names")
            return
        limits = Limits.of(config)
        report.features = [judge_feature(r, limits=limits, end=scope.end,
                                         reads_freshness=config.freshness_metric is not None,
                                         reads_null_rate=config.null_rate_metric is not None) for r in readings]

    async def _probe_store(self, url: str, report: Report) -> None:
        answer, error = await _answer_or_error(lambda: self._http.get(url))
        report.store = store_health(url, answer, error)

    async def _read_context(self, url: str, now: datetime, report: Report) -> None:
        answer, error = await _answer_or_error(lambda: self._http.get(url))
        if answer is None:
            report.context = ContextState(url, None, error.message if error is not None else "no answer")
        elif not answer.ok:
            report.context = ContextState(url, None, f"it answered HTTP {answer.status}")
        elif answer.truncated:
            report.context = ContextState(url, None, f"the page is larger than {len(answer.body) // 1024} KiB")
        else:
            try:
                report.context = ContextState(url, normalization_context(answer.body, now=now))
            except StatsUnreadable as exc:
                report.context = ContextState(url, None, str(exc))


async def _answer_or_error(read: Callable[[], Awaitable[_Read]]) -> tuple[_Read | None, ProviderError | None]:
    try:
        return await read(), None
    except ProviderError as exc:
        return None, exc
