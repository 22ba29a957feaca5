"""Seed 001's path: a confidence alarm over SNS opens the model-regression runbook with its
"disable auto-apply" step, at P0 (15 minutes to respond); a seed warning opens a P3 that pages nobody.

The real app over HTTP: CloudWatch alarms arrive as signed SNS deliveries, and the pinned checklist
is read back from the local Slack server. The config has no routing rules: the seeds' own alert
levels (``bot.core.routing.SEED_ROUTING``) decide.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.core.timers import TimerKind
from bot.slack.ids import BlockId
from runbooks.engine.loader import load_library
from sandbox.aws_seed import SeededProduction
from storage.models import Incident, IncidentRunbook, Timer
from tests.handlers.webhooks.sns_fixtures import (
    DEFAULT_TOPIC_ARN,
    cloudwatch_alarm_message,
    signed_sns_message,
    sns_body,
    write_pinned_cert,
)
from tests.scenarios.actions_support import ALICE, CONFIG, ONCALL_GROUP, add_oncall_group, all_text, wait_for
from tests.scenarios.harness import Database

REGRESSION = load_library().runbooks["model_regression"].title


@pytest.fixture
def sns_bot(bot_factory, slack, production: SeededProduction, aws_env: str, tmp_path: Path):
    add_oncall_group(slack)
    certs = tmp_path / "sns-certs"
    write_pinned_cert(certs)
    config = tmp_path / "config.yaml"
    # Everyone is paged at once by default; a P3 is the exception (no `by_severity.P3` here).
    paging = "escalation:\n  default:\n    - {after: 0m, notify: {users: [U0BOB]}}\n"
    config.write_text(CONFIG.format(group=ONCALL_GROUP, alice=ALICE, bob="U0BOB", ttl="10m", dry_run="false")
                      + paging)
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


def timer_kinds(db: Database, incident_id: int) -> set[str]:
    with db.engine.connect() as conn:
        return set(conn.scalars(select(Timer.kind).where(Timer.incident_id == incident_id)).all())


def pinned_checklist(slack, db: Database, service: str) -> Any:  # type: ignore[no-untyped-def]
    def look() -> Any:
        incident = incident_of(db, service)
        if incident is None or not incident.channel_id:
            return None
        return next((m for m in slack.pins(incident.channel_id) if "Runbook" in all_text(m)), None)

    return wait_for(look, what=f"the checklist of {service}")


def test_a_confidence_alarm_opens_model_regression_with_disable_auto_apply_at_p0(
        sns_bot, slack, http: httpx.Client, db: Database) -> None:
    # Seed 001: "Confidence scores consistently below 0.75".
    confidence = cloudwatch_alarm_message(
        alarm_name="ticket-classifier-confidence-low", metric_name="mean_confidence", namespace="BoltIT/Pilot",
        dimensions={"ServiceName": "multimodal-api"}, threshold=0.75, comparison="LessThanThreshold",
        description="Mean prediction confidence below 0.75", period=300,
        reason="Threshold Crossed: 1 datapoint [0.61] was less than the threshold (0.75).")
    # Seed 000's warning: "P95 latency > 600ms for 10 minutes", a Slack notification.
    warning = cloudwatch_alarm_message(alarm_name="ElevatedLatency", dimensions={"ServiceName": "scoring-engine"},
                                       threshold=0.6, description="P95 latency above 600 ms")
    deliver(sns_bot, http, confidence)
    deliver(sns_bot, http, warning)

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
