"""CloudWatch as a provider: an alarm's metric and threshold, and a metric's recent values.

Diagnose charts the metric behind an incident's alarm; `describe_alarms` says which metric
that is and where its threshold lies, and `get_metric_data` gives the series. Calls run in a
thread and their errors are mapped in `bot.integrations.aws`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.core.ports.cloudwatch import (
    AlarmInfo,
    MetricRef,
    MetricSeries,
)
from bot.core.ports.errors import ProviderRejected
from bot.integrations.aws import AwsService

PROVIDER = "cloudwatch"
MAX_PAGES = 20


class Boto3CloudWatch:
    """`MetricSource` over boto3's CloudWatch client."""

    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None, client: Any = None,
                 max_attempts: int = 5) -> None:
        self._aws = AwsService("cloudwatch", endpoint_url=endpoint_url, region=region, client=client,
                               max_attempts=max_attempts)

    async def alarm(self, name: str) -> AlarmInfo:
        body = await self._aws.call("describe_alarms", what=f"read alarm {name}", AlarmNames=[name])
        alarms = body.get("MetricAlarms") or []
        if not alarms:
            raise ProviderRejected(f"CloudWatch has no metric alarm named {name!r}", provider=PROVIDER, status=404)
        return _alarm_info(alarms[0])

    async def series(self, metric: MetricRef, *, start: datetime, end: datetime) -> MetricSeries:
        query = {
            "Id": "m1",
            "MetricStat": {
                "Metric": {"Namespace": metric.namespace, "MetricName": metric.name,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in metric.dimensions.items()]},
                "Period": metric.period, "Stat": metric.stat,
            },
            "ReturnData": True,
        }
        points: dict[datetime, float] = {}
        token: str | None = None
        for _ in range(MAX_PAGES):
            kwargs: dict[str, Any] = {"MetricDataQueries": [query], "StartTime": start, "EndTime": end,
                                      "ScanBy": "TimestampAscending"}
            if token:
                kwargs["NextToken"] = token
            body = await self._aws.call("get_metric_data", what=f"read {metric.label}", **kwargs)
            for result in body.get("MetricDataResults") or []:
                for stamp, value in zip(result.get("Timestamps") or [], result.get("Values") or [], strict=False):
                    points[stamp] = float(value)
            token = body.get("NextToken")
            if not token:
                break
        return MetricSeries(metric=metric, points=tuple(sorted(points.items())))


    async def publish(self, *, namespace: str, name: str, value: float, dimensions: dict[str, str]) -> None:
        """One data point, now (Diagnose publishes ``drift_score`` so an alarm can watch it)."""
        await self._aws.call("put_metric_data", what=f"publish {namespace} {name}", Namespace=namespace,
                             MetricData=[{"MetricName": name, "Value": float(value),
                                          "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]}])


def _alarm_info(raw: Mapping[str, Any]) -> AlarmInfo:
    dimensions = {str(d.get("Name")): str(d.get("Value")) for d in raw.get("Dimensions") or []}
    metric = MetricRef(
        namespace=str(raw.get("Namespace") or ""), name=str(raw.get("MetricName") or ""), dimensions=dimensions,
        stat=str(raw.get("Statistic") or raw.get("ExtendedStatistic") or "Average"),
        period=int(raw.get("Period") or 60),
    )
    threshold = raw.get("Threshold")
    return AlarmInfo(
        name=str(raw.get("AlarmName") or ""), metric=metric,
        threshold=float(threshold) if threshold is not None else None,
        comparison=str(raw.get("ComparisonOperator") or ""), state=str(raw.get("StateValue") or ""),
        state_changed_at=raw.get("StateUpdatedTimestamp"),
    )


