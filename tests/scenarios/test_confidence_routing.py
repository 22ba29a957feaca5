"""Seed 001's path: a confidence alarm over SNS opens the model-regression runbook with its
"disable auto-apply" step, at P0 (15 minutes to respond); a seed warning opens a P3 that pages nobody.

The real app over HTTP: CloudWatch alarms arrive as signed SNS deliveries, and the pinned checklist
is read back from the local Slack server. The config has no routing rules: the seeds' own alert
levels (``bot.core.routing.SEED_ROUTING``) decide.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.core.timers import TimerKind
from bot.slack.ids import BlockId
from runbooks.engine.loader import load_library
from sandbox.aws_seed import SeededProduction
from storage.models import Timer
from tests.handlers.webhooks.sns_fixtures import (
    cloudwatch_alarm_message,
)
from tests.scenarios.actions_support import all_text, wait_for
from tests.scenarios.harness import Database
from tests.scenarios.sns_alarms import chosen, deliver, incident_of, pinned_checklist, sns_bot

REGRESSION = load_library().runbooks["model_regression"].title


@pytest.fixture
def alarm_bot(bot_factory, slack, production: SeededProduction, aws_env: str, tmp_path: Path):
    # Everyone is paged at once by default; a P3 is the exception (no `by_severity.P3` here).
    paging = "escalation:\n  default:\n    - {after: 0m, notify: {users: [U0BOB]}}\n"
    return sns_bot(bot_factory, slack, aws_env, tmp_path, extra_config=paging)


def timer_kinds(db: Database, incident_id: int) -> set[str]:
    with db.engine.connect() as conn:
        return set(conn.scalars(select(Timer.kind).where(Timer.incident_id == incident_id)).all())


def test_a_confidence_alarm_opens_model_regression_with_disable_auto_apply_at_p0(
        alarm_bot, slack, http: httpx.Client, db: Database) -> None:
    # Seed 001: "Confidence scores consistently below 0.75".
    confidence = cloudwatch_alarm_message(
        alarm_name="ticket-classifier-confidence-low", metric_name="mean_confidence", namespace="BoltIT/Pilot",
        dimensions={"ServiceName": "multimodal-api"}, threshold=0.75, comparison="LessThanThreshold",
        description="Mean prediction confidence below 0.75", period=300,
        reason="Threshold Crossed: 1 datapoint [0.61] was less than the threshold (0.75).")
    # Seed 000's warning: "P95 latency > 600ms for 10 minutes", a Slack notification.
    warning = cloudwatch_alarm_message(alarm_name="ElevatedLatency", dimensions={"ServiceName": "scoring-engine"},
                                       threshold=0.6, description="P95 latency above 600 ms")
    deliver(alarm_bot, http, db, confidence)
    deliver(alarm_bot, http, db, warning)

    checklist = pinned_checklist(slack, db, "multimodal-api")
    text = all_text(checklist)
    assert f"Runbook: {REGRESSION}" in text and "Disable auto-apply" in text
    steps = [b for b in checklist.blocks if str(b.get("block_id", "")).startswith(BlockId.RUNBOOK_STEP.value)]
    assert any(b["block_id"] == f"{BlockId.RUNBOOK_STEP.value}-disable-auto-apply" for b in steps)
    incident = incident_of(db, "multimodal-api")
    assert incident.severity == "P0"  # seed 001's 15-minute initial response: P0's respond_within
    choice = chosen(db, incident.id)
    assert choice.runbook == "model_regression" and "matches *confidence*" in choice.reason
    wait_for(lambda: TimerKind.ESCALATE.value in timer_kinds(db, incident.id), what="the P0's escalation timers")

    notice = wait_for(lambda: (row := incident_of(db, "scoring-engine")) is not None and row.channel_id and row,
                      what="the warning's incident")
    assert notice.severity == "P3"
    assert wait_for(lambda: chosen(db, notice.id), what="the warning's runbook").runbook == "high_latency"
    wait_for(lambda: TimerKind.RESPONSE_DUE.value in timer_kinds(db, notice.id), what="the P3's timers")
    assert TimerKind.ESCALATE.value not in timer_kinds(db, notice.id)  # a notice pages nobody
