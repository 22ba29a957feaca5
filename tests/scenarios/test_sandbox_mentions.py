"""`/incident` typed in the sandbox's page with @mentions, as a newcomer types it in the demo.

The sandbox escapes typed mentions as Slack does (manifest: should_escape), so the real bot,
on the demo's configuration, hears who was meant: Alice, a commander there, takes command by
typing ``@alice``, ``@ml-lead`` is paged, and ``@bob`` owns a follow-up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from demo.config import demo_config
from sandbox.slack_api import LocalSlackServer
from sandbox.web import BotLink
from storage.models import FollowUp
from tests.scenarios.harness import (
    SIGNING_SECRET,
    BotServer,
    Database,
    SlackUser,
    bot_settings,
)


@pytest.fixture
def demo_bot(slack: LocalSlackServer, database_url: str) -> Iterator[BotServer]:
    """The bot on the demo's people and roles (Alice commands; assign_role is hers), with the
    sandbox's page wired to it."""
    server = BotServer(bot_settings(slack=slack, database_url=database_url).with_config(demo_config())).start()
    slack.attach_bot(BotLink(bot_url=server.url, signing_secret=SIGNING_SECRET))
    yield server
    server.stop()


def typed(http: httpx.Client, slack: LocalSlackServer, *, user: str, channel: str, text: str) -> dict[str, Any]:
    """What the page does when a person presses Enter in the composer."""
    sent = http.post(f"{slack.root_url}ui/api/command", json={"user": user, "channel": channel, "text": text})
    assert sent.status_code == 200, sent.text
    return sent.json()


def wait_for_answer(slack: LocalSlackServer, channel: str, user: str, words: str, timeout: float = 30.0) -> str:
    """The ephemeral answer (ack or response_url) that person reads in the channel."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answers = [e.text for e in slack.ephemerals(channel) if e.user == user]
        found = [a for a in answers if words in a]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no answer with {words!r}; {user} read {answers}")


def test_typing_at_alice_in_the_sandbox_makes_alice_commander(
        demo_bot: BotServer, slack: LocalSlackServer, http: httpx.Client, db: Database) -> None:
    alice = SlackUser(bot=demo_bot, slack=slack, user_id="U0ALICE", http=http)
    assert alice.command("declare P1 scoring latency").status_code == 200
    channel = db.wait_incident_ready(1).channel_id
    assert db.incident(1).commander is None

    typed(http, slack, user="U0ALICE", channel=channel, text="/incident role commander @alice")
    wait_for_answer(slack, channel, "U0ALICE", "is now commander")
    assert db.incident(1).commander == "U0ALICE"

    typed(http, slack, user="U0ALICE", channel=channel, text="/incident escalate @ml-lead")
    wait_for_answer(slack, channel, "U0ALICE", "Escalated incident #1 to <@U0MLLEAD1>")
    db.wait_outbox_drained()
    assert "U0MLLEAD1" in slack.members(channel)  # paged people are invited into the channel

    typed(http, slack, user="U0ALICE", channel=channel, text="/incident followup rotate the keys @bob friday")
    wait_for_answer(slack, channel, "U0ALICE", "for <@U0BOB>")
    with db.engine.connect() as conn:
        item = conn.execute(select(FollowUp)).one()
    assert (item.text, item.owner, item.due_on.strftime("%A")) == ("rotate the keys", "U0BOB", "Friday")
