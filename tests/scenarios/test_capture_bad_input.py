"""Events, shortcuts and follow-up text in any shape: a 200 or a clear 4xx, never a 500 or a bad row."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.slack.ids import CallbackId
from storage.models import FollowUp, TimelineEvent
from tests.scenarios.actions_support import declare
from tests.scenarios.harness import Database, SlackUser
from tests.scenarios.test_bad_input import SETTINGS, json_values

events = st.fixed_dictionaries(
    {"type": st.sampled_from(["reaction_added", "reaction_removed", "message", "member_joined_channel", "bogus"])},
    optional={
        "user": st.one_of(st.text(max_size=12), json_values),
        "reaction": st.one_of(st.sampled_from(["pushpin", "round_pushpin", "thumbsup"]), json_values),
        "item": st.one_of(st.fixed_dictionaries({"type": st.sampled_from(["message", "file"]),
                                                 "channel": st.one_of(st.text(max_size=12), json_values),
                                                 "ts": st.one_of(st.text(max_size=20), json_values)}), json_values),
        "subtype": st.sampled_from(["message_changed", "message_deleted", "bot_message"]),
        "channel": st.one_of(st.text(max_size=12), json_values),
        "message": st.one_of(st.fixed_dictionaries({"ts": st.one_of(st.text(max_size=20), json_values),
                                                    "text": json_values, "files": json_values}), json_values),
    },
)

@SETTINGS
@given(event=events)
def test_any_signed_event_is_answered_without_a_server_error(alice: SlackUser, event) -> None:
    assert alice.client.event(event).status_code < 500


@SETTINGS
@given(message=json_values, channel=json_values, user=json_values)
def test_any_add_to_timeline_shortcut_is_answered_without_a_server_error(alice: SlackUser, message, channel,
                                                                         user) -> None:
    payload = {"type": "message_action", "callback_id": CallbackId.ADD_TO_TIMELINE_SHORTCUT.value,
               "user": user, "channel": channel, "message": message, "trigger_id": "t",
               "response_url": "http://127.0.0.1:1/nowhere"}
    assert alice.client.post({"payload": json.dumps(payload)}).status_code < 500


def test_pins_of_messages_slack_cannot_find_add_nothing(alice: SlackUser, slack, db: Database) -> None:
    channel = declare(alice, slack, db)
    assert alice.client.react("pushpin", channel=channel, ts="1700000000.999999").status_code == 200
    db.wait_outbox_drained()
    with db.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(TimelineEvent)
                           .where(TimelineEvent.kind == "captured")) == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_follow_up_text_is_answered_and_kept_as_typed_or_refused(alice: SlackUser, slack, db: Database,
                                                                     text: str) -> None:
    channel = db.incidents()[0].channel_id if db.incidents() else declare(alice, slack, db)
    with db.engine.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(FollowUp))
    response = alice.command(f"followup {text}", channel=channel)
    assert response.status_code == 200
    answer = response.json()["text"]
    with db.engine.connect() as conn:
        after = conn.scalar(select(func.count()).select_from(FollowUp))
    if answer.startswith("✅"):
        assert after == before + 1
    else:
        assert after == before and answer  # refused, or the list: either way it says something
