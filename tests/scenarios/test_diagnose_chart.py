"""The Diagnose chart of an alarm that arrived over EventBridge: its threshold is kept with the
alert and drawn as a line, and the alarm's time is marked, in a window that reaches up to now.

Real parts: the bot over HTTP, the local Slack server, moto with the latency step; the worker is
left out (the chart comes from CloudWatch, not from the worker).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from PIL import Image
from sqlalchemy import select

from runbooks.diagnostics.metric_chart import ALARM_MARK, LINE, THRESHOLD
from storage.models import Alert
from tests.bot.integrations.test_cloudwatch import METRIC, put_latency_step
from tests.handlers.webhooks.sns_fixtures import (
    eventbridge_alarm_event,
    eventbridge_body,
)
from tests.runbooks.diagnostics.test_metric_chart import (
    columns_with,
    line_row_at,
    most_common_column,
    most_common_row,
)
from tests.scenarios.actions_support import ALICE, wait_for
from tests.scenarios.harness import Database, SlackUser

TOKEN = "eventbridge-chart-token"
CONFIG = """
services:
  multimodal-api:
    models: [incident-text]
"""
STAMP = "%Y-%m-%dT%H:%M:%S.000+0000"


def test_an_eventbridge_alarms_threshold_and_time_reach_the_diagnose_chart(
        bot_factory, slack, http: httpx.Client, db: Database, aws_env: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    bot = bot_factory(config_path=str(config), aws_endpoint_url=aws_env, eventbridge_token=TOKEN,
                      worker_url="http://127.0.0.1:9")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # 0.3 s from 90 minutes ago, 1.4 s from 30 minutes ago, up to a minute ago.
    put_latency_step(aws_env, end=now, minutes=90, step_at=60)
    alarm_at = now - timedelta(minutes=20)
    event = eventbridge_alarm_event(
        alarm_name="multimodal-api-p95-latency", namespace=METRIC.namespace, metric_name=METRIC.name,
        dimensions={"ServiceName": "multimodal-api"}, threshold=1.0,
        reason="Threshold Crossed: 3 out of the last 3 datapoints were greater than the threshold (1.0).",
        state_timestamp=alarm_at.strftime(STAMP), time=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    answer = http.post(f"{bot.url}/webhooks/eventbridge", content=eventbridge_body(event),
                       headers={"X-Incident-Bot-Token": TOKEN, "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    incident = db.wait_incident_ready(1)
    with db.engine.connect() as conn:
        details = conn.execute(select(Alert.details)).scalar_one()
    assert (details["metric"]["threshold"], details["metric"]["comparison"]) == (1.0, "GreaterThanThreshold")

    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    assert alice.command("diagnose", channel=incident.channel_id).status_code == 200
    chart = wait_for(lambda: [m for m in slack.messages(incident.channel_id) if m.files], timeout=60,
                     what="the chart")[0]
    png = slack.file_content(chart.files[0]["id"])
    assert png is not None
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size[0] >= 800 and image.size[1] >= 400

    # The threshold line lies at 1.0 on the series' own scale: (1.0 - 0.3) / (1.4 - 0.3) up from 0.3.
    columns = sorted(columns_with(image, LINE))
    assert columns_with(image, THRESHOLD), "no threshold drawn"
    low, high = line_row_at(image, columns[len(columns) // 4]), line_row_at(image, columns[-5])
    assert abs((low - most_common_row(image, THRESHOLD)) / (low - high) - 0.7 / 1.1) < 0.04
    # The alarm marker is at the alarm's StateChangeTime: 70 minutes after the first of 89 minutes of data.
    assert columns_with(image, ALARM_MARK), "no alarm marker drawn"
    minute = (max(columns) - min(columns)) / 89
    assert abs((most_common_column(image, ALARM_MARK) - min(columns)) / minute - 70) < 2
