"""CloudWatch as the error budget's event counter: both metrics of an SLO in one GetMetricData.

Each metric is read as its Sum per period, so a bucket holds how many requests there were and
how many failed (or succeeded; then the failures are total minus good). Calls run in a thread
and their errors are mapped in `bot.integrations.aws`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.core.ports.budgets import EventBucket, EventMetrics
from bot.core.ports.cloudwatch import MetricRef
from bot.integrations.aws import AwsService

MAX_PAGES = 20
_TOTAL, _BAD, _GOOD = "total", "bad", "good"


class CloudWatchEventCounts:
    """`EventCountSource` over boto3's CloudWatch client."""

    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None, client: Any = None,
                 max_attempts: int = 5) -> None:
        self._aws = AwsService("cloudwatch", endpoint_url=endpoint_url, region=region, client=client,
                               max_attempts=max_attempts)

    async def buckets(self, metrics: EventMetrics, *, start: datetime, end: datetime,
                      period: int) -> Sequence[EventBucket]:
        queries = [_query(_TOTAL, metrics.total, period)]
        if metrics.bad is not None:
            queries.append(_query(_BAD, metrics.bad, period))
        if metrics.good is not None:
            queries.append(_query(_GOOD, metrics.good, period))
        sums = await self._sums(queries, start=start, end=end, what=f"count events of {metrics.total.label}")
        return _buckets(sums)

    async def _sums(self, queries: list[dict[str, Any]], *, start: datetime, end: datetime,
                    what: str) -> dict[str, dict[datetime, float]]:
        sums: dict[str, dict[datetime, float]] = {query["Id"]: {} for query in queries}
        token: str | None = None
        for _ in range(MAX_PAGES):
            kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end,
                                      "ScanBy": "TimestampAscending"}
            if token:
                kwargs["NextToken"] = token
            body = await self._aws.call("get_metric_data", what=what, **kwargs)
            for result in body.get("MetricDataResults") or []:
                into = sums.get(str(result.get("Id")))
                if into is None:
                    continue
                for stamp, value in zip(result.get("Timestamps") or [], result.get("Values") or [], strict=False):
                    into[stamp] = into.get(stamp, 0.0) + float(value)
            token = body.get("NextToken")
            if not token:
                break
        return sums


def _query(query_id: str, metric: MetricRef, period: int) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": metric.namespace, "MetricName": metric.name,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in metric.dimensions.items()]},
            "Period": period, "Stat": "Sum",
        },
        "ReturnData": True,
    }


def _buckets(sums: dict[str, dict[datetime, float]]) -> list[EventBucket]:
    totals = sums[_TOTAL]
    bad, good = sums.get(_BAD), sums.get(_GOOD)
    buckets = []
    for stamp in sorted(set(totals) | set(bad or {}) | set(good or {})):
        total = totals.get(stamp, 0.0)
        # A period with requests but no "good" datapoint had none succeed.
        failed = bad.get(stamp, 0.0) if bad is not None else total - (good or {}).get(stamp, 0.0)
        # Counters published a moment apart can disagree by a few; never count more failures
        # than requests, nor fewer than none.
        buckets.append(EventBucket(start=stamp, total=total, bad=min(max(failed, 0.0), total)))
    return buckets
