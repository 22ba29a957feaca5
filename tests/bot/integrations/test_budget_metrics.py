"""The error budget's event counter against a real moto server: both metrics of an SLO in one
GetMetricData, summed per period, and a whole measurement of the seeded scoring engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import IncidentBotConfig
from bot.core.budget_measure import event_metrics, measure
from bot.core.budgets import Burn
from bot.core.ports.budgets import EventMetrics
from bot.core.ports.cloudwatch import MetricRef
from bot.core.ports.errors import ProviderError
from bot.integrations.budget_metrics import CloudWatchEventCounts
from sandbox.budget_seed import (
    BUDGET_NAMESPACE,
    ERRORS_METRIC,
    REQUESTS_METRIC,
    error_budget_yaml,
    fast_burn,
    seed_budget,
    slow_burn,
)
from tests.inference.moto_server import moto_client

DIMENSIONS = {"ServiceName": "scoring-api"}


def put(endpoint: str, name: str, values: list[tuple[datetime, float]]) -> None:
    moto_client(endpoint, "cloudwatch").put_metric_data(Namespace=BUDGET_NAMESPACE, MetricData=[
        {"MetricName": name, "Dimensions": [{"Name": "ServiceName", "Value": "scoring-api"}], "Timestamp": at,
         "Value": value, "Unit": "Count"} for at, value in values])


def ref(name: str) -> MetricRef:
    return MetricRef(namespace=BUDGET_NAMESPACE, name=name, dimensions=DIMENSIONS, stat="Sum")


async def test_buckets_sum_each_counter_per_period(aws_env: str) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    put(aws_env, REQUESTS_METRIC, [(start + timedelta(minutes=m, seconds=s), 50) for m in range(3) for s in (5, 35)])
    put(aws_env, ERRORS_METRIC, [(start + timedelta(minutes=1, seconds=10), 7)])
    counts = CloudWatchEventCounts(endpoint_url=aws_env, region="us-east-1")
    buckets = await counts.buckets(EventMetrics(total=ref(REQUESTS_METRIC), bad=ref(ERRORS_METRIC)),
                                   start=start, end=start + timedelta(minutes=5), period=60)
    assert [(b.start - start, b.total, b.bad) for b in buckets] == [
        (timedelta(0), 100, 0), (timedelta(minutes=1), 100, 7), (timedelta(minutes=2), 100, 0)]


async def test_good_events_count_the_failures_as_the_rest(aws_env: str) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    put(aws_env, REQUESTS_METRIC, [(start, 100), (start + timedelta(minutes=1), 100)])
    put(aws_env, "http_2xx_total", [(start, 97)])  # the second minute had no successes at all
    counts = CloudWatchEventCounts(endpoint_url=aws_env, region="us-east-1")
    buckets = await counts.buckets(EventMetrics(total=ref(REQUESTS_METRIC), good=ref("http_2xx_total")),
                                   start=start, end=start + timedelta(minutes=2), period=60)
    assert [(b.total, b.bad) for b in buckets] == [(100, 3), (100, 100)]


async def test_a_refused_read_is_a_provider_error(aws_env: str) -> None:
    counts = CloudWatchEventCounts(endpoint_url=aws_env, region="us-east-1", max_attempts=1)
    now = datetime.now(UTC)
    with pytest.raises(ProviderError):
        await counts.buckets(EventMetrics(total=ref(REQUESTS_METRIC)), start=now, end=now - timedelta(hours=1),
                             period=60)


@pytest.mark.parametrize(("profile", "burn"), [(fast_burn, Burn.FAST), (slow_burn, Burn.SLOW)])
async def test_a_measurement_of_the_seeded_month(aws_env: str, profile, burn: Burn) -> None:
    import yaml

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    seeded = seed_budget(aws_env, now=now, profile=profile)
    config = IncidentBotConfig.from_mapping(yaml.safe_load("services:\n  scoring-api:\n" + error_budget_yaml()))
    slo = config.services["scoring-api"].error_budget
    assert slo is not None and event_metrics(slo).bad == ref(ERRORS_METRIC)
    found = await measure(CloudWatchEventCounts(endpoint_url=aws_env, region="us-east-1"), service="scoring-api",
                          slo=slo, alerts=config.error_budgets, now=now)
    assert found.budget.counts.total == pytest.approx(seeded.total)
    assert found.budget.counts.bad == pytest.approx(seeded.bad)
    assert found.verdict.burn == burn
