"""What the action scenarios share: a seeded local AWS, the config that points at it, and
small looks at Slack, the database and moto from the test's side."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bot.slack.ids import ActionId
from sandbox.aws_seed import SeededProduction
from sandbox.slack_api import LocalSlackServer
from storage.models import AuditEntry, ResponseAction
from tests.inference.moto_server import moto_client
from tests.scenarios.harness import Database, SlackUser, all_text

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"  # responder and commander; approver; nobody
ONCALL_GROUP = "S0MLONCALL"

CONFIG = """
services:
  multimodal-api:
    ecs: {{cluster: multimodal-prod, service: multimodal-api, min: 2, max: 20}}
    models: [incident-text]
    flags:
      prefix: /multimodal/prod/
      names: [AUTO_APPLY_ENABLED, max_batch_size, rate_limit_rpm]
rbac:
  roles:
    responder: {{usergroups: [{group}]}}
    commander: {{users: [{alice}]}}
    approver: {{users: [{bob}]}}
  actions:
    scale: [responder, commander]
    rollback: [commander]
    flag: [responder, commander]
    stop: [commander]
  approval_required: [stop]
  approval_ttl: {ttl}
actions:
  dry_run: {dry_run}
  verify_timeout: 30s
  verify_every: 1s
  # The quick test models score about 0.84 on their golden sets; the seeds' 0.90 gate and its
  # override are tested in test_model_gate.py.
  model_accuracy_gate: 0.8
"""


def write_config(tmp_path: Path, *, ttl: str = "10m", dry_run: bool = False) -> Path:
    path = tmp_path / "actions-config.yaml"
    path.write_text(CONFIG.format(group=ONCALL_GROUP, alice=ALICE, bob=BOB, ttl=ttl,
                                  dry_run=str(dry_run).lower()))
    return path


def add_oncall_group(slack: LocalSlackServer) -> None:
    from sandbox.models import UserGroup

    slack.add_usergroup(UserGroup(id=ONCALL_GROUP, handle="ml-oncall", name="ML on-call", users=[ALICE]))


def wait_for(check: Callable[[], Any], *, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def button_values(blocks: list[dict[str, Any]] | None, action_id: ActionId) -> list[str]:
    return [e.get("value", "") for b in blocks or [] if b.get("type") == "actions"
            for e in b.get("elements", []) if e.get("action_id") == action_id.value]


def declare(user: SlackUser, slack: LocalSlackServer, db: Database, title: str = "P95 latency after deploy") -> str:
    """Declare an incident and return its channel id once the channel is set up."""
    assert user.command(f"declare P1 {title}").status_code == 200
    db.wait_outbox_drained()
    incident = db.incidents()[-1]
    assert incident.channel_id
    return str(incident.channel_id)


def propose(user: SlackUser, text: str, channel: str) -> tuple[int, dict[str, Any]]:
    """Run an action subcommand; return the proposed action's id and the ephemeral answer."""
    response = user.command(text, channel=channel)
    assert response.status_code == 200
    body = response.json()
    values = button_values(body.get("blocks"), ActionId.CONFIRM)
    assert values, f"no proposal in {body.get('text')!r}"
    return int(values[0]), body


def confirm(user: SlackUser, channel: str, action_id: int) -> httpx.Response:
    return user.click(ActionId.CONFIRM, channel=channel, message_ts="1.000001", value=str(action_id),
                      block_id="action_buttons")


def action_row(db: Database, action_id: int) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(select(ResponseAction).where(ResponseAction.id == action_id)).one()


def wait_finished(db: Database, action_id: int, timeout: float = 30.0) -> Any:
    finished = {"succeeded", "no_change", "stale", "unverified", "failed", "dry_run", "interrupted", "denied",
                "expired", "cancelled"}
    return wait_for(lambda: (row := action_row(db, action_id)).state in finished and row, timeout=timeout,
                    what=f"action {action_id} to finish")


def audit_rows(db: Database, *, actor: str | None = None) -> list[Any]:
    query = select(AuditEntry).where(AuditEntry.action.like("action.%")).order_by(AuditEntry.id)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    with db.engine.connect() as conn:
        return list(conn.execute(query).all())


def action_message(slack: LocalSlackServer, channel: str, action_id: int) -> Any:
    """The channel message that follows an action (it carries "Action #<id>")."""
    for message in slack.messages(channel):
        if f"Action #{action_id}" in all_text(message):
            return message
    return None


def desired_count(endpoint: str, seeded: SeededProduction) -> int:
    ecs = moto_client(endpoint, "ecs")
    service = ecs.describe_services(cluster=seeded.cluster, services=[seeded.service])["services"][0]
    return int(service["desiredCount"])


def parameter(endpoint: str, name: str) -> str:
    return str(moto_client(endpoint, "ssm").get_parameter(Name=name)["Parameter"]["Value"])
