"""Escalation end to end: the real app, its scheduler, the local Slack and PagerDuty servers.

``time_scale: 1800`` makes a configured half hour pass in one second, so the seeds' matrix
(on-call at once, lead at 30 min, manager at 1 h, VP at 2 h) plays out in four seconds. The
checks are on what Slack and PagerDuty received and on the stored timeline, in order; times are
only checked from below (a level never fires early), because these machines are noisy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select

from bot.config import IncidentBotConfig
from bot.slack.ids import ActionId
from sandbox.pagerduty_api import LocalPagerDutyServer
from storage.models import TimelineEvent, Timer
from tests.handlers.webhooks.sns_fixtures import (
    eventbridge_alarm_event,
    eventbridge_body,
)
from tests.scenarios.actions_support import wait_for
from tests.scenarios.harness import (
    BotServer,
    Database,
    SlackUser,
    all_text,
    bot_settings,
)
from tests.scenarios.processes import BotProcess

SCALE = 1800.0
EVENTBRIDGE_TOKEN = "eventbridge-test-token"
CONFIG = IncidentBotConfig.from_mapping({
    "channels": {"announce": "incidents", "escalations": "incident-escalations"},
    "routing": [{"match": {"alarm": "*guardduty*"}, "runbook": "security", "severity": "P1"}],
    "escalation": {
        "default": [
            {"after": "0m", "notify": {"users": ["U0ONCALL1"]}},
            {"after": "30m", "notify": {"users": ["U0MLLEAD1"]}, "routing_key": "R0LEADKEY"},
            {"after": "1h", "notify": {"users": ["U0ENGMGR1"]}},
            {"after": "2h", "notify": {"users": ["U0VPENG01"]}},
        ],
        "by_runbook": {"security": [{"after": "0m", "notify": {"usergroups": ["S0SECURTY"]}}]},
    },
    "rbac": {"roles": {"commander": {"users": ["U0ALICE"]}}},  # Alice may take command
    "time_scale": SCALE,
})


@pytest.fixture
def pagerduty() -> Iterator[LocalPagerDutyServer]:
    with LocalPagerDutyServer() as server:
        yield server


@pytest.fixture
def start_bot(slack, database_url: str, pagerduty: LocalPagerDutyServer):  # type: ignore[no-untyped-def]
    started: list[BotServer] = []

    def start(config: IncidentBotConfig = CONFIG) -> BotServer:
        settings = bot_settings(slack=slack, database_url=database_url, timer_tick_interval=0.1,
                                pagerduty_events_url=pagerduty.url, eventbridge_token=EVENTBRIDGE_TOKEN)
        server = BotServer(settings.with_config(config)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def briefs(slack, channel_id: str) -> list:  # type: ignore[no-untyped-def]
    return [m for m in slack.messages(channel_id, include_replies=False) if "You are paged" in all_text(m)]


def reminders(slack, channel_id: str) -> list:  # type: ignore[no-untyped-def]
    return [m for m in slack.messages(channel_id, include_replies=False)
            if any(e.get("action_id") == ActionId.POST_UPDATE for b in (m.blocks or []) if b["type"] == "actions"
                   for e in b["elements"])]


def escalated_events(db: Database) -> list[TimelineEvent]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "escalated")
                                 .order_by(TimelineEvent.id)).all())


def declare(user: SlackUser, db: Database, text: str = "P1 Inference p95 latency above SLO") -> str:
    assert user.command(f"declare {text}").status_code == 200
    wait_for(lambda: bool(db.incidents() and db.incidents()[-1].channel_id), what="incident channel")
    return db.incidents()[-1].channel_id


def test_an_unacknowledged_p1_escalates_level_by_level_and_managers_read_one_thread(
        start_bot, slack, db: Database, http: httpx.Client, pagerduty: LocalPagerDutyServer) -> None:
    bot = start_bot()
    alice = SlackUser(bot=bot, slack=slack, user_id="U0ALICE", http=http)
    channel = declare(alice, db)
    wait_for(lambda: len(briefs(slack, channel)) == 4, what="four levels paged")

    paged = [all_text(m) for m in briefs(slack, channel)]
    for brief, user in zip(paged, ["U0ONCALL1", "U0MLLEAD1", "U0ENGMGR1", "U0VPENG01"], strict=True):
        assert f"<@{user}>" in brief and "Inference p95 latency above SLO" in brief
    assert "Triggered" in paged[-1] and "P1" in paged[-1]
    members = slack.members(channel)
    assert {"U0ONCALL1", "U0MLLEAD1", "U0ENGMGR1", "U0VPENG01"} <= set(members)

    incident = db.incident(1)
    events = escalated_events(db)
    assert [e.data["level"] for e in events] == [0, 1, 2, 3]
    for event, after_minutes in zip(events, [0, 30, 60, 120], strict=True):
        assert event.occurred_at - incident.declared_at >= timedelta(minutes=after_minutes) / SCALE

    # Level 1 also pages through PagerDuty, with a key per incident and level.
    wait_for(lambda: len(pagerduty.events()) == 1, what="PagerDuty page")
    page = pagerduty.events()[0]
    assert page["routing_key"] == "R0LEADKEY" and page["event_action"] == "trigger"
    assert page["dedup_key"] == f"incident-bot-{incident.id}-level-1"

    assert alice.command("resolve Rolled back the deploy", channel=channel).status_code == 200
    db.wait_outbox_drained()
    parents = slack.messages("incident-escalations", include_replies=False)
    assert len(parents) == 1, "one parent message per incident"
    parent = parents[0]
    assert "Resolved" in all_text(parent) and "Inference p95 latency above SLO" in all_text(parent)
    replies = [all_text(m) for m in slack.thread_messages("incident-escalations", parent.ts) if m.ts != parent.ts]
    escalations = [r for r in replies if "Escalated" in r]
    assert [e.split("(level ")[1][0] for e in escalations] == ["1", "2", "3"]
    assert "Response time missed" in "".join(replies)
    assert "resolved" in replies[-1], "the resolution is the last reply"
    # Replies are in the order things happened.
    order = [next(i for i, r in enumerate(replies) if f"(level {n})" in r) for n in (1, 2, 3)]
    assert order == sorted(order)


def spaced_config(*afters: str) -> IncidentBotConfig:
    """The seeds' matrix with its later levels moved out, for tests that act between levels.

    At ``SCALE`` the seeds' 30 minutes are one second, which a slow machine can spend on one
    slash command; hours here leave seconds of room for the test to act before a level falls due.
    """
    users = ["U0ONCALL1", "U0MLLEAD1", "U0ENGMGR1", "U0VPENG01"]
    return IncidentBotConfig.from_mapping({
        "channels": {"announce": "incidents", "escalations": "incident-escalations"},
        "escalation": {"default": [{"after": after, "notify": {"users": [user]}}
                                   for after, user in zip(afters, users, strict=False)]},
        "time_scale": SCALE,
    })


def acknowledged_at(db: Database):  # type: ignore[no-untyped-def]
    return db.incident(1).acknowledged_at


def test_acknowledging_stops_the_escalation(start_bot, slack, db: Database, http: httpx.Client) -> None:
    bot = start_bot(spaced_config("0m", "3h", "3h30m"))
    alice = SlackUser(bot=bot, slack=slack, user_id="U0ALICE", http=http)
    channel = declare(alice, db)
    wait_for(lambda: len(briefs(slack, channel)) == 1, what="on-call paged")
    assert alice.command("ack", channel=channel).status_code == 200
    wait_for(lambda: acknowledged_at(db) is not None, what="the acknowledgement recorded")
    declared = db.incident(1).declared_at
    assert acknowledged_at(db) - declared < timedelta(hours=3) / SCALE, "acked before level 1 was due"
    time.sleep((4 * 60 * 60 / SCALE) - (time.time() - declared.timestamp()) + 0.5)  # past every level's time
    db.wait_outbox_drained()
    assert [e.data["level"] for e in escalated_events(db)] == [0]
    assert len(briefs(slack, channel)) == 1
    # Managers may hear of missed status updates, but of no escalation.
    assert not [m for m in slack.messages("incident-escalations") if "(level " in all_text(m)]


def test_a_restart_during_a_wait_still_fires_the_escalation_once(
        start_bot, slack, db: Database, http: httpx.Client) -> None:
    config = spaced_config("0m", "3h", "3h30m", "4h")
    first = start_bot(config)
    alice = SlackUser(bot=first, slack=slack, user_id="U0ALICE", http=http)
    channel = declare(alice, db)
    wait_for(lambda: len(briefs(slack, channel)) == 1, what="on-call paged")
    first.stop()
    declared = db.incident(1).declared_at
    assert time.time() - declared.timestamp() < 3 * 60 * 60 / SCALE, "the bot stopped before level 1 was due"
    time.sleep((3 * 60 * 60 / SCALE) - (time.time() - declared.timestamp()) + 0.5)  # level 1 falls due
    assert len(briefs(slack, channel)) == 1
    start_bot(config)
    wait_for(lambda: len(briefs(slack, channel)) >= 2, what="level 1 after the restart")
    wait_for(lambda: len(briefs(slack, channel)) == 4, what="the remaining levels")
    time.sleep(0.5)
    db.wait_outbox_drained()
    assert [e.data["level"] for e in escalated_events(db)] == [0, 1, 2, 3]
    assert len(briefs(slack, channel)) == 4


CONFIG_YAML = """
escalation:
  default:
    - {after: 0m, notify: {users: [U0ONCALL1]}}
    - {after: 30m, notify: {users: [U0MLLEAD1]}, routing_key: R0LEADKEY}
    - {after: 1h, notify: {users: [U0ENGMGR1]}}
    - {after: 2h, notify: {users: [U0VPENG01]}}
