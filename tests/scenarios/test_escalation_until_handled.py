"""Escalation until the incident is handled, end to end over HTTP (seeds 000, 001, 002, 004).

An alarm comes in through the EventBridge webhook; the real app's scheduler fires the timers
with ``time_scale: 1800`` (a configured half hour is one second). The checks are on what the
local Slack and PagerDuty servers received and on the stored timeline; times are only checked
from below (nothing fires early), since these machines are noisy.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.config import IncidentBotConfig
from sandbox.pagerduty_api import DEFAULT_TOKEN, LocalPagerDutyServer
from storage.models import TimelineEvent, Timer
from tests.handlers.webhooks.sns_fixtures import eventbridge_alarm_event, eventbridge_body
from tests.scenarios.actions_support import wait_for
from tests.scenarios.harness import BotServer, Database, SlackUser, all_text, bot_settings

SCALE = 1800.0
EVENTBRIDGE_TOKEN = "eventbridge-test-token"


def config_with(**keys: Any) -> IncidentBotConfig:
    return IncidentBotConfig.from_mapping({
        "channels": {"announce": "incidents", "escalations": "incident-escalations"},
        "routing": [{"match": {"alarm": "*latency*"}, "runbook": "high_latency", "severity": "P1"}],
        "time_scale": SCALE,
        **keys,
    })


@pytest.fixture
def pagerduty() -> Iterator[LocalPagerDutyServer]:
    with LocalPagerDutyServer() as server:
        yield server


@pytest.fixture
def start_bot(slack, database_url: str, pagerduty: LocalPagerDutyServer):  # type: ignore[no-untyped-def]
    started: list[BotServer] = []

    def start(config: IncidentBotConfig) -> BotServer:
        settings = bot_settings(slack=slack, database_url=database_url, timer_tick_interval=0.1,
                                pagerduty_events_url=pagerduty.url, pagerduty_api_url=pagerduty.url,
                                pagerduty_api_token=DEFAULT_TOKEN, eventbridge_token=EVENTBRIDGE_TOKEN)
        server = BotServer(settings.with_config(config)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def alarm_in(bot: BotServer, http: httpx.Client, db: Database) -> str:
    """A p95 latency alarm through the EventBridge webhook; returns the incident's channel."""
    event = eventbridge_alarm_event(alarm_name="prod-scoring-p95-latency")
    response = http.post(f"{bot.url}/webhooks/eventbridge", content=eventbridge_body(event),
                         headers={"X-Incident-Bot-Token": EVENTBRIDGE_TOKEN, "Content-Type": "application/json"})
    assert response.status_code == 200
    wait_for(lambda: bool(db.incidents() and db.incidents()[0].channel_id), what="incident channel")
    return db.incidents()[0].channel_id


def briefs(slack, channel_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [all_text(m) for m in slack.messages(channel_id, include_replies=False) if "You are paged" in all_text(m)]


def events(db: Database, kind: str) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(TimelineEvent).where(TimelineEvent.kind == kind)
                                 .order_by(TimelineEvent.id)).all())


def timer_states(db: Database, kind: str) -> list[str]:
    with db.engine.connect() as conn:
        return [row.state for row in conn.execute(select(Timer).where(Timer.kind == kind))]


