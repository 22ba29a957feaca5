"""A title full of mrkdwn marks, declared over HTTP: every place Slack shows it shows it as typed.

The declare reply, the pinned headline, the announcement in #incidents, the page that calls
people into the channel, the managers' thread in #incident-escalations and the channel topic are
read through the model of Slack's renderer in tests/slack_mrkdwn.py: no broadcast, no bold or
italics made of the title's own marks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from bot.core.text import display_title, escape_mrkdwn
from tests.scenarios.actions_support import wait_for
from tests.scenarios.harness import Database, SlackUser
from tests.scenarios.test_escalation import briefs
from tests.scenarios.test_lifecycle import headline_message, incident_channel
from tests.slack_mrkdwn import formatting, read_back

TITLE = "latency spiking *again* <!channel> _now_"
CONFIG = """\
channels: {announce: incidents, escalations: incident-escalations}
escalation:
  default:
    - {after: 0m, notify: {users: [U0ONCALL1]}}
    - {after: 10m, notify: {users: [U0MLLEAD1]}}
time_scale: 600
"""


def mrkdwn_texts(message: Any) -> list[str]:
    """The message's fallback text and each mrkdwn text object in its blocks."""
    texts = [message.text or ""]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.blocks or [])
    return texts


def plain_texts(message: Any) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "plain_text":
                found.append(str(node.get("text", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.blocks or [])
    return found


def assert_shown_as_typed(texts: list[str], where: str) -> None:
    carrying = [t for t in texts if "again" in t]
    assert carrying, f"the title is not in {where}"
    whole_title = escape_mrkdwn(display_title(TITLE))
    for text in texts:
        # The bot's own bold around the whole title is fine; a span made of its marks is not.
        made_of_the_title = [f for f in formatting(text) if whole_title not in f
                             and any(word in f for word in ("again", "now", "channel"))]
        assert made_of_the_title == [], f"{where}: {text!r} formats as {made_of_the_title}"
        assert "<!channel>" not in text
    assert any(TITLE in read_back(t) for t in carrying), (where, carrying)  # a person reads it as typed


def test_a_title_with_marks_and_a_broadcast_is_shown_as_typed_everywhere(
        bot_factory, slack, db: Database, http: httpx.Client, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    bot = bot_factory(config_path=str(config), timer_tick_interval=0.1)
    alice = SlackUser(bot=bot, slack=slack, user_id="U0ALICE", http=http)

    reply = alice.command(f"declare P1 {TITLE}")
    assert reply.status_code == 200
    assert_shown_as_typed([reply.json()["text"]], "the declare reply")
    db.wait_incident_ready(1)

    headline = headline_message(slack, db)
    assert_shown_as_typed(mrkdwn_texts(headline), "the headline")
    assert all("<!channel>" not in t for t in plain_texts(headline))  # the header is plain_text

    announcement = slack.messages("incidents")[0]
    assert_shown_as_typed(mrkdwn_texts(announcement), "the announcement")
    assert escape_mrkdwn(display_title(TITLE)) in all_mrkdwn(announcement)

    channel = incident_channel(slack, db)
    page = wait_for(lambda: next(iter(briefs(slack, channel.id)), None), what="the page")
    assert_shown_as_typed(mrkdwn_texts(page), "the page")
    managers = wait_for(lambda: next(iter(slack.messages("incident-escalations", include_replies=False)), None),
                        what="the managers' thread")
    assert_shown_as_typed(mrkdwn_texts(managers), "the managers' thread")

    topic = channel.topic.value
    assert "<!channel>" not in topic and display_title(TITLE) in topic


def all_mrkdwn(message: Any) -> str:
    return "\n".join(mrkdwn_texts(message))
