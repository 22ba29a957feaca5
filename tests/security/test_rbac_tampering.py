"""RBAC cannot be talked around by crafting interaction payloads: an unprivileged person's
signed click is refused by RBAC, and the same click with user.id changed to a privileged person
(keeping the signature) is refused as a forgery, before anything acts."""

from __future__ import annotations

import json
import time
import urllib.parse

from bot.slack.ids import ActionId
from tests.scenarios.actions_support import (
    ALICE,
    CAROL,
    add_oncall_group,
    audit_rows,
    declare,
    wait_for,
    write_config,
)
from tests.scenarios.harness import SlackUser, sign


def open_scale_click(user_id: str, *, channel: str, message_ts: str, response_url: str) -> dict:
    return {"type": "block_actions", "team": {"id": "T0LOCAL"}, "user": {"id": user_id}, "api_app_id": "A0LOCAL",
            "trigger_id": "trig.rbac", "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel, "message_ts": message_ts},
            "message": {"ts": message_ts}, "response_url": response_url,
            "actions": [{"type": "button", "action_id": ActionId.OPEN_SCALE.value, "block_id": "headline_actions",
                         "action_ts": str(time.time())}]}


def form(payload: dict) -> bytes:
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def test_a_click_with_user_id_swapped_after_signing_is_refused(bot_factory, slack, http, db, tmp_path) -> None:
    add_oncall_group(slack)
    # AWS is never reached in this test: an unreachable endpoint makes any attempt fail loudly.
    bot = bot_factory(config_path=str(write_config(tmp_path)), aws_endpoint_url="http://127.0.0.1:1")
    alice = SlackUser(bot=bot, slack=slack, user_id=ALICE, http=http)
    channel = declare(alice, slack, db)
    headline = slack.pins(channel)[0]
    calls_before = len(slack.calls())

    signed = form(open_scale_click(CAROL, channel=channel, message_ts=headline.ts,
                                   response_url=slack.response_url("carol-forged")))
    headers = sign(signed)
    tampered = signed.replace(urllib.parse.quote(CAROL).encode(), urllib.parse.quote(ALICE).encode())
    assert tampered != signed
    answer = http.post(f"{bot.url}/slack/events", content=tampered, headers=headers)
    assert answer.status_code == 401
    time.sleep(0.3)  # time for a wrongly accepted click to open a modal
    assert not slack.views() and len(slack.calls()) == calls_before
    assert audit_rows(db) == []

    # The untampered click is Carol's own, and RBAC refuses it with who may do it.
    assert http.post(f"{bot.url}/slack/events", content=signed, headers=headers).status_code == 200
    refusal = wait_for(lambda: slack.responses("carol-forged"), what="carol's refusal")[-1]
    assert "responder" in refusal["text"] and "commander" in refusal["text"]
    assert not slack.views()
    assert [(row.actor, row.outcome) for row in audit_rows(db)] == [(CAROL, "denied")]
