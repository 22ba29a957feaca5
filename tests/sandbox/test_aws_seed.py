"""The demo's AWS stand-in: the metrics it seeds cover the alarms that the scenarios raise later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sandbox.aws_seed import LATENCY_AFTER_DEPLOY, seed_metrics
from tests.inference.moto_server import moto_client


def latency_points(endpoint: str, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    metric = {"Namespace": LATENCY_AFTER_DEPLOY.namespace, "MetricName": LATENCY_AFTER_DEPLOY.name,
              "Dimensions": [{"Name": k, "Value": v} for k, v in LATENCY_AFTER_DEPLOY.dimensions.items()]}
    answer = moto_client(endpoint, "cloudwatch").get_metric_data(
        MetricDataQueries=[{"Id": "m1", "ReturnData": True,
                            "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Average"}}],
        StartTime=start, EndTime=end, ScanBy="TimestampAscending")["MetricDataResults"][0]
    return list(zip(answer["Timestamps"], answer["Values"], strict=True))


def test_a_scenario_run_later_finds_the_metric_up_to_its_alarm_and_after_it(moto_endpoint: str) -> None:
    """The stack seeds once, at start; a person clicks a scenario minutes or hours later."""
    started = datetime.now(UTC).replace(second=0, microsecond=0)
    seed_metrics(moto_endpoint, now=started)
    alarm_at = started + timedelta(hours=3)
    after = latency_points(moto_endpoint, alarm_at, alarm_at + timedelta(minutes=30))
    assert len(after) >= 29, "no data after the alarm: the chart would stop before it"
    assert all(value > 1.0 for _, value in after)  # still breaching the 1 s threshold
    before = latency_points(moto_endpoint, started - timedelta(hours=2), started - timedelta(minutes=45))
    assert before and all(value < 1.0 for _, value in before)  # the step itself stays in the past
