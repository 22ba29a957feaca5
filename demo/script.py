"""`incident-bot demo`: a short scripted incident against the local Slack server, on SQLite.

Everything is real except Slack, which is the project's local Slack Web API server: the bot
runs its FastAPI app on loopback, people's commands and clicks arrive as signed HTTP requests,
and the transcript at the end is read back from what the bot wrote to the Slack server.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import httpx

from bot.app import create_app
from bot.config import IncidentBotConfig
from bot.config.settings import Settings
from bot.slack.ids import ActionId, BlockId
from demo.models import show_diagnostics
from sandbox.runner import OutboxProbe, SignedSlackClient, ThreadedServer
from sandbox.slack_api import LocalSlackServer
from sandbox.transcript import render_message, render_mrkdwn
from storage.db import is_sqlite, parse_database_url

# Bob is on call, so the bot invites him to the incident channel it creates.
DEMO_CONFIG = {"oncall": {"users": ["U0BOB"]}}


def _fresh_sqlite(database_url: str) -> None:
    """Each demo starts from an empty database, so incident #1 is the one you just watched."""
    url = parse_database_url(database_url)
    if is_sqlite(url) and url.database and url.database != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(url.database + suffix).unlink(missing_ok=True)


class Narrator:
    def __init__(self, slack: LocalSlackServer, out: TextIO) -> None:
        self.slack = slack
        self.out = out

    def user_name(self, user_id: str) -> str | None:
        user = self.slack.workspace.users.get(user_id)
        return user.name if user else None

    def channel_name(self, channel_id: str) -> str | None:
        channel = self.slack.channel_by_name(channel_id)
        return channel.name if channel else None

    def say(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def typed(self, who: str, what: str, answer: httpx.Response) -> None:
        self.say(f"  {who} ▸ {what}")
        if answer.status_code != 200:
            self.say(f"      (the bot answered HTTP {answer.status_code})")
            return
        answered_json = answer.headers.get("content-type", "").startswith("application/json")
        text = answer.json().get("text", "") if answered_json else ""
        for line in render_mrkdwn(text, user_name=self.user_name, channel_name=self.channel_name).splitlines():
            self.say(f"      only visible to {who}: {line}")

    def channel(self, channel_id: str) -> None:
        channel = self.slack.channel_by_name(channel_id)
        assert channel is not None
        pinned = {m.ts for m in self.slack.pins(channel_id)}
        members = ", ".join("@" + (self.user_name(m) or m) for m in self.slack.members(channel_id))
        self.say(f"━━ #{channel.name} " + "━" * max(0, 60 - len(channel.name)))
        if channel.topic.value:
            self.say(f"   topic: {channel.topic.value}")
        if members:
            self.say(f"   members: {members}")
        for message in self.slack.messages(channel_id):
            self.say()
            for line in render_message(message, user_name=self.user_name, channel_name=self.channel_name,
                                       pinned=message.ts in pinned):
                self.say("   " + line)
        self.say()


def run_demo(*, database_url: str = "sqlite:///var/demo.db", out: TextIO = sys.stdout) -> int:
    # The transcript is the show; request and migration logs would bury it.
    logging.getLogger().setLevel(logging.WARNING)
    _fresh_sqlite(database_url)
    secret = secrets.token_hex(16)
    with LocalSlackServer() as slack, httpx.Client(timeout=10) as http:
        settings = Settings(
            slack_bot_token="xoxb-demo", slack_signing_secret=secret, slack_api_url=slack.base_url,
            database_url=database_url, slack_post_interval=0.2, outbox_poll_interval=0.1,
        ).with_config(IncidentBotConfig.from_mapping(DEMO_CONFIG, source="demo"))
        bot = ThreadedServer(create_app(settings)).start()
        probe = OutboxProbe(database_url)
        try:
            _play(bot.url, secret, slack, http, probe, Narrator(slack, out))
        finally:
            probe.dispose()
            bot.stop()
    return 0


def _play(bot_url: str, secret: str, slack: LocalSlackServer, http: httpx.Client, probe: OutboxProbe,
          narrator: Narrator) -> None:
    def person(user_id: str) -> SignedSlackClient:
        return SignedSlackClient(bot_url=bot_url, secret=secret, user_id=user_id, http=http,
                                 response_url_for=slack.response_url)

    alice, bob = person("U0ALICE"), person("U0BOB")
    general = slack.channel_id("general")
    say = narrator.say
    say("incident-bot demo: a local Slack workspace, the bot on SQLite, and a short incident.\n")
    say("In #general:")
    narrator.typed("alice", "/incident declare P1 Inference latency above SLO on multimodal-api",
                   alice.command("declare P1 Inference latency above SLO on multimodal-api", channel=general))
    probe.wait_drained()
    channel = _incident_channel(slack)
    headline = slack.pins(channel)[0].ts
    incident_channel = slack.channel_by_name(channel)
    if incident_channel is None:
        raise RuntimeError(f"the incident channel {channel} is not in the local Slack workspace")
    name = incident_channel.name

    say(f"\nIn #{name}:")
    steps: list[tuple[str, SignedSlackClient, str, Callable[[], httpx.Response]]] = [
        ("bob", bob, "[ Acknowledge ] on the headline",
         lambda: bob.click(ActionId.ACKNOWLEDGE, channel=channel, message_ts=headline,
                           block_id=BlockId.HEADLINE_ACTIONS)),
        ("alice", alice, "/incident role commander @bob",
         lambda: alice.command("role commander <@U0BOB|bob>", channel=channel)),
        ("bob", bob, "/incident status P95 at 1.4s since the v5 deploy; scaling to 10 tasks, rolling back to v4.",
         lambda: bob.command("status P95 at 1.4s since the v5 deploy; scaling to 10 tasks, rolling back to v4.",
                             channel=channel)),
        ("bob", bob, "/incident mitigate p95 back under 600ms after scaling",
         lambda: bob.command("mitigate p95 back under 600ms after scaling", channel=channel)),
        ("bob", bob, "/incident resolve Rolled back document-classifier v5 to v4; latency normal for 20 min.",
         lambda: bob.command("resolve Rolled back document-classifier v5 to v4; latency normal for 20 min.",
                             channel=channel)),
    ]
    for who, _client, what, act in steps:
        narrator.typed(who, what, act())
    probe.wait_drained()

    say("\nWhat everyone sees in Slack now:\n")
    narrator.channel(slack.channel_id("incidents"))
    narrator.channel(channel)
    calls = slack.calls()
    say(f"The bot made {len(calls)} Slack Web API calls; the incident is in the database at "
        "the path you gave (default var/demo.db).")
    show_diagnostics("Inference latency above SLO on multimodal-api", say)
    say("\nRun it against a real workspace: see README.md, 'Running it against a real Slack workspace'.")


def _incident_channel(slack: LocalSlackServer) -> str:
    created = [call for call in slack.calls("conversations.create") if call.ok]
    if not created:
        raise RuntimeError("the bot did not create an incident channel; see the log above")
    return str(created[-1].response["channel"]["id"])
