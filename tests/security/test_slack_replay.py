"""A signed Slack request sent a second time (captured and replayed within the 5-minute window)
is refused with 401 and not acted on twice; Slack's own Events API retries still get through."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from sqlalchemy import func, select

from bot.slack.ids import ActionId
from handlers.slack.replay_guard import ReplayGuard
from storage.models import SlackRequestSeen
from tests.scenarios.harness import BotServer, Database, bot_settings, sign


def declare_body(text: str = "declare P1 replayed outage", channel: str = "C0GENERAL") -> bytes:
    return urllib.parse.urlencode({
        "command": "/incident", "text": text, "user_id": "U0ALICE", "channel_id": channel, "team_id": "T0LOCAL",
        "response_url": "http://127.0.0.1:1/nowhere", "trigger_id": "trig.replay",
    }).encode()


def test_a_replayed_slash_command_declares_once(bot, http, db, slack) -> None:
    body = declare_body(channel=slack.channel_id("general"))
    headers = sign(body)
    first = http.post(f"{bot.url}/slack/events", content=body, headers=headers)
    assert first.status_code == 200
    db.wait_incident_ready(1)
    replay = http.post(f"{bot.url}/slack/events", content=body, headers=headers)
    assert replay.status_code == 401
    assert replay.json() == {"error": "invalid request"}
    # The same command signed afresh is a new request, and is acted on.
    assert http.post(f"{bot.url}/slack/events", content=body, headers=sign(body, timestamp=int(time.time()) + 1)
                     ).status_code == 200
    db.wait_incident_ready(2)
    assert len(db.incidents()) == 2


def test_a_replayed_acknowledge_click_is_refused(bot, alice, http, db, slack) -> None:
    assert alice.command("declare P2 click replay").status_code == 200
    incident = db.wait_incident_ready(1)
    payload = {"type": "block_actions", "team": {"id": "T0LOCAL"}, "user": {"id": "U0BOB"},
               "api_app_id": "A0LOCAL", "trigger_id": "trig.click", "channel": {"id": incident.channel_id},
               "container": {"type": "message", "channel_id": incident.channel_id, "message_ts": incident.headline_ts},
               "message": {"ts": incident.headline_ts}, "response_url": slack.response_url("replayed-click"),
               "actions": [{"type": "button", "action_id": ActionId.ACKNOWLEDGE.value,
                            "block_id": "headline_actions", "action_ts": str(time.time())}]}
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    headers = sign(body)
    assert http.post(f"{bot.url}/slack/events", content=body, headers=headers).status_code == 200
    deadline = time.monotonic() + 20
    while db.incident(1).status != "acknowledged":
        assert time.monotonic() < deadline, "the first click was not acted on"
        time.sleep(0.05)
    db.wait_outbox_drained()
    calls_before = len(slack.calls())
    assert http.post(f"{bot.url}/slack/events", content=body, headers=headers).status_code == 401
    time.sleep(0.3)  # give a wrongly accepted replay the time to reach Slack
    assert len(slack.calls()) == calls_before


def test_slack_events_api_retries_are_not_refused_as_replays(bot, http) -> None:
    """Slack retries an unacknowledged event with X-Slack-Retry-Num; that is not an attack."""
    envelope = {"token": "unused", "team_id": "T0LOCAL", "api_app_id": "A0LOCAL", "type": "event_callback",
                "event": {"type": "member_joined_channel", "user": "U0BOB", "channel": "C0NOTANINCIDENT"},
                "event_id": "Ev0RETRY", "event_time": int(time.time())}
    body = json.dumps(envelope).encode()
    headers = {**sign(body), "Content-Type": "application/json"}
    assert http.post(f"{bot.url}/slack/events", content=body, headers=headers).status_code == 200
    retry = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert http.post(f"{bot.url}/slack/events", content=body, headers=retry).status_code == 200
    # The retry header is not signed, so it only excuses JSON event deliveries, never a form post.
    form = declare_body()
    form_headers = sign(form)
    http.post(f"{bot.url}/slack/events", content=form, headers=form_headers)
    assert http.post(f"{bot.url}/slack/events", content=form,
                     headers={**form_headers, "X-Slack-Retry-Num": "1"}).status_code == 401


def test_the_replay_memory_forgets_requests_once_their_timestamp_is_stale() -> None:
    now = [1_000_000.0]
    guard = ReplayGuard(window=300, capacity=3, clock=lambda: now[0])
    assert guard.first_time(key="v0=a", expires_at=guard.expires_at("1000000"))
    assert not guard.first_time(key="v0=a", expires_at=guard.expires_at("1000000"))
    now[0] += 301  # the timestamp check now refuses the request anyway
    assert guard.first_time(key="v0=a", expires_at=guard.expires_at("1000000")) and len(guard) == 1
    for n in range(10):  # a flood keeps memory bounded
        guard.first_time(key=f"v0={n}", expires_at=guard.expires_at(str(int(now[0]))))
    assert len(guard) == 3


@pytest.mark.postgres
def test_a_request_replayed_to_another_replica_is_refused(slack, postgres_url: str, http) -> None:
    first, second = (BotServer(bot_settings(slack=slack, database_url=postgres_url)).start() for _ in range(2))
    db = Database(postgres_url)
    try:
        body = declare_body(channel=slack.channel_id("general"))
        headers = sign(body)
        assert http.post(f"{first.url}/slack/events", content=body, headers=headers).status_code == 200
        db.wait_incident_ready(1)
        # The same bytes to the other replica, which has never seen them itself.
        assert http.post(f"{second.url}/slack/events", content=body, headers=headers).status_code == 401
        time.sleep(0.3)
        assert len(db.incidents()) == 1
        with db.engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(SlackRequestSeen)) >= 1
    finally:
        first.stop()
        second.stop()
        db.dispose()


# Content types that a relabelled replay claimed, to pass as an Events API retry: Bolt parses every
# one of them (anything but exactly application/json) as a form, so the command runs again.
RELABELLED_CONTENT_TYPES = ("application/jsonx", "application/json-seq", "application/json ;x", "application/json")


@pytest.mark.parametrize("content_type", RELABELLED_CONTENT_TYPES)
def test_a_replay_relabelled_as_an_events_api_retry_is_refused(bot, http, db, slack, content_type: str) -> None:
    """Neither the retry header nor the content type is signed, so neither can excuse a replay."""
    body = declare_body(channel=slack.channel_id("general"))
    headers = sign(body)
    assert http.post(f"{bot.url}/slack/events", content=body, headers=headers).status_code == 200
    db.wait_incident_ready(1)
    relabelled = {**headers, "Content-Type": content_type, "X-Slack-Retry-Num": "1",
                  "X-Slack-Retry-Reason": "http_timeout"}
    answer = http.post(f"{bot.url}/slack/events", content=body, headers=relabelled)
    assert answer.status_code == 401, answer.text
    time.sleep(0.3)  # time for a wrongly accepted replay to commit an incident
    assert len(db.incidents()) == 1


def member_joined_envelope(*, channel: str, event_id: str) -> bytes:
    return json.dumps({"token": "unused", "team_id": "T0LOCAL", "api_app_id": "A0LOCAL", "type": "event_callback",
                       "event": {"type": "member_joined_channel", "user": "U0ALICE", "channel": channel},
                       "event_id": event_id, "event_time": int(time.time())}).encode()


def test_an_events_api_retry_is_answered_but_not_acted_on_twice(bot, alice, http, db, slack) -> None:
    """Slack re-signs each retry (a new timestamp), so the event's own signed id names it."""
    assert alice.command("declare P2 retried event").status_code == 200
    incident = db.wait_incident_ready(1)
    body = member_joined_envelope(channel=incident.channel_id, event_id="Ev0WELCOME1")
    json_type = {"Content-Type": "application/json"}
    assert http.post(f"{bot.url}/slack/events", content=body, headers={**sign(body), **json_type}).status_code == 200
    deadline = time.monotonic() + 10
    while not slack.ephemerals(incident.channel_id):
        assert time.monotonic() < deadline, "the first delivery of the event was not acted on"
        time.sleep(0.05)
    for retry_num, timestamp in ((1, int(time.time()) + 1), (2, int(time.time()) + 2)):
        retry = {**sign(body, timestamp=timestamp), **json_type, "X-Slack-Retry-Num": str(retry_num),
                 "X-Slack-Retry-Reason": "http_timeout"}
        assert http.post(f"{bot.url}/slack/events", content=body, headers=retry).status_code == 200
    time.sleep(0.5)  # time for a wrongly processed retry to post a second welcome
    assert len(slack.ephemerals(incident.channel_id)) == 1
    # Another event (another id) in the same channel is still acted on.
    other = member_joined_envelope(channel=incident.channel_id, event_id="Ev0WELCOME2")
    assert http.post(f"{bot.url}/slack/events", content=other, headers={**sign(other), **json_type}).status_code == 200
    deadline = time.monotonic() + 10
    while len(slack.ephemerals(incident.channel_id)) < 2:
        assert time.monotonic() < deadline, "a new event was taken for a retry"
        time.sleep(0.05)
