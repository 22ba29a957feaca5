"""Security incidents end to end (seeds 002, 003): signed Slack requests to the real app, the local
Slack server, and a moto server holding the leaked key, the secret and the evidence bucket.

A security incident gets a private channel with only its responders, a neutral line in
#incidents and in the managers' thread, evidence copied to S3 with SHA-256 hashes that the
timeline's manifest names, and two-person secret rotation and key deactivation verified
against moto.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.slack.ids import ActionId, BlockId
from handlers.slack.context import WORKING_ON_IT
from sandbox.aws_seed import SeededSecurity, seed_security
from sandbox.models import User, UserGroup
from storage.models import AuditEntry, RunbookStep, TimelineEvent
from tests.handlers.webhooks.sns_fixtures import eventbridge_alarm_event, eventbridge_body
from tests.inference.moto_server import moto_client
from tests.scenarios.actions_support import (
    action_message,
    action_row,
    button_values,
    confirm,
    propose,
    wait_finished,
    wait_for,
)
from tests.scenarios.harness import Database, SlackUser, all_text

ALICE, BOB, CAROL, DAVE = "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"  # security responders; approver; nobody
ONCALL, COMPLIANCE = "U0ONCALL", "U0COMPLY"
SECURITY_GROUP = "S0SECURITY"
TITLE = "Leaked AWS key ci-deployer found on a public paste site"
LOG_GROUP = "/aws/ecs/multimodal-prod"
EVENTBRIDGE_TOKEN = "security-scenario-token"

CONFIG = f"""
channels: {{announce: incidents, escalations: incident-escalations}}
oncall: {{users: [{ONCALL}]}}
services:
  multimodal-api:
    ecs: {{cluster: multimodal-prod, service: multimodal-api, min: 2, max: 20}}
    flags: {{prefix: /multimodal/prod/, names: [AUTO_APPLY_ENABLED]}}
    logs: {{group: {LOG_GROUP}}}
escalation:
  default: [{{after: 0m, notify: {{users: [{ONCALL}]}}}}]
  by_runbook:
    security:
      - {{after: 0m, notify: {{usergroups: [{SECURITY_GROUP}]}}}}
rbac:
  roles:
    responder: {{usergroups: [{SECURITY_GROUP}]}}
    commander: {{users: [{ALICE}]}}
    approver: {{users: [{BOB}]}}
  actions:
    security: [responder, commander]
    evidence: [responder, commander]
security:
  responders: {{usergroups: [{SECURITY_GROUP}]}}
  compliance: {{users: [{COMPLIANCE}]}}  # a level of its own after the security ladder
  evidence: {{bucket: incident-evidence}}
  rotatable_secrets: ["prod/scoring/*"]
  deactivatable_key_users: [ci-deployer]
actions:
  verify_timeout: 30s
  verify_every: 1s
