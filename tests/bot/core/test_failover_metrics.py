"""The failover's CloudWatch readings against moto: whether traffic moved (requests per provider
in the newest minute), a restore step's error rate, and a provider's health metric."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config.providers import ProviderConfig, ProviderHealthMetric, TrafficMetric
from bot.core.failover.health import HealthReader, ProviderState
from bot.core.failover.traffic import TrafficReading, error_rate, read_traffic
from bot.integrations.cloudwatch import Boto3CloudWatch
from tests.inference.moto_server import moto_client

METRIC = TrafficMetric(namespace="AI/Orchestrator", name="Requests", errors="Errors")
PROVIDERS = ("openai", "anthropic")


def put(endpoint: str, name: str, provider: str, points: list[tuple[datetime, float]],
        namespace: str = "AI/Orchestrator") -> None:
    moto_client(endpoint, "cloudwatch").put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": name, "Dimensions": [{"Name": "Provider", "Value": provider}], "Timestamp": at,
         "Value": value, "Unit": "Count"} for at, value in points])


def minute(now: datetime, ago: int) -> datetime:
    return now.replace(second=0, microsecond=0) - timedelta(minutes=ago)


async def test_the_newest_minute_after_the_switch_decides_whether_the_traffic_moved(aws_env: str) -> None:
    now = datetime.now(UTC)
    since = minute(now, 3)
    put(aws_env, "Requests", "openai", [(minute(now, 2), 90.0), (minute(now, 1), 2.0)])
    put(aws_env, "Requests", "anthropic", [(minute(now, 2), 10.0), (minute(now, 1), 98.0)])
    metrics = Boto3CloudWatch(endpoint_url=aws_env, region="us-east-1")

    reading = await read_traffic(metrics, METRIC, PROVIDERS, since=since, now=now)
    assert reading.requests == {"openai": 2.0, "anthropic": 98.0}
    assert reading.moved("anthropic", 100) and not reading.moved("openai", 50)
    assert "anthropic 98 (98%)" in reading.line

    nothing = await read_traffic(metrics, METRIC, PROVIDERS, since=now + timedelta(minutes=1),
                                 now=now + timedelta(minutes=2))
    assert nothing.at is None and not nothing.moved("anthropic", 100)


async def test_a_restore_steps_error_rate_counts_failed_and_total_requests(aws_env: str) -> None:
    now = datetime.now(UTC)
    put(aws_env, "Requests", "openai", [(minute(now, 1), 50.0)])
    put(aws_env, "Errors", "openai", [(minute(now, 1), 5.0)])
    metrics = Boto3CloudWatch(endpoint_url=aws_env, region="us-east-1")
    assert await error_rate(metrics, METRIC, "openai", since=minute(now, 5), now=now) == (5.0, 50.0)
    no_errors_metric = TrafficMetric(namespace="AI/Orchestrator", name="Requests")
    assert await error_rate(metrics, no_errors_metric, "openai", since=minute(now, 5), now=now) is None


async def test_a_health_metric_under_its_threshold_is_down_and_no_data_is_unknown(aws_env: str) -> None:
    now = datetime.now(UTC)
    put(aws_env, "Availability", "openai", [(minute(now, 2), 99.9), (minute(now, 1), 61.0)], namespace="AI/Providers")
    put(aws_env, "Availability", "anthropic", [(minute(now, 1), 99.95)], namespace="AI/Providers")
    reader = HealthReader(probe=None, metrics=Boto3CloudWatch(endpoint_url=aws_env, region="us-east-1"),
                          clock=lambda: now)

    def provider(name: str) -> ProviderConfig:
        return ProviderConfig(name=name, health_metric=ProviderHealthMetric(
            namespace="AI/Providers", name="Availability", dimensions={"Provider": name}, threshold=95.0))

    down = await reader.read(provider("openai"), slow_after=timedelta(seconds=1.5))
    assert down.state == ProviderState.DOWN and "61, under 95" in down.detail
    assert (await reader.read(provider("anthropic"), slow_after=timedelta(seconds=1.5))).state == ProviderState.HEALTHY
    unknown = await reader.read(provider("bedrock"), slow_after=timedelta(seconds=1.5))
    assert unknown.state == ProviderState.UNKNOWN and not unknown.state.usable


def test_a_canary_step_needs_at_least_half_of_its_share_and_a_full_switch_ninety_percent() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    trickle = TrafficReading(requests={"openai": 2.0, "anthropic": 98.0}, at=at)
    assert not trickle.moved("openai", 10), "2% is not a 10% canary"
    canary = TrafficReading(requests={"openai": 6.0, "anthropic": 94.0}, at=at)
    assert canary.moved("openai", 10) and not canary.moved("openai", 50)
    assert TrafficReading(requests={"openai": 41.0, "anthropic": 59.0}, at=at).moved("openai", 50)
    assert not TrafficReading(requests={"openai": 88.0, "anthropic": 12.0}, at=at).moved("openai", 100)
