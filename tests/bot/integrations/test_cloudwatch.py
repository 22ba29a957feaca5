"""The CloudWatch provider against a real moto server: an alarm's metric and threshold, and a series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.ports.cloudwatch import MetricRef, alarm_window, window
from bot.core.ports.errors import ProviderRejected
from bot.integrations.cloudwatch import Boto3CloudWatch
from tests.inference.moto_server import moto_client

METRIC = MetricRef("Multimodal/Prod", "inference_latency_seconds", {"ServiceName": "multimodal-api"})


def put_latency_step(endpoint: str, *, end: datetime, minutes: int = 90, step_at: int = 60) -> None:
    """A flat 0.3 s latency that steps up to 1.4 s ``step_at`` minutes into the window."""
    cloudwatch = moto_client(endpoint, "cloudwatch")
    data = [{"MetricName": METRIC.name, "Dimensions": [{"Name": "ServiceName", "Value": "multimodal-api"}],
             "Timestamp": end - timedelta(minutes=minutes - i), "Value": 0.3 if i < step_at else 1.4,
             "Unit": "Seconds"} for i in range(minutes)]
    for start in range(0, len(data), 20):
        cloudwatch.put_metric_data(Namespace=METRIC.namespace, MetricData=data[start:start + 20])


def put_alarm(endpoint: str) -> None:
    moto_client(endpoint, "cloudwatch").put_metric_alarm(
        AlarmName="multimodal-prod-p95-latency", Namespace=METRIC.namespace, MetricName=METRIC.name,
        Dimensions=[{"Name": "ServiceName", "Value": "multimodal-api"}], Statistic="Average", Period=60,
        EvaluationPeriods=3, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")


async def test_an_alarm_names_its_metric_and_threshold(aws_env: str) -> None:
    put_alarm(aws_env)
    alarm = await Boto3CloudWatch(endpoint_url=aws_env, region="us-east-1").alarm("multimodal-prod-p95-latency")
    assert alarm.metric == MetricRef(METRIC.namespace, METRIC.name, {"ServiceName": "multimodal-api"}, "Average", 60)
    assert alarm.threshold == 1.0 and alarm.comparison == "GreaterThanThreshold"


async def test_an_unknown_alarm_is_a_clear_404(aws_env: str) -> None:
    with pytest.raises(ProviderRejected) as caught:
        await Boto3CloudWatch(endpoint_url=aws_env, region="us-east-1").alarm("no-such-alarm")
    assert caught.value.status == 404 and "no-such-alarm" in caught.value.message


async def test_the_series_comes_back_oldest_first_with_the_step(aws_env: str) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    put_latency_step(aws_env, end=end)
    start, stop = window(end, hours=2)
    series = await Boto3CloudWatch(endpoint_url=aws_env, region="us-east-1").series(
        METRIC, start=start, end=stop + timedelta(minutes=1))
    values = [value for _, value in series.points]
    assert len(values) == 90
    assert [stamp for stamp, _ in series.points] == sorted(stamp for stamp, _ in series.points)
    assert values[:60] == [0.3] * 60 and values[60:] == [1.4] * 30


NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("alarm_at", "start"), [
    (None, NOW - timedelta(hours=2)),
    (NOW - timedelta(minutes=10), NOW - timedelta(hours=2)),  # recent: the usual two hours
    (NOW - timedelta(hours=5), NOW - timedelta(hours=6)),  # older: from an hour before it
    (NOW - timedelta(days=3), NOW - timedelta(hours=24)),  # days old: never more than a day
    (NOW + timedelta(minutes=5), NOW - timedelta(hours=2)),  # a sender's clock ahead of ours
])
def test_the_chart_window_reaches_up_to_now_and_back_past_the_alarm(alarm_at, start) -> None:
    assert alarm_window(NOW, alarm_at) == (start, NOW)