time_scale: 1800
"""


@pytest.mark.postgres
def test_two_bot_processes_on_one_postgres_fire_each_timer_once(
        slack, postgres_url: str, http: httpx.Client, pagerduty: LocalPagerDutyServer, tmp_path: Path) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(CONFIG_YAML)
    assert IncidentBotConfig.from_mapping(yaml.safe_load(CONFIG_YAML)).time_scale == SCALE
    replicas = [BotProcess(slack_url=slack.base_url, database_url=postgres_url, config_path=config_path,
                           log_path=tmp_path / f"replica-{n}.log", TIMER_TICK_INTERVAL="0.05",
                           PAGERDUTY_EVENTS_URL=pagerduty.url) for n in range(2)]
    db = Database(postgres_url)
    try:
        for replica in replicas:
            replica.start()
        # Declarations alternate between the replicas, as a round-robin in front of them would.
        for number, replica in enumerate(replicas * 2, start=1):
            user = SlackUser(bot=replica, slack=slack, user_id="U0ALICE", http=http)  # type: ignore[arg-type]
            assert user.command(f"declare P1 Replica storm {number}").status_code == 200
        wait_for(lambda: len(escalated_events(db)) >= 16, what="every level of every incident")
        time.sleep(1.0)
        db.wait_outbox_drained()
        keys = [(e.incident_id, e.data["level"]) for e in escalated_events(db)]
        assert len(keys) == len(set(keys)) == 16
        with db.engine.connect() as conn:
            firers = {row.fired_by for row in conn.execute(select(Timer.fired_by).where(Timer.state == "fired"))}
        assert firers and None not in firers and len(firers) <= 2  # host:pid of the replicas, nobody else
        for incident in db.incidents():
            assert len(briefs(slack, incident.channel_id)) == 4
        assert len(pagerduty.events()) == 4  # level 1 of each incident, once
    finally:
        for replica in replicas:
            replica.stop()
        db.dispose()


def test_a_security_incident_pages_security_at_once(start_bot, slack, db: Database, http: httpx.Client) -> None:
    bot = start_bot()
    event = eventbridge_alarm_event(alarm_name="prod-guardduty-unauthorized-access")
    response = http.post(f"{bot.url}/webhooks/eventbridge", content=eventbridge_body(event),
                         headers={"X-Incident-Bot-Token": EVENTBRIDGE_TOKEN, "Content-Type": "application/json"})
    assert response.status_code == 200
    wait_for(lambda: bool(db.incidents() and db.incidents()[0].channel_id), what="incident channel")
    channel = db.incidents()[0].channel_id
    wait_for(lambda: len(briefs(slack, channel)) == 1, what="security paged")
    assert "<!subteam^S0SECURTY>" in all_text(briefs(slack, channel)[0])
    assert "U0BOB" in slack.members(channel)  # the security group's member was invited
    event_row = escalated_events(db)[0]
    assert event_row.data["level"] == 0 and event_row.occurred_at - db.incident(1).declared_at < timedelta(minutes=30)


def test_reminders_come_at_the_cadence_and_stop_on_resolve(start_bot, slack, db: Database,
                                                           http: httpx.Client) -> None:
    bot = start_bot()
    alice = SlackUser(bot=bot, slack=slack, user_id="U0ALICE", http=http)
    channel = declare(alice, db)
    assert "is now commander" in alice.command("role commander <@U0ALICE>", channel=channel).json()["text"]
    assert alice.command("ack", channel=channel).status_code == 200
    wait_for(lambda: len(reminders(slack, channel)) >= 2, what="two reminders")
    texts = [all_text(m) for m in reminders(slack, channel)]
    assert "<@U0ALICE>" in texts[0] and "is due" in texts[0]
    assert "2 status updates" in texts[1] and "missed" in texts[1]
    with db.engine.connect() as conn:
        times = [row.occurred_at for row in conn.execute(
            select(TimelineEvent).where(TimelineEvent.kind == "update_reminder").order_by(TimelineEvent.id))]
    assert times[1] - times[0] >= timedelta(minutes=30) / SCALE
    # The second miss is noted for managers.
    wait_for(lambda: len(slack.messages("incident-escalations", include_replies=False)) == 1, what="thread")

    assert alice.command("resolve Fixed", channel=channel).status_code == 200
    db.wait_outbox_drained()
    seen = len(reminders(slack, channel))
    time.sleep(3 * 30 * 60 / SCALE)
    db.wait_outbox_drained()
    assert len(reminders(slack, channel)) == seen