def test_a_level_until_resolved_fires_after_the_ack_and_a_missed_mitigation_is_said(
        start_bot, slack, db: Database, http: httpx.Client) -> None:
    bot = start_bot(config_with(
        severities={"P1": {"update_every": "24h", "mitigate_within": "2h", "resolve_within": "12h"}},
        escalation={"default": [
            {"after": "0m", "notify": {"users": ["U0ONCALL1"]}},
            {"after": "3h", "notify": {"users": ["U0ENGMGR1"]}},  # until acknowledged: the ack stops it
            {"after": "3h30m", "notify": {"users": ["U0VPENG01"]}, "until": "resolved"},  # seed 002
        ]},
    ))
    alice = SlackUser(bot=bot, slack=slack, user_id="U0ALICE", http=http)
    channel = alarm_in(bot, http, db)
    wait_for(lambda: len(briefs(slack, channel)) == 1, what="on-call paged")
    assert alice.command("ack", channel=channel).status_code == 200
    wait_for(lambda: db.incident(1).acknowledged_at is not None, what="the acknowledgement")
    declared = db.incident(1).declared_at
    assert db.incident(1).acknowledged_at - declared < timedelta(hours=2) / SCALE, "acked before any deadline"

    # Seed 004: not mitigated within the deadline is said in the channel and to managers.
    wait_for(lambda: events(db, "deadline_missed"), what="the missed mitigation deadline")
    missed = events(db, "deadline_missed")[0]
    assert missed.data["deadline"] == "mitigate" and missed.occurred_at - declared >= timedelta(hours=2) / SCALE
    wait_for(lambda: any("Deadline missed" in all_text(m) and "Not mitigated within 2h" in all_text(m)
                         for m in slack.messages(channel)), what="the deadline in the channel")
    wait_for(lambda: any("Not mitigated within 2h" in all_text(m) for m in slack.messages("incident-escalations")),
             what="the deadline in the managers' thread")

    # The acknowledged incident still pages the `until: resolved` level, and only that one.
    wait_for(lambda: len(briefs(slack, channel)) == 2, what="the VP paged after the ack")
    assert "<@U0VPENG01>" in briefs(slack, channel)[1] and "not resolved after" in briefs(slack, channel)[1]
    paged = events(db, "escalated")
    assert [e.data["level"] for e in paged] == [0, 2]
    assert paged[1].occurred_at - declared >= timedelta(hours=3, minutes=30) / SCALE
    assert "U0VPENG01" in slack.members(channel) and "U0ENGMGR1" not in slack.members(channel)

    # Reaching the status stops what waits on it: no resolution deadline after the resolve.
    assert timer_states(db, "resolve_due").count("pending") == 1  # each plan replaces the one before
    assert alice.command("resolve Rolled back the model", channel=channel).status_code == 200
    wait_for(lambda: "pending" not in timer_states(db, "resolve_due"), what="the resolution deadline cancelled")
    assert "fired" not in timer_states(db, "resolve_due")
    db.wait_outbox_drained()
    assert [e.data["deadline"] for e in events(db, "deadline_missed")] == ["mitigate"]


def test_mitigating_in_time_means_no_missed_deadline(start_bot, slack, db: Database, http: httpx.Client) -> None:
    bot = start_bot(config_with(
        severities={"P1": {"update_every": "24h", "mitigate_within": "3h", "resolve_within": "12h"}},
        escalation={"default": [{"after": "0m", "notify": {"users": ["U0ONCALL1"]}}]},
    ))
    alice = SlackUser(bot=bot, slack=slack, user_id="U0ALICE", http=http)
    channel = alarm_in(bot, http, db)
    wait_for(lambda: "pending" in timer_states(db, "mitigate_due"), what="the mitigation deadline planned")
    assert alice.command("ack", channel=channel).status_code == 200
    assert alice.command("mitigate Scaled out to 10 tasks", channel=channel).status_code == 200
    wait_for(lambda: db.incident(1).status == "mitigated", what="mitigated")
    assert db.incident(1).mitigated_at - db.incident(1).declared_at < timedelta(hours=3) / SCALE
    wait_for(lambda: "pending" not in timer_states(db, "mitigate_due"), what="the mitigation deadline cancelled")
    assert "fired" not in timer_states(db, "mitigate_due")
    assert "pending" in timer_states(db, "resolve_due"), "the resolution is still owed"
    assert not events(db, "deadline_missed")


