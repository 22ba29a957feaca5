"""The status-update modal over HTTP: `/incident status` without text and the reminder's
"Post update" button open it with a draft; submitting it posts the update."""

from __future__ import annotations

import json
from typing import Any

from bot.slack.ids import ActionId, BlockId, CallbackId, InputId
from sandbox.slack_api import LocalSlackServer
from tests.scenarios.actions_support import all_text, declare, wait_for
from tests.scenarios.harness import Database, SlackUser


def update_views(slack: LocalSlackServer) -> list[dict[str, Any]]:
    return [v for v in slack.views() if v.get("callback_id") == CallbackId.STATUS_UPDATE_MODAL]


def wait_for_modal(slack: LocalSlackServer, *, count: int = 1) -> dict[str, Any]:
    return wait_for(lambda: len(update_views(slack)) >= count and update_views(slack)[count - 1],
                    timeout=10, what="the status update modal")


def draft_of(view: dict[str, Any]) -> str:
    block = next(b for b in view["blocks"] if b.get("block_id") == BlockId.UPDATE_TEXT)
    assert block["element"]["action_id"] == InputId.UPDATE and block["element"]["multiline"] is True
    assert block["element"]["max_length"] == 3000
    return str(block["element"]["initial_value"])


def typed(text: str) -> dict[str, Any]:
    return {BlockId.UPDATE_TEXT: {InputId.UPDATE: {"type": "plain_text_input", "value": text}}}


def test_status_without_text_opens_a_prefilled_modal_and_submitting_posts_the_update(
    alice: SlackUser, slack: LocalSlackServer, db: Database,
) -> None:
    channel = declare(alice, slack, db, title="Inference latency above SLO on multimodal-api")
    answer = alice.command("status", channel=channel)
    assert answer.status_code == 200 and "Write the update" not in answer.text

    view = wait_for_modal(slack)
    assert (view["title"]["text"], view["submit"]["text"]) == ("Status update", "Post update")
    assert json.loads(view["private_metadata"])["incident_id"] == db.incident(1).id
    draft = draft_of(view)
    assert "Inference latency above SLO on multimodal-api" in draft
    assert "Severity: P1 (High)" in draft and "Status: Triggered" in draft
    assert "[Impact: who is affected, how many, since when]" in draft

    empty = alice.submit_view(view, typed("   "))
    assert empty.json()["response_action"] == "errors"
    assert "Write the update" in empty.json()["errors"][BlockId.UPDATE_TEXT]

    # Posting the draft as it is would publish its questions as news.
    unchanged = alice.submit_view(view, typed(draft))
    assert unchanged.json()["response_action"] == "errors"
    assert "[Impact: who is affected, how many, since when]" in unchanged.json()["errors"][BlockId.UPDATE_TEXT]

    text = "p95 back to 400ms after rolling incident-text back to v4; watching for an hour"
    posted = alice.submit_view(view, typed(text))
    assert posted.status_code == 200 and not posted.content.strip()
    message = wait_for(lambda: next((m for m in slack.messages(channel) if text in all_text(m)), None),
                       what="the update in the incident channel")
    assert "Status update" in all_text(message)

    # The next draft starts from the update just posted.
    alice.command("update", channel=channel)
    assert text in draft_of(wait_for_modal(slack, count=2))


def test_the_reminders_post_update_button_opens_the_modal_for_its_incident(
    alice: SlackUser, slack: LocalSlackServer, db: Database,
) -> None:
    channel = declare(alice, slack, db, title="Drift score above 0.1 on document-classifier")
    incident_id = db.incident(1).id
    headline_ts = db.incident(1).headline_ts
    clicked = alice.click(ActionId.POST_UPDATE, channel=channel, message_ts=headline_ts, value=str(incident_id),
                          block_id=BlockId.REMINDER_ACTIONS)
    assert clicked.status_code == 200
    view = wait_for_modal(slack)
    assert json.loads(view["private_metadata"])["incident_id"] == incident_id
    assert "Drift score above 0.1 on document-classifier" in draft_of(view)

    # A reminder sent elsewhere (a direct message) still knows its incident from the button.
    general = slack.channel_id("general")
    alice.click(ActionId.POST_UPDATE, channel=general, message_ts="1.000001", value=str(incident_id),
                block_id=BlockId.REMINDER_ACTIONS)
    elsewhere = wait_for_modal(slack, count=2)
    assert json.loads(elsewhere["private_metadata"])["incident_id"] == incident_id
    assert alice.submit_view(elsewhere, typed("Drift is from a new customer's documents")).status_code == 200
    wait_for(lambda: any("new customer" in all_text(m) for m in slack.messages(channel)),
             what="the update in the incident channel")


def test_no_update_outside_an_incident_channel_or_for_a_resolved_incident(
    alice: SlackUser, slack: LocalSlackServer, db: Database,
) -> None:
    outside = alice.command("status").json()["text"]
    assert "isn't an incident channel" in outside

    channel = declare(alice, slack, db)
    alice.command("status", channel=channel)
    view = wait_for_modal(slack)
    assert "resolved" in alice.command("resolve fixed", channel=channel).json()["text"]
    # Resolved while the modal was open: the refusal shows on the field, and the text stays.
    late = alice.submit_view(view, typed("Still looking into it")).json()
    assert late["response_action"] == "errors"
    assert "is resolved; a status update is only for open incidents" in late["errors"][BlockId.UPDATE_TEXT]

    refused = alice.command("status", channel=channel).json()["text"]
    assert "is resolved; a status update is only for open incidents" in refused
    assert len(update_views(slack)) == 1
