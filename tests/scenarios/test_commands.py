"""Slash-command edges: signatures, help, bad arguments, modals, odd titles."""

from __future__ import annotations

import json
import re
import time
import urllib.parse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack.ids import BlockId, InputId
from tests.scenarios.harness import Database, SlackUser, sign
from tests.scenarios.test_lifecycle import all_text, incident_channel


def test_bad_or_stale_signature_gets_401_and_does_nothing(alice: SlackUser, db: Database) -> None:
    body = urllib.parse.urlencode({"command": "/incident", "text": "declare P1 forged", "user_id": "U0EVIL"}).encode()
    forged = alice.http.post(f"{alice.bot.url}/slack/events", content=body, headers=sign(body, secret="wrong"))
    assert forged.status_code == 401
    stale = sign(body, timestamp=int(time.time()) - 600)
    response = alice.http.post(f"{alice.bot.url}/slack/events", content=body, headers=stale)
    assert response.status_code == 401
    missing = alice.http.post(f"{alice.bot.url}/slack/events", content=body,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert missing.status_code == 401
    assert db.incidents() == []


def test_unknown_or_missing_subcommand_shows_help(alice: SlackUser) -> None:
    unknown = alice.command("frobnicate now").json()["text"]
    assert "`frobnicate` isn't a subcommand" in unknown and "/incident declare" in unknown
    assert "/incident resolve" in alice.command("").json()["text"]
    assert "/incident timeline" in alice.command("help").json()["text"]


def test_incident_commands_outside_an_incident_channel_say_where_to_run_them(alice: SlackUser) -> None:
    for text in ("ack", "sev P1", "status all good", "note hi", "mitigate", "resolve", "timeline",
                 "role scribe <@U0BOB|bob>"):
        answer = alice.command(text).json()["text"]
        assert "isn't an incident channel" in answer, (text, answer)


def test_bad_arguments_say_what_was_wrong_and_how_to_say_it(alice: SlackUser, db: Database) -> None:
    alice.command("declare P2 something broke")
    db.wait_outbox_drained()
    channel = db.incident(1).channel_id
    cases = {
        "sev P9": "isn't a severity",
        "sev": "exactly one severity",
        "role boss <@U0BOB|bob>": "isn't a role",
        "role commander bob": "isn't a person",
        "escalate nobody": "isn't a person",
        "note": "Write the note",
        "ack now": "takes no arguments",
    }
    for text, problem in cases.items():
        answer = alice.command(text, channel=channel).json()["text"]
        assert problem in answer and "Usage: `/incident" in answer, (text, answer)


def test_declare_without_title_opens_a_modal_and_its_submission_declares(alice: SlackUser, slack, db: Database) -> None:
    assert alice.command("declare P1").status_code == 200
    deadline = time.monotonic() + 5
    while not slack.views() and time.monotonic() < deadline:
        time.sleep(0.02)
    view = slack.views()[-1]
    assert view["callback_id"] == "incident_declare"
    values = {
        BlockId.DECLARE_TITLE: {InputId.TITLE: {"type": "plain_text_input", "value": "GPU nodes not scheduling"}},
        BlockId.DECLARE_SEVERITY: {InputId.SEVERITY: {"type": "static_select", "selected_option": {"value": "P1"}}},
    }
    empty = alice.submit_view(view, {**values, BlockId.DECLARE_TITLE: {InputId.TITLE: {"value": "  "}}})
    assert empty.json()["response_action"] == "errors"
    assert alice.submit_view(view, values).status_code == 200
    deadline = time.monotonic() + 5
    while not db.incidents() and time.monotonic() < deadline:
        time.sleep(0.02)
    stored = db.incident(1)
    assert (stored.title, stored.severity) == ("GPU nodes not scheduling", "P1")


def test_hostile_title_is_sanitised_for_slack_and_kept_whole(alice: SlackUser, slack, db: Database) -> None:
    title = "🔥 <!channel> model\x00 down\u202e <@U0BOB> " + "very long words " * 30
    assert alice.command(f"declare P1 {title}").status_code == 200
    db.wait_outbox_drained()
    stored = db.incident(1)
    # Kept as typed, but for NUL, which PostgreSQL text can't hold.
    assert stored.title == title.strip().replace("\x00", "")
    channel = incident_channel(slack, db)
    assert re.fullmatch(r"[a-z0-9_-]{1,80}", channel.name)
    for message in [*slack.messages(channel.id), *slack.messages("incidents")]:
        text = all_text(message)
        assert "<!channel>" not in text and "\u202e" not in text and "\x00" not in text
    header = slack.pins(channel.id)[0].blocks[0]["text"]["text"]
    assert len(header) <= 150


def test_timeline_and_list(alice: SlackUser, db: Database) -> None:
    alice.command("declare P1 first")
    alice.command("declare P3 second")
    db.wait_outbox_drained()
    channel = db.incident(1).channel_id
    alice.command("note checked the dashboards", channel=channel)
    timeline = alice.command("timeline", channel=channel).json()
    assert "2 events" in timeline["text"]
    assert "checked the dashboards" in json.dumps(timeline["blocks"])
    listing = json.dumps(alice.command("list").json()["blocks"], ensure_ascii=False)
    assert "#1" in listing and "#2" in listing and "P3 · Low" in listing


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_command_text_gets_an_answer_never_a_server_error(alice: SlackUser, text: str) -> None:
    response = alice.command(text if not text.lower().lstrip().startswith(("declare", "new", "open")) else "help")
    assert response.status_code == 200
    assert response.json()["text"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.text(min_size=1, max_size=400).filter(lambda t: t.strip()))
def test_any_title_declares_and_is_stored_exactly(alice: SlackUser, db: Database, title: str) -> None:
    before = len(db.incidents())
    response = alice.command(f"declare P3 {title}")
    assert response.status_code == 200
    incidents = db.incidents()
    if "Declared" in response.json()["text"]:
        assert len(incidents) == before + 1
        assert incidents[-1].title == title.replace("\x00", "").strip()
    else:
        assert len(incidents) == before


def test_health_ready_and_metrics(alice: SlackUser) -> None:
    http, url = alice.http, alice.bot.url
    assert http.get(f"{url}/healthz").json() == {"status": "ok"}
    assert http.get(f"{url}/readyz").json()["status"] == "ready"
    alice.command("help")
    metrics = http.get(f"{url}/metrics").text
    assert 'incident_bot_slack_requests_total{kind="command",name="help"} 1.0' in metrics