def test_a_schedule_level_pages_whoever_pagerduty_has_on_call(
        start_bot, slack, db: Database, http: httpx.Client, pagerduty: LocalPagerDutyServer) -> None:
    pagerduty.set_oncall("PMLLEAD1", ("Maya Lead", "ml-lead@example.com"))
    pagerduty.set_oncall("PGHOST01", ("Gone Person", "gone@example.com"))  # no such Slack user
    pagerduty.set_oncall("PNOBODY1")
    bot = start_bot(config_with(escalation={"default": [
        {"after": "0m", "notify": {"users": ["U0ONCALL1"], "schedules": ["PMLLEAD1", "PNOBODY1", "PGHOST01"]}},
    ]}))
    channel = alarm_in(bot, http, db)
    wait_for(lambda: briefs(slack, channel), what="the level paged")
    brief = briefs(slack, channel)[0]
    assert "<@U0ONCALL1>" in brief and "<@U0MLLEAD1>" in brief, "PagerDuty's on-call, found by email"
    assert "U0MLLEAD1" in slack.members(channel)
    assert "Nobody is on call in PagerDuty schedule PNOBODY1" in brief
    assert "PGHOST01" in brief and "gone@example.com" in brief
    calls = pagerduty.calls("/oncalls", "GET")
    assert len(calls) == 3 and all(c.headers["authorization"] == f"Token token={DEFAULT_TOKEN}" for c in calls)
    assert {c.response["oncalls"][0]["schedule"]["id"] for c in calls if c.response["oncalls"]} == {
        "PMLLEAD1", "PGHOST01"}
    assert events(db, "escalated")[0].data["schedules"] == ["PMLLEAD1", "PNOBODY1", "PGHOST01"]


def test_pagerduty_down_does_not_stop_the_rest_of_the_level(
        start_bot, slack, db: Database, http: httpx.Client, pagerduty: LocalPagerDutyServer) -> None:
    pagerduty.set_oncall("PMLLEAD1", ("Maya Lead", "ml-lead@example.com"))
    pagerduty.faults.add("/oncalls", status=503)
    bot = start_bot(config_with(escalation={"default": [
        {"after": "0m", "notify": {"users": ["U0ONCALL1"], "schedules": ["PMLLEAD1"]}},
    ]}))
    channel = alarm_in(bot, http, db)
    wait_for(lambda: briefs(slack, channel), what="the level paged")
    brief = briefs(slack, channel)[0]
    assert "<@U0ONCALL1>" in brief and "<@U0MLLEAD1>" not in brief
    assert "Could not ask PagerDuty who is on call in schedule PMLLEAD1" in brief and "503" in brief
    db.wait_outbox_drained()
    assert len(briefs(slack, channel)) == 1, "one brief, not a retry per failed lookup"


def test_the_backup_on_call_is_paged_when_the_primary_does_not_acknowledge(
        start_bot, slack, db: Database, http: httpx.Client) -> None:
    bot = start_bot(config_with(
        oncall={"users": ["U0ONCALL1"], "backup": {"users": ["U0BOB"]}, "backup_after": "1h"},
        escalation={"default": [{"after": "0m", "notify": {"users": ["U0ONCALL1"]}}]},
    ))
    channel = alarm_in(bot, http, db)
    wait_for(lambda: len(briefs(slack, channel)) == 2, what="the backup paged")
    backup = events(db, "escalated")[1]
    assert backup.data["backup"] is True and backup.data["users"] == ["U0BOB"]
    assert backup.occurred_at - db.incident(1).declared_at >= timedelta(hours=1) / SCALE
    assert "<@U0BOB>" in briefs(slack, channel)[1] and "backup on-call" in briefs(slack, channel)[1]
    assert "U0BOB" in slack.members(channel)


def test_acknowledging_in_time_spares_the_backup(start_bot, slack, db: Database, http: httpx.Client) -> None:
    bot = start_bot(config_with(
        oncall={"users": ["U0ONCALL1"], "backup": {"users": ["U0BOB"]}, "backup_after": "2h"},
        escalation={"default": [{"after": "0m", "notify": {"users": ["U0ONCALL1"]}}]},
    ))
    alice = SlackUser(bot=bot, slack=slack, user_id="U0ALICE", http=http)
    channel = alarm_in(bot, http, db)
    wait_for(lambda: briefs(slack, channel), what="on-call paged")
    assert alice.command("ack", channel=channel).status_code == 200
    wait_for(lambda: db.incident(1).acknowledged_at is not None, what="the acknowledgement")
    assert db.incident(1).acknowledged_at - db.incident(1).declared_at < timedelta(hours=2) / SCALE
    wait_for(lambda: timer_states(db, "escalate") and "pending" not in timer_states(db, "escalate"),
             what="the backup's page cancelled")
    assert [e.data.get("backup") for e in events(db, "escalated")] == [None]
