"""Saturation alarms get the saturation checklist, not "High latency" (issue 18, defect 7).

The real app over HTTP: CloudWatch alarms arrive as signed SNS deliveries, each for its own
service so each opens its own incident, and the pinned checklist in each channel is read back
from the local Slack server. A CPU alarm used to get the high-latency checklist because that
runbook claimed the `CPUUtilization` metric; the seeds scale out first on high CPU or memory
(seed 000 "If CPU/Memory high: scale up immediately", seed 004 "Scale horizontally if
CPU-bound"), which is what the saturation runbook does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.slack.ids import ActionId, BlockId, CallbackId
from runbooks.engine.loader import load_library
from sandbox.aws_seed import SeededProduction
from storage.models import Incident, IncidentRunbook
from tests.handlers.webhooks.sns_fixtures import (
    DEFAULT_TOPIC_ARN,
    cloudwatch_alarm_message,
    cloudwatch_math_alarm_message,
    signed_sns_message,
    sns_body,
    write_pinned_cert,
)
from tests.scenarios.actions_support import (
    ALICE,
    CONFIG,
    ONCALL_GROUP,
    add_oncall_group,
    all_text,
    wait_for,
)
from tests.scenarios.harness import Database, SlackUser

LIBRARY = load_library()
SATURATION = LIBRARY.runbooks["saturation"].title if "saturation" in LIBRARY.runbooks else "Resource saturation"
HIGH_LATENCY = LIBRARY.runbooks["high_latency"].title


@pytest.fixture
def sns_bot(bot_factory, slack, production: SeededProduction, aws_env: str, tmp_path: Path):
    add_oncall_group(slack)
    certs = tmp_path / "sns-certs"
    write_pinned_cert(certs)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(group=ONCALL_GROUP, alice=ALICE, bob="U0BOB", ttl="10m", dry_run="false"))
    return bot_factory(config_path=str(config), aws_endpoint_url=aws_env, sns_certs_dir=str(certs),
                       sns_topic_arns=DEFAULT_TOPIC_ARN)


def deliver(bot, http: httpx.Client, alarm: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    message = signed_sns_message(message=alarm)
    response = http.post(f"{bot.url}/webhooks/cloudwatch", content=sns_body(message),
                         headers={"x-amz-sns-message-type": "Notification", "Content-Type": "text/plain"})
    assert response.status_code == 200 and response.json()["status"] == "opened", response.text


def incident_of(db: Database, service: str) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(select(Incident).where(Incident.service == service)).one_or_none()


def chosen(db: Database, incident_id: int) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(select(IncidentRunbook).where(IncidentRunbook.incident_id == incident_id)).one_or_none()


def pinned_checklist(slack, db: Database, service: str) -> Any:  # type: ignore[no-untyped-def]
    """The checklist pinned in the service's incident channel, once it is there."""
    def look() -> Any:
        incident = incident_of(db, service)
        if incident is None or not incident.channel_id:
            return None
        return next((m for m in slack.pins(incident.channel_id) if "Runbook" in all_text(m)), None)

    return wait_for(look, what=f"the checklist of {service}")


