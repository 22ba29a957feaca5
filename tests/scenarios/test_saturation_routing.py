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

from bot.slack.ids import ActionId, BlockId, CallbackId
from runbooks.engine.loader import load_library
from sandbox.aws_seed import SeededProduction
from tests.handlers.webhooks.sns_fixtures import (
    cloudwatch_alarm_message,
    cloudwatch_math_alarm_message,
)
from tests.scenarios.actions_support import (
    ALICE,
    all_text,
    wait_for,
)
from tests.scenarios.harness import Database, SlackUser
from tests.scenarios.sns_alarms import chosen, deliver, incident_of, pinned_checklist, sns_bot

LIBRARY = load_library()
SATURATION = LIBRARY.runbooks["saturation"].title if "saturation" in LIBRARY.runbooks else "Resource saturation"
HIGH_LATENCY = LIBRARY.runbooks["high_latency"].title


@pytest.fixture
def alarm_bot(bot_factory, slack, production: SeededProduction, aws_env: str, tmp_path: Path):
    return sns_bot(bot_factory, slack, aws_env, tmp_path)


def test_saturation_alarms_get_the_saturation_checklist_and_latency_and_error_alarms_keep_theirs(
        alarm_bot, slack, http: httpx.Client, db: Database) -> None:
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
        deliver(alarm_bot, http, db, alarm)

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

    # Scale out first: the first acting (not read-only) step of the CPU checklist is a Scale button whose form is
    # prefilled with the seeds' count (desired-count 10), against moto's 4 running tasks.
    pinned = pinned_checklist(slack, db, "multimodal-api")
    action_blocks = [b for b in pinned.blocks if str(b.get("block_id", "")).startswith(BlockId.RUNBOOK_STEP.value)
                     and b.get("accessory", {}).get("type") == "button"
                     and not b["accessory"]["text"]["text"].startswith(("Diagnose", "Investigate"))]
    first = action_blocks[0]
    assert first["block_id"] == f"{BlockId.RUNBOOK_STEP.value}-scale-out"
    assert "Scale" in first["accessory"]["text"]["text"]
    alice = SlackUser(bot=alarm_bot, slack=slack, user_id=ALICE, http=http)
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
