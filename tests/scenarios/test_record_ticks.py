"""Steps that the incident's record proves done tick themselves, over HTTP against the real app.

The model-regression runbook's first step, "Acknowledge the alert and join the incident
channel", names both facts (``done_when: [acknowledged, joined]``): it ticks once the incident
is acknowledged and a person has joined its channel, says what proved it, and a person who
reopens it has the last word.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import select

from bot.slack.ids import ActionId, BlockId
from storage.models import TimelineEvent
from tests.scenarios.actions_support import wait_for
from tests.scenarios.harness import Database, SlackUser, all_text

STEP = "acknowledge-alert"


def pinned_checklist(slack, channel: str) -> Any:  # type: ignore[no-untyped-def]
    return next((m for m in slack.pins(channel) if "Runbook:" in all_text(m)), None)


def step_text(slack, channel: str) -> str:  # type: ignore[no-untyped-def]
    message = pinned_checklist(slack, channel)
    block = next(b for b in message.blocks if b.get("block_id") == f"{BlockId.RUNBOOK_STEP.value}-{STEP}")
    return str(block["text"]["text"])


def joins(user: SlackUser, channel: str) -> None:
    response = user.client.event({"type": "member_joined_channel", "user": user.user_id, "channel": channel,
                                  "channel_type": "C", "event_ts": str(time.time())})
    assert response.status_code == 200, response.text


def step_events(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "runbook").order_by(TimelineEvent.id))
        return [e for e in rows.all() if e.data.get("step") == STEP]


def test_acknowledging_and_joining_tick_the_first_step_and_a_persons_untick_stands(
        bot, slack, db: Database, http: httpx.Client) -> None:
    alice, bob, carol = (SlackUser(bot=bot, slack=slack, user_id=u, http=http)
                         for u in ("U0ALICE", "U0BOB", "U0CAROL"))
    assert alice.command("declare P1 Ticket classifier accuracy dropped").status_code == 200
    channel = str(db.wait_incident_ready(1).channel_id)
    assert "Model performance regression" in alice.command("runbook model_regression", channel=channel).json()["text"]
    wait_for(lambda: (m := pinned_checklist(slack, channel)) is not None and "regression" in all_text(m),
             what="the model-regression checklist")
    assert "Ticks itself once the record shows: acknowledged, joined" in step_text(slack, channel)

    # Acknowledged, but nobody has joined yet: the record does not prove the step.
    assert alice.command("ack", channel=channel).status_code == 200
    db.wait_outbox_drained()
    assert step_text(slack, channel).startswith("⬜"), step_text(slack, channel)

    joins(bob, channel)
    wait_for(lambda: step_text(slack, channel).startswith("✅"), what="the step ticked by the record")
    shown = step_text(slack, channel)
    assert "Ticked by the record: acknowledged by <@U0ALICE> at <!date^" in shown
    assert "joined by <@U0BOB> at <!date^" in shown
    ticked = step_events(db)
    assert [(e.actor, e.data["done"], e.data["via"]) for e in ticked] == [("incident-bot", True, "record")]
    assert "ticked by the record: acknowledged by <@U0ALICE>, joined by <@U0BOB>" in ticked[0].text
    assert "1/18 steps done" in all_text(pinned_checklist(slack, channel))

    # Bob disagrees and reopens it; a later join proves nothing new, so his word stands.
    message = pinned_checklist(slack, channel)
    assert bob.tick(ActionId.RUNBOOK_STEP_CHECK, channel=channel, message_ts=message.ts,
                    block_id=f"{BlockId.RUNBOOK_STEP.value}-{STEP}", value=STEP, checked=False).status_code == 200
    wait_for(lambda: step_text(slack, channel).startswith("⬜"), what="the untick")
    joins(carol, channel)
    db.wait_outbox_drained()
    assert step_text(slack, channel).startswith("⬜")
    assert [(e.actor, e.data["done"]) for e in step_events(db)] == [("incident-bot", True), ("U0BOB", False)]
