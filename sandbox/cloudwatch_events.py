"""CloudWatch alarm state changes as EventBridge delivers them to an API destination.

The demo's scenarios post these to the bot's real ``POST /webhooks/eventbridge`` with the
connection's header token, as an EventBridge rule with an API destination would: the same
event shape AWS documents for "CloudWatch Alarm State Change", one delivery id per event.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from sandbox.aws_seed import MetricStep

REGION = "us-east-1"
ACCOUNT = "123456789012"
TOKEN_HEADER = "X-Incident-Bot-Token"


@dataclass(frozen=True)
class AlarmChange:
    alarm_name: str
    metric: MetricStep
    threshold: float
    comparison: str = "GreaterThanThreshold"
    state: str = "ALARM"
    previous_state: str = "OK"
    description: str = ""
    stat: str = "Average"
    period: int = 60


def alarm_event(change: AlarmChange, *, at: datetime | None = None) -> dict[str, Any]:
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
    observed = change.metric.after if change.state == "ALARM" else change.metric.before
    relation = "greater" if change.comparison.startswith("Greater") else "less"
    reason = (f"Threshold Crossed: 1 datapoint [{observed}] was {relation} than the threshold ({change.threshold})."
              if change.state == "ALARM" else f"Threshold no longer crossed: datapoint [{observed}].")
    metric = {"namespace": change.metric.namespace, "name": change.metric.name, "dimensions": change.metric.dimensions}
    detail = {
        "alarmName": change.alarm_name,
        "state": {"value": change.state, "reason": reason, "timestamp": stamp,
                  "reasonData": json.dumps({"version": "1.0", "queryDate": stamp, "threshold": change.threshold})},
        "previousState": {"value": change.previous_state, "reason": "", "timestamp": stamp},
        "configuration": {"description": change.description, "metrics": [
            {"id": "m1", "returnData": True,
             "metricStat": {"metric": metric, "period": change.period, "stat": change.stat}}]},
    }
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch", "account": ACCOUNT, "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION, "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{change.alarm_name}"],
        "detail": detail,
    }


async def deliver(http: httpx.AsyncClient, bot_url: str, token: str, event: dict[str, Any]) -> httpx.Response:
    """POST one event to the bot, as the API destination does; raises on a non-2xx answer."""
    response = await http.post(f"{bot_url.rstrip('/')}/webhooks/eventbridge", content=json.dumps(event).encode(),
                               headers={TOKEN_HEADER: token, "Content-Type": "application/json"})
    response.raise_for_status()
    return response