"""


@pytest.fixture
def security_bot(bot_factory, slack, production, aws_env, tmp_path: Path):
    for user_id in (DAVE, ONCALL, COMPLIANCE):
        slack.add_user(User(id=user_id, name=user_id.lower()))
    slack.add_usergroup(UserGroup(id=SECURITY_GROUP, handle="security", name="Security", users=[ALICE, DAVE]))
    config = tmp_path / "security-config.yaml"
    config.write_text(CONFIG)
    return bot_factory(config_path=str(config), aws_endpoint_url=aws_env)


@pytest.fixture
def seeded(aws_env: str) -> SeededSecurity:
    seeded = seed_security(aws_env)
    logs = moto_client(aws_env, "logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="api/1")
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    logs.put_log_events(logGroupName=LOG_GROUP, logStreamName="api/1", logEvents=[
        {"timestamp": now_ms - 60_000, "message": '{"level":"ERROR","msg":"SECURITY unexpected key use"}'}])
    return seeded


def person(bot, slack, http, user_id: str) -> SlackUser:
    return SlackUser(bot=bot, slack=slack, user_id=user_id, http=http)


def declare_security(user: SlackUser, db: Database) -> str:
    assert user.command(f"declare security P1 {TITLE}").status_code == 200
    incident = db.wait_incident_ready(1)
    return str(incident.channel_id)


def public_text(slack) -> str:
    """Everything the bot wrote where people outside the private channel read."""
    texts = [all_text(m) for name in ("incidents", "incident-escalations")
             if slack.channel_by_name(name) is not None for m in slack.messages(name)]
    return "\n".join(texts)


def test_a_security_incident_is_private_and_announced_without_its_title(security_bot, slack, http,
                                                                         db: Database) -> None:
    alice = person(security_bot, slack, http, ALICE)
    channel = declare_security(alice, db)

    created = slack.calls("conversations.create")
    assert len(created) == 1 and created[0].params.get("is_private") in (True, "true", "1")
    name = created[0].params.get("name", "")
    assert "leaked" not in name and "confidential" in name
    wait_for(lambda: COMPLIANCE in slack.members(channel), what="the compliance officer's page")
    members = set(slack.members(channel))
    assert {ALICE, DAVE, COMPLIANCE} <= members  # the responders, the declarer, the compliance level
    assert ONCALL not in members  # the general on-call is not brought in

    db.wait_outbox_drained()
    wait_for(lambda: slack.messages("incidents"), what="the announcement")
    announced = public_text(slack)
    assert "confidential incident" in announced.lower()
    for secret_word in ("Leaked", "ci-deployer", "paste", "P1"):
        assert secret_word not in announced
    assert TITLE in all_text(slack.pins(channel)[0])  # the responders see it in their own channel

    listing = person(security_bot, slack, http, CAROL).command("list").json()
    assert "Leaked" not in json.dumps(listing) and "Confidential incident" in json.dumps(listing)


def test_a_try_cut_off_after_slack_made_the_private_channel_adopts_it(security_bot, slack, http,
                                                                      db: Database) -> None:
    # The private channel is found again among those the bot is a member of, not opened twice.
    alice = person(security_bot, slack, http, ALICE)
    channel = declare_security(alice, db)
    first = db.incident(1)
    db.provision_again_as_if_cut_off(first.id)
    db.wait_outbox_drained()
    again = db.incident(1)
    assert again.channel_id == channel and again.channel_name == first.channel_name
    created = [c for c in slack.calls("conversations.create") if c.ok]
    assert len(created) == 1, [c.params["name"] for c in slack.calls("conversations.create")]


def test_a_security_alarm_opens_a_confidential_incident_from_its_first_write(bot_factory, slack, http,
                                                                            db: Database, tmp_path: Path) -> None:
    """Routed to the security runbook at ingest, so its channel is private from the start and its
    alarm's name never reaches #incidents, even before the runbook's checklist is chosen."""
    slack.add_usergroup(UserGroup(id=SECURITY_GROUP, handle="security", name="Security", users=[ALICE]))
    slack.add_user(User(id=ONCALL, name="oncall"))
    config = tmp_path / "security-config.yaml"
    config.write_text(CONFIG)
    bot = bot_factory(config_path=str(config), eventbridge_token=EVENTBRIDGE_TOKEN)
    event = eventbridge_alarm_event(alarm_name="prod-guardduty-unauthorized-access",
                                    description="GuardDuty: unauthorized API calls with key ci-deployer")
    response = http.post(f"{bot.url}/webhooks/eventbridge", content=eventbridge_body(event),
                         headers={"X-Incident-Bot-Token": EVENTBRIDGE_TOKEN, "Content-Type": "application/json"})
    assert response.status_code == 200
    incident = db.wait_incident_ready(1)
    assert incident.runbook_class == "security"
    [created] = slack.calls("conversations.create")
    assert created.params.get("is_private") in (True, "true", "1") and "guardduty" not in created.params["name"]
    wait_for(lambda: slack.messages("incidents"), what="the announcement")
    for public in ("guardduty", "GuardDuty", "unauthorized", "ci-deployer"):
        assert public not in public_text(slack)
    assert ONCALL not in slack.members(str(incident.channel_id))
    assert ALICE in slack.members(str(incident.channel_id))


def test_evidence_goes_to_s3_with_the_hashes_the_timeline_records(security_bot, slack, http, db: Database,
                                                                  seeded: SeededSecurity, aws_env) -> None:
    alice, carol = person(security_bot, slack, http, ALICE), person(security_bot, slack, http, CAROL)
    channel = declare_security(alice, db)

    refused = carol.command("evidence multimodal-api", channel=channel).json()
    assert "🔒" in refused["text"]

    answer = _answer(alice, alice.command("evidence multimodal-api", channel=channel))
    assert "Evidence preserved" in answer, answer
    with db.engine.connect() as conn:
        [event] = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "evidence_preserved")).all()
        audits = conn.execute(select(AuditEntry).where(AuditEntry.action == "evidence.preserve")
                              .order_by(AuditEntry.id)).all()
    assert [(row.actor, row.outcome) for row in audits] == [(CAROL, "denied"), (ALICE, "ok")]
    manifest = event.data
    assert {o["source"] for o in manifest["objects"]} == {"incident", "audit", "logs", "ecs", "parameters"}
    s3 = moto_client(aws_env, "s3")
    for entry in manifest["objects"]:
        body = s3.get_object(Bucket="incident-evidence", Key=entry["key"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"] and len(body) == entry["size"]
        assert entry["key"].startswith("incident-evidence/incident-1/")
    stored = s3.get_object(Bucket="incident-evidence", Key=manifest["manifest_key"])["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == manifest["manifest_sha256"]
    logs = _object(s3, manifest, "logs")
    assert any("SECURITY unexpected key use" in e["message"] for e in logs["events"])
    assert _object(s3, manifest, "ecs")["services"][0]["serviceName"] == "multimodal-api"
    wait_for(lambda: manifest["manifest_sha256"] in "\n".join(all_text(m) for m in slack.messages(channel)),
             what="the manifest posted in the channel")  # the manifest is posted to the responders


def test_the_runbooks_evidence_step_preserves_and_ticks_itself(security_bot, slack, http, db: Database,
                                                               seeded: SeededSecurity) -> None:
    alice = person(security_bot, slack, http, ALICE)
    channel = declare_security(alice, db)
    pinned = wait_for(lambda: next((m for m in slack.pins(channel) if BlockId.RUNBOOK_STEP.value in json.dumps(
        m.blocks or [])), None), what="the security checklist")
    block_id = f"{BlockId.RUNBOOK_STEP.value}-preserve-evidence"
    button = next(b for b in pinned.blocks if b.get("block_id") == block_id)["accessory"]
    assert button["type"] == "button" and "Preserve evidence" in button["text"]["text"]
    unknown = _answer(alice, alice.command("evidence no-such-service", channel=channel))
    assert "isn't a configured service" in unknown and "multimodal-api" in unknown

    alice.click(ActionId.RUNBOOK_STEP, channel=channel, message_ts=pinned.ts, value="preserve-evidence",
                block_id=block_id)
    done = wait_for(lambda: _step_state(db, "preserve-evidence") == "done", what="the step ticked")
    assert done
    with db.engine.connect() as conn:
        [event] = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "evidence_preserved")).all()
    # Declared in Slack with no service: the incident's own record only, and why the rest was not copied.
    assert {o["source"] for o in event.data["objects"]} == {"incident", "audit"}
    assert set(event.data["skipped"]) == {"logs", "ecs", "parameters"}


def test_key_deactivation_needs_a_second_person_and_verifies_against_iam(security_bot, slack, http, db: Database,
                                                                         seeded: SeededSecurity, aws_env) -> None:
    events: list[httpx.Request] = []
    recording = httpx.Client(timeout=10, event_hooks={"request": [events.append]})
    alice, carol = person(security_bot, slack, http, ALICE), person(security_bot, slack, http, CAROL)
    bob = person(security_bot, slack, recording, BOB)
    channel = declare_security(alice, db)
    command = f"deactivate-key {seeded.key_user} {seeded.leaked_key_id}"

    refused = carol.command(command, channel=channel).json()
    assert "🔒" in refused["text"] and "Confirm" not in json.dumps(refused.get("blocks") or [])
    own = alice.command(f"deactivate-key {seeded.key_user} AKIA0000000000000000", channel=channel).json()
    assert "no access key" in own["text"]
    other = alice.command(f"deactivate-key admin {seeded.leaked_key_id}", channel=channel).json()
    assert "not a user whose keys" in other["text"]

    action_id, answer = propose(alice, command, channel)
    assert "Active → Inactive" in all_text(answer)
    confirm(alice, channel, action_id)
    wait_for(lambda: action_row(db, action_id).state == "awaiting_approval", what="approval request")
    db.wait_outbox_drained()
    request = action_message(slack, channel, action_id)
    assert button_values(request.blocks, ActionId.APPROVE) == [str(action_id)]
    alice.click(ActionId.APPROVE, channel=channel, message_ts=request.ts, value=str(action_id),
                block_id="action_buttons")
    assert "can't approve your own" in wait_for(lambda: alice.responses(), what="self-approval refusal")[-1]["text"]
    assert _key_status(aws_env, seeded) == "Active"

    bob.click(ActionId.APPROVE, channel=channel, message_ts=request.ts, value=str(action_id),
              block_id="action_buttons")
    row = wait_finished(db, action_id)
    assert row.state == "succeeded" and row.decided_by == BOB
    assert _key_status(aws_env, seeded) == "Inactive"
    assert "lists as Inactive" in row.result.get("message", "") or "Inactive" in json.dumps(row.result)

    # The same signed approval delivered again changes nothing more.
    approval = events[-1]
    replayed = recording.post(str(approval.url), content=approval.content, headers=dict(approval.headers))
    assert replayed.status_code < 500
    with db.engine.connect() as conn:
        approved = conn.execute(select(AuditEntry).where(AuditEntry.outcome == "approved")).all()
    assert len(approved) == 1
    assert _key_status(aws_env, seeded) == "Inactive"
    recording.close()


def test_secret_rotation_needs_a_second_person_and_makes_one_new_version(security_bot, slack, http, db: Database,
                                                                         seeded: SeededSecurity, aws_env) -> None:
    alice, bob = person(security_bot, slack, http, ALICE), person(security_bot, slack, http, BOB)
    channel = declare_security(alice, db)
    secrets = moto_client(aws_env, "secretsmanager")
    before = _current_version(secrets, seeded.secret_name)

    outside = alice.command("rotate-secret prod/payments/db-password", channel=channel).json()
    assert "not a secret the bot may rotate" in outside["text"]

    action_id, answer = propose(alice, f"rotate-secret {seeded.secret_name}", channel)
    assert "AWSCURRENT" in all_text(answer)
    confirm(alice, channel, action_id)
    wait_for(lambda: action_row(db, action_id).state == "awaiting_approval", what="approval request")
    assert _current_version(secrets, seeded.secret_name) == before
    db.wait_outbox_drained()
    request = action_message(slack, channel, action_id)
    bob.click(ActionId.APPROVE, channel=channel, message_ts=request.ts, value=str(action_id),
              block_id="action_buttons")
    row = wait_finished(db, action_id)
    assert row.state == "succeeded", row.result
    after = _current_version(secrets, seeded.secret_name)
    assert after != before
    value = secrets.get_secret_value(SecretId=seeded.secret_name)["SecretString"]
    assert value != seeded.secret_value
    stages = secrets.describe_secret(SecretId=seeded.secret_name)["VersionIdsToStages"]
    assert "AWSPREVIOUS" in stages[before]
    # A second click on Approve rotates nothing.
    assert bob.click(ActionId.APPROVE, channel=channel, message_ts=request.ts, value=str(action_id),
                     block_id="action_buttons").status_code == 200
    db.wait_outbox_drained()
    assert wait_finished(db, action_id).state == "succeeded"
    assert _current_version(secrets, seeded.secret_name) == after
    assert len(secrets.list_secret_version_ids(SecretId=seeded.secret_name)["Versions"]) == 2
    assert seeded.secret_value not in json.dumps(row.result) and value not in json.dumps(row.result)


def _answer(user: SlackUser, response: httpx.Response) -> str:
    """The command's answer: in the ack, or through the response_url when the work took longer."""
    text = str(response.json().get("text", ""))
    if not text.startswith(WORKING_ON_IT):
        return text
    return str(wait_for(lambda: user.responses(), what="the evidence answer", timeout=30)[-1]["text"])


def _object(s3: Any, manifest: dict[str, Any], source: str) -> Any:
    [entry] = [o for o in manifest["objects"] if o["source"] == source]
    return json.loads(s3.get_object(Bucket="incident-evidence", Key=entry["key"])["Body"].read())


def _step_state(db: Database, step_id: str) -> str | None:
    with db.engine.connect() as conn:
        return conn.scalar(select(RunbookStep.state).where(RunbookStep.step_id == step_id))


def _key_status(endpoint: str, seeded: SeededSecurity) -> str:
    keys = moto_client(endpoint, "iam").list_access_keys(UserName=seeded.key_user)["AccessKeyMetadata"]
    return next(k["Status"] for k in keys if k["AccessKeyId"] == seeded.leaked_key_id)


def _current_version(secrets: Any, name: str) -> str:
    stages = secrets.describe_secret(SecretId=name)["VersionIdsToStages"]
    return next(v for v, names in stages.items() if "AWSCURRENT" in names)
