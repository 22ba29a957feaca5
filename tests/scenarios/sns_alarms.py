"""CloudWatch alarms delivered to the real app as signed SNS notifications, and what they opened.

Shared by the routing scenarios: a bot that trusts the test's pinned SNS certificate, one
delivery that must open an incident, and the incident, chosen runbook and pinned checklist read
back from the database and the local Slack server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from sandbox.slack_api import LocalSlackServer
from storage.models import Incident, IncidentRunbook
from tests.handlers.webhooks.sns_fixtures import DEFAULT_TOPIC_ARN, signed_sns_message, sns_body, write_pinned_cert
from tests.scenarios.actions_support import ALICE, CONFIG, ONCALL_GROUP, add_oncall_group, all_text, wait_for
from tests.scenarios.harness import Database


def sns_bot(bot_factory: Callable[..., Any], slack: LocalSlackServer, aws_env: str, tmp_path: Path, *,
            extra_config: str = "") -> Any:
    """The bot with the scenarios' actions config (plus ``extra_config``), taking alarms over SNS."""
    add_oncall_group(slack)
    certs = tmp_path / "sns-certs"
    write_pinned_cert(certs)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(group=ONCALL_GROUP, alice=ALICE, bob="U0BOB", ttl="10m", dry_run="false")
                      + extra_config)
    return bot_factory(config_path=str(config), aws_endpoint_url=aws_env, sns_certs_dir=str(certs),
                       sns_topic_arns=DEFAULT_TOPIC_ARN)


def deliver(bot: Any, http: httpx.Client, db: Database, alarm: dict[str, Any]) -> None:
    """One alarm as a signed SNS notification; it must open a new incident."""
    message = signed_sns_message(message=alarm)
    response = http.post(f"{bot.url}/webhooks/cloudwatch", content=sns_body(message),
                         headers={"x-amz-sns-message-type": "Notification", "Content-Type": "text/plain"})
    assert response.status_code == 200 and response.json()["status"] == "accepted", response.text
    assert db.last_outcome()[0] == "opened"


def incident_of(db: Database, service: str) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(select(Incident).where(Incident.service == service)).one_or_none()


def chosen(db: Database, incident_id: int) -> Any:
    """The incident's runbook row: which runbook, chosen how."""
    with db.engine.connect() as conn:
        return conn.execute(select(IncidentRunbook).where(IncidentRunbook.incident_id == incident_id)).one_or_none()


def pinned_checklist(slack: LocalSlackServer, db: Database, service: str) -> Any:
    """The checklist pinned in the service's incident channel, once it is there."""
    def look() -> Any:
        incident = incident_of(db, service)
        if incident is None or not incident.channel_id:
            return None
        return next((m for m in slack.pins(incident.channel_id) if "Runbook" in all_text(m)), None)

    return wait_for(look, what=f"the checklist of {service}")
