"""Seeds moto's CloudWatch with the scoring engine's request counts, for its error budget (seed 004).

Two counters, as the SLO in the config names them: every request, and the ones that failed
(5xx). A point a minute for the recent hours and one an hour back to the 1st of the month, so
the budget check reads minute buckets where the burn windows are and hourly ones before.
The error rate is a profile: the share of requests that fail, by how long ago.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from sandbox.aws_seed import DUMMY_CREDENTIALS, SCORING_SERVICE

BUDGET_NAMESPACE = "Scoring/Prod"
REQUESTS_METRIC = "http_requests_total"
ERRORS_METRIC = "http_5xx_total"
BUDGET_DIMENSIONS = {"ServiceName": SCORING_SERVICE}
TARGET = 0.999  # seed 004: 99.9% availability, 0.1% of requests the monthly budget
REQUESTS_PER_MINUTE = 1200
MINUTE_POINTS_FOR = timedelta(hours=7)

# How long ago -> the share of requests that failed then.
ErrorProfile = Callable[[timedelta], float]


def quiet(_ago: timedelta) -> float:
    return 0.0003  # 0.3x: a month on pace


def fast_burn(ago: timedelta) -> float:
    """Seed 004's fast burn: 2.5% of requests failing for the last 50 minutes, 25x the budget's pace."""
    return 0.025 if ago <= timedelta(minutes=50) else quiet(ago)


def slow_burn(ago: timedelta) -> float:
    """A slow burn: 0.3% failing for the last six and a half hours, 3x (over 2x, under 10x)."""
    return 0.003 if ago <= timedelta(hours=6, minutes=30) else quiet(ago)


@dataclass(frozen=True)
class BudgetSeed:
    total: float
    bad: float


def _point(name: str, at: datetime, value: float) -> dict[str, Any]:
    return {"MetricName": name, "Timestamp": at, "Value": value, "Unit": "Count",
            "Dimensions": [{"Name": k, "Value": v} for k, v in BUDGET_DIMENSIONS.items()]}


def budget_points(now: datetime, profile: ErrorProfile) -> Iterator[tuple[datetime, float, float]]:
    """(when, requests, failures): hourly from the 1st of the month, then a point a minute until now."""
    now = now.astimezone(UTC).replace(second=0, microsecond=0)
    month_start = now.replace(day=1, hour=0, minute=0)
    recent_start = (now - MINUTE_POINTS_FOR).replace(minute=0)
    hour = month_start
    while hour < recent_start:
        ago = now - hour
        yield hour, REQUESTS_PER_MINUTE * 60.0, round(REQUESTS_PER_MINUTE * 60 * profile(ago))
        hour += timedelta(hours=1)
    minute = max(recent_start, month_start)
    while minute < now:
        yield minute, float(REQUESTS_PER_MINUTE), round(REQUESTS_PER_MINUTE * profile(now - minute))
        minute += timedelta(minutes=1)


def seed_budget(endpoint_url: str, *, now: datetime, profile: ErrorProfile = fast_burn,
                region: str = "us-east-1") -> BudgetSeed:
    """Put the counters on CloudWatch; returns what was put, for a test to check the figures."""
    cloudwatch = boto3.client("cloudwatch", endpoint_url=endpoint_url, region_name=region, **DUMMY_CREDENTIALS)
    points: list[dict[str, Any]] = []
    total = bad = 0.0
    for at, requests, failures in budget_points(now, profile):
        points.append(_point(REQUESTS_METRIC, at, requests))
        points.append(_point(ERRORS_METRIC, at, failures))
        total, bad = total + requests, bad + failures
    for start in range(0, len(points), 500):
        cloudwatch.put_metric_data(Namespace=BUDGET_NAMESPACE, MetricData=points[start:start + 500])
    return BudgetSeed(total=total, bad=bad)


def error_budget_yaml(*, indent: str = "    ", channel: str | None = None) -> str:
    """The scoring engine's ``error_budget`` block, as the demo and the tests configure it."""
    dimensions = ", ".join(f"{k}: {v}" for k, v in BUDGET_DIMENSIONS.items())
    lines = [
        "error_budget:",
        f"  target: {TARGET}",
        "  window: month",
        f"  total_events: {{namespace: {BUDGET_NAMESPACE}, name: {REQUESTS_METRIC}, dimensions: {{{dimensions}}}}}",
        f"  bad_events: {{namespace: {BUDGET_NAMESPACE}, name: {ERRORS_METRIC}, dimensions: {{{dimensions}}}}}",
    ]
    if channel:
        lines.append(f"  channel: {channel}")
    return "\n".join(indent + line for line in lines) + "\n"