def test_saturation_alarms_get_the_saturation_checklist_and_latency_and_error_alarms_keep_theirs(
        sns_bot, slack, http: httpx.Client, db: Database) -> None:
    cpu = cloudwatch_alarm_message(
        alarm_name="multimodal-api-cpu-high", metric_name="CPUUtilization", namespace="AWS/ECS",
        dimensions={"ClusterName": "multimodal-prod", "ServiceName": "multimodal-api"}, threshold=70.0,
        description="CPU above 70% average over 5 minutes", period=300,
        reason="Threshold Crossed: 1 datapoint [93.5] was greater than the threshold (70.0).")
    # Seed 004's own alert name, on ECS's memory metric.
    memory = cloudwatch_alarm_message(
        alarm_name="HighMemoryUsage", metric_name="MemoryUtilization", namespace="AWS/ECS",
        dimensions={"ServiceName": "scoring-engine"}, threshold=80.0, description="Memory usage above threshold")
    latency = cloudwatch_alarm_message(alarm_name="ticket-classifier-p95-latency",
                                       dimensions={"ServiceName": "ticket-classifier"})
    # A 5XX error-rate alarm whose metric math reads RequestCount first: the rate is what alarms,
    # so its name decides, not the request count it divides by.
    errors = cloudwatch_math_alarm_message(
        alarm_name="orchestrator-5XX-error-rate", dimensions={"ServiceName": "ai-orchestrator"},
        metrics=[{"Id": "e1", "Expression": "100 * errors / requests", "Label": "5XX rate", "ReturnData": True},
                 _query("requests", "RequestCount", "ai-orchestrator"),
                 _query("errors", "HTTPCode_Target_5XX_Count", "ai-orchestrator")])
    for alarm in (cpu, memory, latency, errors):
        deliver(sns_bot, http, alarm)

    cpu_checklist = all_text(pinned_checklist(slack, db, "multimodal-api"))
    assert f"Runbook: {SATURATION}" in cpu_checklist
    assert HIGH_LATENCY not in cpu_checklist
    cpu_incident = incident_of(db, "multimodal-api")
    assert chosen(db, cpu_incident.id).runbook == "saturation"
    assert "metric CPUUtilization" in chosen(db, cpu_incident.id).reason

    assert f"Runbook: {SATURATION}" in all_text(pinned_checklist(slack, db, "scoring-engine"))
    assert chosen(db, incident_of(db, "scoring-engine").id).runbook == "saturation"

    assert f"Runbook: {HIGH_LATENCY}" in all_text(pinned_checklist(slack, db, "ticket-classifier"))
    assert chosen(db, incident_of(db, "ticket-classifier").id).runbook == "high_latency"

    error_checklist = all_text(pinned_checklist(slack, db, "ai-orchestrator"))
    assert f"Runbook: {LIBRARY.runbooks['high_error_rate'].title}" in error_checklist
    assert chosen(db, incident_of(db, "ai-orchestrator").id).runbook == "high_error_rate"

    # Scale out first: the first action of the CPU checklist is a Scale button whose form is
    # prefilled with the seeds' count (desired-count 10), against moto's 4 running tasks.
    pinned = pinned_checklist(slack, db, "multimodal-api")
    action_blocks = [b for b in pinned.blocks if str(b.get("block_id", "")).startswith(BlockId.RUNBOOK_STEP.value)
                     and b.get("accessory", {}).get("type") == "button"
                     and b["accessory"]["text"]["text"] != "Diagnose"]
    first = action_blocks[0]
    assert first["block_id"] == f"{BlockId.RUNBOOK_STEP.value}-scale-out"
    assert "Scale" in first["accessory"]["text"]["text"]
    alice = SlackUser(bot=sns_bot, slack=slack, user_id=ALICE, http=http)
    alice.click(ActionId.RUNBOOK_STEP, channel=cpu_incident.channel_id, message_ts=pinned.ts, value="scale-out",
                block_id=first["block_id"])
    form = wait_for(lambda: [v for v in slack.views() if v.get("callback_id") == CallbackId.SCALE_MODAL
                             and v.get("submit")], what="the filled Scale form")[-1]
    count_input = next(b for b in form["blocks"] if b.get("block_id") == BlockId.SCALE_COUNT)["element"]
    assert count_input["initial_value"] == "10"


def _query(query_id: str, metric_name: str, service: str) -> dict[str, Any]:
    return {"Id": query_id, "ReturnData": False, "Label": metric_name,
            "MetricStat": {"Metric": {"Dimensions": [{"name": "ServiceName", "value": service}],
                                      "MetricName": metric_name, "Namespace": "AWS/ApplicationELB"},
                           "Period": 60, "Stat": "Sum"}}
