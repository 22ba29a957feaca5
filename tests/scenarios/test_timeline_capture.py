"""Putting Slack messages on the timeline, against the real app and the local Slack server:
a 📌 reaction, the "Add to timeline" shortcut, `/incident note`, edits and removal."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bot.slack.gateway import SlackSdkGateway, build_web_client
from bot.slack.ids import CallbackId
from storage.models import AuditEntry, TimelineEvent
from tests.scenarios.actions_support import declare, wait_for
from tests.scenarios.harness import Database, SlackUser


def gateway(slack) -> SlackSdkGateway:
    return SlackSdkGateway(build_web_client(token="xoxb-test-token", base_url=slack.base_url), post_interval=0)


def say(slack, channel: str, text: str) -> str:
    return asyncio.run(gateway(slack).post(channel, text=text)).ts


def captured(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "captured")
                                 .order_by(TimelineEvent.id)).all())


def kinds(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return list(conn.scalars(select(TimelineEvent.kind).order_by(TimelineEvent.id)))


def test_a_pushpin_puts_a_message_on_the_timeline_and_taking_it_back_removes_it(
        alice: SlackUser, bob: SlackUser, slack, db: Database) -> None:
    channel = declare(alice, slack, db)
    ts = say(slack, channel, "GPU nodes show 98% memory since 14:02")
    assert alice.client.react("pushpin", channel=channel, ts=ts).status_code == 200
    entry = wait_for(lambda: captured(db), what="the captured message")[0]
    assert entry.source_ts == ts and entry.text == "GPU nodes show 98% memory since 14:02"
    assert entry.data["reactors"] == ["U0ALICE"] and "/archives/" in entry.data["permalink"]
    assert wait_for(lambda: [e for e in slack.ephemerals(channel) if "Added to the timeline" in e.text],
                    what="the ephemeral confirmation")
    # A second 📌 joins the same entry; the entry stays until the last one is taken back.
    bob.client.react("pushpin", channel=channel, ts=ts)
    wait_for(lambda: captured(db)[0].data["reactors"] == ["U0ALICE", "U0BOB"], what="bob's pin")
    alice.client.react("pushpin", channel=channel, ts=ts, removed=True)
    wait_for(lambda: captured(db) and captured(db)[0].data["reactors"] == ["U0BOB"], what="alice's pin removed")
    bob.client.react("pushpin", channel=channel, ts=ts, removed=True)
    wait_for(lambda: not captured(db), what="the entry removed")
    with db.engine.connect() as conn:
        actions = list(conn.scalars(select(AuditEntry.action).where(AuditEntry.action.like("timeline.%"))
                                    .order_by(AuditEntry.id)))
    assert actions == ["timeline.capture", "timeline.capture", "timeline.release", "timeline.release"]


def test_the_shortcut_adds_a_message_and_a_reaction_on_it_does_not_duplicate_it(
        alice: SlackUser, slack, db: Database) -> None:
    channel = declare(alice, slack, db)
    ts = say(slack, channel, "rolled back the canary at 14:20")
    response = alice.client.shortcut(CallbackId.ADD_TO_TIMELINE_SHORTCUT, channel=channel,
                                     message={"ts": ts, "text": "rolled back the canary at 14:20", "user": "U0ALICE"})
    assert response.status_code == 200
    entry = wait_for(lambda: captured(db), what="the captured message")[0]
    assert entry.data["shortcut_by"] == "U0ALICE" and entry.data["reactors"] == []
    answers = wait_for(lambda: alice.responses(), what="the shortcut's answer")
    assert "Added to the timeline of incident #1" in answers[-1]["text"]
    # A 📌 and its removal leave the shortcut's entry in place.
    alice.client.react("pushpin", channel=channel, ts=ts)
    wait_for(lambda: captured(db)[0].data["reactors"] == ["U0ALICE"], what="the pin")
    alice.client.react("pushpin", channel=channel, ts=ts, removed=True)
    wait_for(lambda: captured(db)[0].data["reactors"] == [], what="the pin taken back")
    assert len(captured(db)) == 1


def test_an_edit_to_a_pinned_message_updates_its_entry(alice: SlackUser, slack, db: Database) -> None:
    channel = declare(alice, slack, db)
    ts = say(slack, channel, "error rate 4%")
    alice.client.react("pushpin", channel=channel, ts=ts)
    wait_for(lambda: captured(db), what="the captured message")
    edited = {"type": "message", "subtype": "message_changed", "channel": channel, "hidden": True,
              "message": {"type": "message", "user": "U0ALICE", "text": "error rate 12% (corrected)", "ts": ts,
                          "edited": {"user": "U0ALICE", "ts": "1.0"}},
              "previous_message": {"type": "message", "text": "error rate 4%", "ts": ts}}
    assert alice.client.event(edited).status_code == 200
    entry = wait_for(lambda: [e for e in captured(db) if e.text == "error rate 12% (corrected)"], what="the edit")[0]
    assert entry.data["edited_at"]
    # Edits of messages nobody pinned, and plain new messages, change nothing and are answered 200.
    other = say(slack, channel, "unpinned")
    before = kinds(db)
    assert alice.client.event({**edited, "message": {**edited["message"], "ts": other}}).status_code == 200
    assert alice.client.event({"type": "message", "channel": channel, "user": "U0ALICE", "text": "hi",
                               "ts": "1700000000.000100"}).status_code == 200
    assert kinds(db) == before


def test_files_in_a_captured_message_are_referenced_not_copied(alice: SlackUser, slack, db: Database) -> None:
    channel = declare(alice, slack, db)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    asyncio.run(gateway(slack).upload_file(channel, filename="grafana.png", content=png, comment="p95 panel"))
    message = next(m for m in slack.messages(channel) if m.files)
    alice.client.react("round_pushpin", channel=channel, ts=message.ts)
    entry = wait_for(lambda: captured(db), what="the captured message")[0]
    files = entry.data["files"]
    assert [f["name"] for f in files] == ["grafana.png"] and files[0]["id"].startswith("F")
    assert files[0]["permalink"] and set(files[0]) == {"id", "name", "mimetype", "permalink"}


def test_note_pins_outside_incident_channels_and_other_reactions(alice: SlackUser, slack, db: Database) -> None:
    channel = declare(alice, slack, db)
    alice.command("note checked the GPU dashboards", channel=channel)
    wait_for(lambda: "note" in kinds(db), what="the note")
    general = slack.channel_id("general")
    elsewhere = say(slack, general, "not an incident")
    alice.client.react("pushpin", channel=general, ts=elsewhere)
    here = say(slack, channel, "a thumbs up is not a pin")
    alice.client.react("thumbsup", channel=channel, ts=here)
    answer = alice.client.shortcut(CallbackId.ADD_TO_TIMELINE_SHORTCUT, channel=general,
                                   message={"ts": elsewhere, "text": "not an incident"})
    assert answer.status_code == 200
    assert "Only messages in an incident channel" in wait_for(lambda: alice.responses(), what="refusal")[-1]["text"]
    db.wait_outbox_drained()
    assert captured(db) == []
