"""The sandbox's web UI, driven over HTTP as the page drives it, against a recording fake bot.

The fake bot is a real HTTP server on loopback that checks every request's Slack signature with
slack_sdk's verifier, records what arrived, and answers what the test tells it to.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from sandbox import LocalSlackServer
from sandbox.runner import ThreadedServer
from sandbox.web import MESSAGE_SHORTCUTS, BotLink, Scenario

SECRET = "test-signing-secret"
ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "sandbox" / "ui"
SCRIPTS = sorted(p.name for p in UI.glob("*.js"))
ALICE, BOB = "U0ALICE", "U0BOB"


@dataclass(frozen=True)
class Delivery:
    """One request the fake bot received."""

    content_type: str
    body: dict[str, Any]  # the interaction payload, the slash-command form or the event envelope

    @property
    def kind(self) -> str:
        return str(self.body.get("type") or ("slash_command" if "command" in self.body else "?"))


Answer = Callable[[Delivery], Response]


class FakeBot:
    """Accepts only correctly signed requests, as bolt does, and answers with ``answer``."""

    def __init__(self) -> None:
        self.verifier = SignatureVerifier(SECRET)
        self.received: list[Delivery] = []
        self.unsigned = 0
        self.answer: Answer = lambda _: Response(status_code=200)
        self.app = FastAPI()
        self.app.add_api_route("/slack/events", self._events, methods=["POST"])

    async def _events(self, request: Request) -> Response:
        raw = await request.body()
        if not self.verifier.is_valid_request(raw, dict(request.headers)):
            self.unsigned += 1
            return Response("invalid signature", status_code=401)
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            body = json.loads(raw)
        else:
            form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
            body = json.loads(form["payload"]) if "payload" in form else form
        delivery = Delivery(content_type, body)
        self.received.append(delivery)
        return self.answer(delivery)

    def last(self, kind: str) -> Delivery:
        found = [d for d in self.received if d.kind == kind]
        assert found, f"the bot received no {kind}; it got {[d.kind for d in self.received]}"
        return found[-1]


@pytest.fixture(scope="module")
def fake_bot() -> Iterator[tuple[FakeBot, str]]:
    bot = FakeBot()
    server = ThreadedServer(bot.app).start()
    yield bot, server.url
    server.stop()


@pytest.fixture(scope="module")
def server(fake_bot: tuple[FakeBot, str]) -> Iterator[LocalSlackServer]:
    with LocalSlackServer(web=BotLink(fake_bot[1], SECRET)) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def bot(fake_bot: tuple[FakeBot, str]) -> FakeBot:
    fake_bot[0].received.clear()
    fake_bot[0].unsigned = 0
    fake_bot[0].answer = lambda _: Response(status_code=200)
    return fake_bot[0]


@pytest.fixture
def slack(server: LocalSlackServer, bot: FakeBot) -> LocalSlackServer:
    server.reset()
    return server


@pytest.fixture
def as_bot(slack: LocalSlackServer) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.base_url)


def post(http: httpx.Client, slack: LocalSlackServer, path: str, body: Any) -> httpx.Response:
    return http.post(f"{slack.root_url}ui/api/{path}", json=body)


def state(http: httpx.Client, slack: LocalSlackServer, user: str) -> dict[str, Any]:
    response = http.get(f"{slack.root_url}ui/api/state", params={"user": user})
    assert response.status_code == 200, response.text
    return response.json()


def channel_of(view: dict[str, Any], channel_id: str) -> dict[str, Any]:
    return next(c for c in view["channels"] if c["id"] == channel_id)


def answer_json(body: dict[str, Any]) -> Answer:
    return lambda _: JSONResponse(body)


BUTTONS = [
    {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "*Incident #1*"},
     "accessory": {"type": "overflow", "action_id": "more", "options": [
         {"text": {"type": "plain_text", "text": "Mute"}, "value": "mute"}]}},
    {"type": "actions", "block_id": "headline_actions", "elements": [
        {"type": "button", "action_id": "incident_acknowledge", "style": "primary", "value": "42",
         "text": {"type": "plain_text", "text": "Acknowledge"}},
        {"type": "static_select", "action_id": "severity", "placeholder": {"type": "plain_text", "text": "Sev"},
         "option_groups": [{"label": {"type": "plain_text", "text": "High"}, "options": [
             {"text": {"type": "plain_text", "text": "P0"}, "value": "P0"},
             {"text": {"type": "plain_text", "text": "P1"}, "value": "P1"}]}]},
        {"type": "checkboxes", "action_id": "steps", "options": [
            {"text": {"type": "mrkdwn", "text": "one"}, "value": "s1"},
            {"text": {"type": "mrkdwn", "text": "two"}, "value": "s2"}]},
    ]},
]

FORM = {
    "type": "modal", "callback_id": "status_update", "private_metadata": '{"incident": 7}',
    "title": {"type": "plain_text", "text": "Status update"}, "submit": {"type": "plain_text", "text": "Post"},
    "blocks": [
        {"type": "input", "block_id": "text", "label": {"type": "plain_text", "text": "Update"},
         "element": {"type": "plain_text_input", "action_id": "value", "multiline": True}},
        {"type": "input", "block_id": "count", "label": {"type": "plain_text", "text": "Tasks"},
         "element": {"type": "number_input", "action_id": "value", "is_decimal_allowed": False,
                     "min_value": "1", "max_value": "10", "initial_value": "3"}},
        {"type": "input", "block_id": "target", "optional": True, "label": {"type": "plain_text", "text": "Target"},
         "element": {"type": "static_select", "action_id": "value", "options": [
             {"text": {"type": "plain_text", "text": "Model"}, "value": "model:a"}]}},
        {"type": "input", "block_id": "when", "optional": True, "label": {"type": "plain_text", "text": "When"},
         "element": {"type": "datepicker", "action_id": "value"}},
        {"type": "actions", "block_id": "modal_buttons", "elements": [
            {"type": "button", "action_id": "emergency_stop", "style": "danger", "value": "svc",
             "text": {"type": "plain_text", "text": "Stop"}}]},
    ],
}


def incident_channel(slack: LocalSlackServer) -> str:
    """A channel the bot is in (so Slack sends it that channel's events), with Alice and Bob."""
    return slack.add_channel("inc-1", members=["U0BOT", ALICE, BOB])


def open_modal_for(who: str, http: httpx.Client, slack: LocalSlackServer, as_bot: WebClient,
                   bot: FakeBot) -> dict[str, Any]:
    """``who`` clicks a button; the bot opens FORM with that click's trigger id."""
    channel = incident_channel(slack)
    ts = as_bot.chat_postMessage(channel=channel, text="headline", blocks=BUTTONS)["ts"]
    clicked = post(http, slack, "action", {"user": who, "channel": channel, "message_ts": ts,
                                           "block_id": "headline_actions", "action_id": "incident_acknowledge"})
    assert clicked.status_code == 200, clicked.text
    return as_bot.views_open(trigger_id=bot.last("block_actions").body["trigger_id"], view=FORM)["view"]


# --- the page --------------------------------------------------------------------------------------


def test_the_page_and_its_files_are_served(http: httpx.Client, slack: LocalSlackServer) -> None:
    page = http.get(f"{slack.root_url}ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="app.css"' in page.text and '<base href="/ui/">' in page.text
    loaded = re.findall(r'<script src="([^"]+)"', page.text)
    assert sorted(loaded) == SCRIPTS and loaded[-1] == "app.js"  # every script; app.js, which starts the page, last
    for name in loaded:
        script = http.get(f"{slack.root_url}ui/{name}")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"], name
        assert script.text == (UI / name).read_text(encoding="utf-8"), name
    assert "data-testid" in http.get(f"{slack.root_url}ui/app.js").text
    style = http.get(f"{slack.root_url}ui/app.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert http.get(f"{slack.root_url}ui/secrets.txt").status_code == 404
    assert http.get(slack.root_url).text == page.text  # a bot is attached: / is the page too


def test_without_a_bot_the_root_stays_json_and_the_ui_is_read_only(http: httpx.Client) -> None:
    with LocalSlackServer() as alone:
        assert http.get(alone.root_url).json()["service"] == "local slack sandbox"
        assert http.get(f"{alone.root_url}ui/").status_code == 200
        assert state(http, alone, ALICE)["bot_attached"] is False
        refused = post(http, alone, "command", {"user": ALICE, "channel": "general", "text": "/incident help"})
        assert refused.status_code == 409 and "no bot is attached" in refused.json()["error"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_is_valid_javascript(name: str) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    checked = subprocess.run([node, "--check", str(UI / name)], check=False, capture_output=True, text=True,
                             timeout=30)
    assert checked.returncode == 0, checked.stderr


def test_message_shortcuts_are_the_manifests() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text())
    declared = {s["callback_id"]: s["name"] for s in manifest["features"]["shortcuts"] if s["type"] == "message"}
    assert declared == dict(MESSAGE_SHORTCUTS)


def test_an_unchanged_state_poll_is_a_304(http: httpx.Client, slack: LocalSlackServer) -> None:
    first = http.get(f"{slack.root_url}ui/api/state", params={"user": ALICE})
    again = http.get(f"{slack.root_url}ui/api/state", params={"user": ALICE},
                     headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    slack.add_channel("new-one", members=[ALICE])
    changed = http.get(f"{slack.root_url}ui/api/state", params={"user": ALICE},
                       headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and any(c["name"] == "new-one" for c in changed.json()["channels"])


def test_people_see_only_their_private_channels(http: httpx.Client, slack: LocalSlackServer) -> None:
    slack.add_channel("secret", members=[BOB], is_private=True)
    assert "secret" in {c["name"] for c in state(http, slack, BOB)["channels"]}
    assert "secret" not in {c["name"] for c in state(http, slack, ALICE)["channels"]}
    assert http.get(f"{slack.root_url}ui/api/state", params={"user": "U0BOT"}).status_code == 403


# --- slash commands and ephemeral answers -----------------------------------------------------------


def test_a_slash_command_arrives_signed_and_its_answer_is_only_for_that_person(
        http: httpx.Client, slack: LocalSlackServer, bot: FakeBot) -> None:
    bot.answer = answer_json({"response_type": "ephemeral", "text": "Declared *P1* <@U0BOB>"})
    general = slack.channel_id("general")
    sent = post(http, slack, "command", {"user": ALICE, "channel": general, "text": "/incident declare P1 latency"})
    assert sent.status_code == 200 and sent.json()["ok"] is True
    assert sent.json()["bot"]["status"] == 200
    form = bot.last("slash_command").body
    assert bot.unsigned == 0 and "x-www-form-urlencoded" in bot.last("slash_command").content_type
    assert form["command"] == "/incident" and form["text"] == "declare P1 latency"
    assert form["user_id"] == ALICE and form["user_name"] == "alice"
    assert form["channel_id"] == general and form["channel_name"] == "general" and form["team_id"] == "T0LOCAL"
    assert form["response_url"].startswith(f"{slack.root_url}_local/respond/") and form["trigger_id"]

    mine = channel_of(state(http, slack, ALICE), general)["ephemerals"]
    assert [e["text"] for e in mine] == ["Declared *P1* <@U0BOB>"]
    assert channel_of(state(http, slack, BOB), general)["ephemerals"] == []
    assert slack.messages(general) == []  # nobody else sees anything in the channel

    # Later answers on the response_url: a replacement, another line, and one for the channel.
    http.post(form["response_url"], json={"text": "Declared, channel made", "replace_original": True})
    http.post(form["response_url"], json={"text": "One more thing"})
    http.post(form["response_url"], json={"text": "Everyone: incident #1", "response_type": "in_channel"})
    mine = channel_of(state(http, slack, ALICE), general)["ephemerals"]
    assert [e["text"] for e in mine] == ["Declared, channel made", "One more thing"]
    assert [m.text for m in slack.messages(general)] == ["Everyone: incident #1"]
    assert slack.messages(general)[0].user == "U0BOT"


def test_commands_need_membership_and_a_known_command(http: httpx.Client, slack: LocalSlackServer,
                                                      bot: FakeBot) -> None:
    escalations = slack.channel_id("incident-escalations")  # public; Alice is not in it
    refused = post(http, slack, "command", {"user": ALICE, "channel": escalations, "text": "/incident help"})
    assert refused.status_code == 403 and "join it first" in refused.json()["error"]
    assert post(http, slack, "join", {"user": ALICE, "channel": escalations}).status_code == 200
    assert post(http, slack, "command", {"user": ALICE, "channel": escalations,
                                         "text": "/incident help"}).status_code == 200
    unknown = post(http, slack, "command", {"user": ALICE, "channel": escalations, "text": "/deploy now"})
    assert unknown.status_code == 404 and "/incident" in unknown.json()["error"]
    assert post(http, slack, "command", {"user": ALICE, "channel": escalations,
                                         "text": "help"}).status_code == 400
    assert [d.kind for d in bot.received] == ["slash_command"]


def test_typed_mentions_reach_the_bot_escaped_as_slack_escapes_them(
        http: httpx.Client, slack: LocalSlackServer, bot: FakeBot) -> None:
    general = slack.channel_id("general")
    typed = "followup page @Alice, @ml-oncall and @here in #general; not @nobody nor bob@example.com"
    sent = post(http, slack, "command", {"user": BOB, "channel": general, "text": f"/incident {typed}"})
    assert sent.status_code == 200, sent.text
    assert bot.last("slash_command").body["text"] == (
        "followup page <@U0ALICE|alice>, <!subteam^S0MLONCALL|@ml-oncall> and <!here> in "
        f"<#{general}|general>; not @nobody nor bob@example.com")


def test_joining_an_incident_channel_tells_the_bot(http: httpx.Client, slack: LocalSlackServer, bot: FakeBot) -> None:
    channel = slack.add_channel("inc-2", members=["U0BOT", BOB])
    joined = post(http, slack, "join", {"user": ALICE, "channel": channel})
    assert joined.status_code == 200 and joined.json()["delivered"] is True
    assert ALICE in slack.members(channel)
    event = bot.last("event_callback").body["event"]
    assert (event["type"], event["user"], event["channel"]) == ("member_joined_channel", ALICE, channel)
    assert post(http, slack, "join", {"user": ALICE, "channel": channel}).json()["already_in_channel"] is True
    assert len(bot.received) == 1
    secret = slack.add_channel("secret", members=[BOB], is_private=True)
    assert post(http, slack, "join", {"user": ALICE, "channel": secret}).status_code == 404


def test_the_bots_refusal_and_absence_reach_the_page(http: httpx.Client, slack: LocalSlackServer,
                                                     bot: FakeBot, fake_bot: tuple[FakeBot, str]) -> None:
    bot.answer = lambda _: Response("boom", status_code=500)
    failed = post(http, slack, "command", {"user": ALICE, "channel": "general", "text": "/incident help"})
    assert failed.status_code == 200
    assert failed.json()["ok"] is False and failed.json()["bot"] == {"status": 500, "body": "boom",
                                                                    "ms": failed.json()["bot"]["ms"]}
    assert "HTTP 500" in failed.json()["error"]
    slack.attach_bot(BotLink("http://127.0.0.1:9", SECRET))  # nothing listens on the discard port
    try:
        gone = post(http, slack, "command", {"user": ALICE, "channel": "general", "text": "/incident help"})
        assert gone.status_code == 502 and "did not answer" in gone.json()["error"]
    finally:
        slack.attach_bot(BotLink(fake_bot[1], SECRET))


# --- messages, clicks, shortcuts, reactions ---------------------------------------------------------------


def test_a_person_posts_a_plain_message(http: httpx.Client, slack: LocalSlackServer, bot: FakeBot) -> None:
    general = slack.channel_id("general")
    posted = post(http, slack, "message", {"user": BOB, "channel": general, "text": "hello <@U0ALICE>"})
    assert posted.status_code == 200 and posted.json()["delivered"] is False  # the bot is not in #general
    assert [(m.user, m.text) for m in slack.messages(general)] == [(BOB, "hello <@U0ALICE>")]
    channel = incident_channel(slack)
    parent = post(http, slack, "message", {"user": BOB, "channel": channel, "text": "root"}).json()["ts"]
    reply = post(http, slack, "message", {"user": ALICE, "channel": channel, "text": "reply", "thread_ts": parent})
    assert reply.json()["delivered"] is True
    event = bot.last("event_callback").body["event"]
    assert event["type"] == "message" and event["thread_ts"] == parent and event["user"] == ALICE
    escalations = slack.channel_id("incident-escalations")
    assert post(http, slack, "message", {"user": ALICE, "channel": escalations, "text": "hi"}).status_code == 403


def test_a_button_click_sends_signed_block_actions(http: httpx.Client, slack: LocalSlackServer, bot: FakeBot,
                                                   as_bot: WebClient) -> None:
    channel = incident_channel(slack)
    ts = as_bot.chat_postMessage(channel=channel, text="headline", blocks=BUTTONS)["ts"]
    clicked = post(http, slack, "action", {"user": BOB, "channel": channel, "message_ts": ts,
                                           "block_id": "headline_actions", "action_id": "incident_acknowledge"})
    assert clicked.status_code == 200 and clicked.json()["ok"] is True
    payload = bot.last("block_actions").body
    assert bot.unsigned == 0
    assert payload["user"]["id"] == BOB and payload["team"]["id"] == "T0LOCAL"
    assert payload["trigger_id"] == clicked.json()["trigger_id"]
    assert payload["channel"] == {"id": channel, "name": "inc-1"}
    assert payload["container"] == {"type": "message", "message_ts": ts, "channel_id": channel,
                                    "is_ephemeral": False}
    assert payload["message"]["ts"] == ts and payload["message"]["blocks"] == BUTTONS
    assert payload["response_url"].startswith(f"{slack.root_url}_local/respond/")
    action = payload["actions"][0]
    assert {k: action[k] for k in ("type", "action_id", "block_id", "value", "style")} == {
        "type": "button", "action_id": "incident_acknowledge", "block_id": "headline_actions",
        "value": "42", "style": "primary"}
    assert action["text"]["text"] == "Acknowledge" and float(action["action_ts"]) > 0


def test_selects_overflows_and_checkboxes_send_their_choices(http: httpx.Client, slack: LocalSlackServer,
                                                             bot: FakeBot, as_bot: WebClient) -> None:
    channel = incident_channel(slack)
    ts = as_bot.chat_postMessage(channel=channel, text="headline", blocks=BUTTONS)["ts"]
    where = {"user": ALICE, "channel": channel, "message_ts": ts}
    assert post(http, slack, "action", {**where, "action_id": "severity", "value": "P1"}).status_code == 200
    chosen = bot.last("block_actions").body["actions"][0]
    assert chosen["type"] == "static_select" and chosen["selected_option"]["value"] == "P1"
    assert chosen["selected_option"]["text"]["text"] == "P1"
    assert post(http, slack, "action", {**where, "action_id": "more", "value": "mute"}).status_code == 200
    assert bot.last("block_actions").body["actions"][0]["selected_option"]["value"] == "mute"
    assert bot.last("block_actions").body["actions"][0]["block_id"] == "summary"
    assert post(http, slack, "action", {**where, "action_id": "steps", "selected": ["s2", "s1"]}).status_code == 200
    ticked = bot.last("block_actions").body["actions"][0]
    assert [o["value"] for o in ticked["selected_options"]] == ["s1", "s2"]
    sent = len(bot.received)
    for bad in ({"action_id": "severity", "value": "P9"}, {"action_id": "severity"},
                {"action_id": "nope"}, {"action_id": "steps", "selected": ["s3"]}):
        refused = post(http, slack, "action", {**where, **bad})
        assert refused.status_code in (404, 422), (bad, refused.text)
    assert len(bot.received) == sent


def test_a_click_on_an_ephemeral_message_and_its_replacement(http: httpx.Client, slack: LocalSlackServer,
                                                             bot: FakeBot, as_bot: WebClient) -> None:
    channel = incident_channel(slack)
    ephemeral_ts = as_bot.chat_postEphemeral(channel=channel, user=ALICE, text="Confirm?", blocks=BUTTONS)[
        "message_ts"]
    assert channel_of(state(http, slack, BOB), channel)["ephemerals"] == []
    clicked = post(http, slack, "action", {"user": ALICE, "channel": channel, "message_ts": ephemeral_ts,
                                           "action_id": "incident_acknowledge"})
    assert clicked.status_code == 200
    payload = bot.last("block_actions").body
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload
    http.post(payload["response_url"], json={"text": "Confirmed", "replace_original": True})
    assert [(e["ts"], e["text"]) for e in channel_of(state(http, slack, ALICE), channel)["ephemerals"]] == [
        (ephemeral_ts, "Confirmed")]
    assert post(http, slack, "action", {"user": BOB, "channel": channel, "message_ts": ephemeral_ts,
                                        "action_id": "incident_acknowledge"}).status_code == 404
    assert post(http, slack, "dismiss", {"user": ALICE, "channel": channel,
                                         "message_ts": ephemeral_ts}).status_code == 200
    assert channel_of(state(http, slack, ALICE), channel)["ephemerals"] == []


def test_a_message_shortcut_sends_message_action(http: httpx.Client, slack: LocalSlackServer, bot: FakeBot) -> None:
    channel = incident_channel(slack)
    ts = post(http, slack, "message", {"user": BOB, "channel": channel, "text": "p95 is 1.4s"}).json()["ts"]
    sent = post(http, slack, "shortcut", {"user": ALICE, "channel": channel, "message_ts": ts,
                                          "callback_id": "add_to_timeline"})
    assert sent.status_code == 200, sent.text
    payload = bot.last("message_action").body
    assert payload["callback_id"] == "add_to_timeline" and payload["user"]["id"] == ALICE
    assert payload["message"]["text"] == "p95 is 1.4s" and payload["message_ts"] == ts
    assert payload["channel"]["id"] == channel and payload["trigger_id"] and payload["response_url"]
    assert post(http, slack, "shortcut", {"user": ALICE, "channel": channel, "message_ts": ts,
                                          "callback_id": "delete_everything"}).status_code == 404


def test_a_reaction_is_added_then_taken_back_and_the_bot_hears_both(http: httpx.Client, slack: LocalSlackServer,
                                                                     bot: FakeBot, as_bot: WebClient) -> None:
    channel = incident_channel(slack)
    ts = as_bot.chat_postMessage(channel=channel, text="p95 at 1.4s")["ts"]
    added = post(http, slack, "reaction", {"user": ALICE, "channel": channel, "message_ts": ts, "name": "pushpin"})
    assert added.status_code == 200 and added.json()["reaction"] == "reaction_added"
    assert slack.messages(channel)[0].reactions == {"pushpin": [ALICE]}
    envelope = bot.last("event_callback").body
    assert envelope["team_id"] == "T0LOCAL" and envelope["event_id"].startswith("Ev")
    assert envelope["event"] == {"type": "reaction_added", "user": ALICE, "reaction": "pushpin", "item_user": "U0BOT",
                                 "item": {"type": "message", "channel": channel, "ts": ts},
                                 "event_ts": envelope["event"]["event_ts"]}
    assert "application/json" in bot.last("event_callback").content_type
    removed = post(http, slack, "reaction", {"user": ALICE, "channel": channel, "message_ts": ts, "name": "pushpin"})
    assert removed.json()["reaction"] == "reaction_removed" and slack.messages(channel)[0].reactions == {}
    assert bot.last("event_callback").body["event"]["type"] == "reaction_removed"
    assert bot.unsigned == 0


# --- modals -------------------------------------------------------------------------------------------


def test_a_view_opened_with_a_clicks_trigger_is_on_that_persons_screen_only(
        http: httpx.Client, slack: LocalSlackServer, bot: FakeBot, as_bot: WebClient) -> None:
    opened = open_modal_for(BOB, http, slack, as_bot, bot)
    assert [v["id"] for v in state(http, slack, BOB)["modals"]] == [opened["id"]]
    assert state(http, slack, ALICE)["modals"] == []
    # A made-up trigger (as older tests use) opens a view that nobody's screen shows.
    as_bot.views_open(trigger_id="123.456.abc", view=FORM)
    assert len(state(http, slack, BOB)["modals"]) == 1
    assert post(http, slack, "view/submit", {"user": ALICE, "view_id": opened["id"],
                                             "values": {}}).status_code == 404


def test_a_button_in_a_modal_sends_the_view_and_can_push(http: httpx.Client, slack: LocalSlackServer, bot: FakeBot,
                                                        as_bot: WebClient) -> None:
    opened = open_modal_for(ALICE, http, slack, as_bot, bot)
    clicked = post(http, slack, "action", {"user": ALICE, "view_id": opened["id"], "action_id": "emergency_stop",
                                           "values": {"text": {"value": "draft"}}})
    assert clicked.status_code == 200, clicked.text
    payload = bot.last("block_actions").body
    assert payload["container"] == {"type": "view", "view_id": opened["id"]} and "response_url" not in payload
    assert payload["view"]["id"] == opened["id"] and payload["view"]["callback_id"] == "status_update"
    assert payload["view"]["state"]["values"]["text"]["value"] == {"type": "plain_text_input", "value": "draft"}
    assert payload["actions"][0]["action_id"] == "emergency_stop" and payload["actions"][0]["value"] == "svc"
    pushed = as_bot.views_push(trigger_id=payload["trigger_id"], view={**FORM, "callback_id": "confirm"})["view"]
    stack = state(http, slack, ALICE)["modals"]
    assert [v["id"] for v in stack] == [opened["id"], pushed["id"]]
    assert pushed["previous_view_id"] == opened["id"] and pushed["root_view_id"] == opened["id"]


def test_a_submission_carries_state_values_in_slacks_shape(http: httpx.Client, slack: LocalSlackServer,
                                                           bot: FakeBot, as_bot: WebClient) -> None:
    opened = open_modal_for(ALICE, http, slack, as_bot, bot)
    values = {"text": {"value": "p95 back to normal"}, "count": {"value": "4"}, "target": {"value": "model:a"},
              "when": {"value": "2024-05-01"}}
    submitted = post(http, slack, "view/submit", {"user": ALICE, "view_id": opened["id"], "values": values})
    assert submitted.status_code == 200 and submitted.json()["ok"] is True
    payload = bot.last("view_submission").body
    view = payload["view"]
    assert (view["id"], view["hash"], view["callback_id"], view["private_metadata"]) == (
        opened["id"], opened["hash"], "status_update", '{"incident": 7}')
    assert payload["user"]["id"] == ALICE and payload["trigger_id"]
    assert view["state"]["values"] == {
        "text": {"value": {"type": "plain_text_input", "value": "p95 back to normal"}},
        "count": {"value": {"type": "number_input", "value": "4"}},
        "target": {"value": {"type": "static_select", "selected_option": {
            "text": {"type": "plain_text", "text": "Model"}, "value": "model:a"}}},
        "when": {"value": {"type": "datepicker", "selected_date": "2024-05-01"}},
    }
    assert state(http, slack, ALICE)["modals"] == []  # an empty answer closes the view


def test_the_slack_client_checks_fields_before_it_submits(http: httpx.Client, slack: LocalSlackServer,
                                                          bot: FakeBot, as_bot: WebClient) -> None:
    opened = open_modal_for(ALICE, http, slack, as_bot, bot)
    sent = len(bot.received)
    refused = post(http, slack, "view/submit", {"user": ALICE, "view_id": opened["id"],
                                                "values": {"count": {"value": "40"}, "when": {"value": "soon"}}})
    assert refused.status_code == 422
    refused = post(http, slack, "view/submit", {"user": ALICE, "view_id": opened["id"],
                                                "values": {"count": {"value": "2.5"}}})
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"text": "Please complete this required field.",
                                        "count": "Enter a whole number."}
    assert len(bot.received) == sent and len(state(http, slack, ALICE)["modals"]) == 1


def test_response_actions_errors_update_push_and_clear(http: httpx.Client, slack: LocalSlackServer, bot: FakeBot,
                                                       as_bot: WebClient) -> None:
    opened = open_modal_for(ALICE, http, slack, as_bot, bot)
    ok_values = {"text": {"value": "x"}, "count": {"value": "2"}}

    def submit(view_id: str) -> dict[str, Any]:
        response = post(http, slack, "view/submit", {"user": ALICE, "view_id": view_id, "values": ok_values})
        assert response.status_code == 200, response.text
        return response.json()

    bot.answer = answer_json({"response_action": "errors", "errors": {"text": "Say more."}})
    assert submit(opened["id"])["errors"] == {"text": "Say more."}
    assert [v["id"] for v in state(http, slack, ALICE)["modals"]] == [opened["id"]]

    bot.answer = answer_json({"response_action": "update", "view": {**FORM, "title": {"type": "plain_text",
                                                                                        "text": "Review"}}})
    assert submit(opened["id"])["response_action"] == "update"
    (updated,) = state(http, slack, ALICE)["modals"]
    assert updated["id"] == opened["id"] and updated["title"]["text"] == "Review" and updated["hash"] != opened["hash"]

    bot.answer = answer_json({"response_action": "push", "view": {**FORM, "callback_id": "second"}})
    submit(opened["id"])
    stack = state(http, slack, ALICE)["modals"]
    assert [v["callback_id"] for v in stack] == ["status_update", "second"]

    bot.answer = answer_json({"response_action": "update", "view": {"type": "modal"}})  # no title: refused
    bad = submit(stack[1]["id"])
    assert bad["ok"] is False and "would refuse" in bad["error"]

    bot.answer = answer_json({"response_action": "clear"})
    submit(stack[1]["id"])
    assert state(http, slack, ALICE)["modals"] == []


def test_closing_a_modal_takes_it_off_the_stack(http: httpx.Client, slack: LocalSlackServer, bot: FakeBot,
                                                as_bot: WebClient) -> None:
    opened = open_modal_for(ALICE, http, slack, as_bot, bot)
    sent = len(bot.received)
    closed = post(http, slack, "view/close", {"user": ALICE, "view_id": opened["id"]})
    assert closed.status_code == 200 and closed.json()["closed"] == [opened["id"]]
    assert state(http, slack, ALICE)["modals"] == [] and len(bot.received) == sent  # no notify_on_close
    assert post(http, slack, "view/close", {"user": ALICE, "view_id": opened["id"]}).status_code == 404


# --- scenarios ---------------------------------------------------------------------------------------------


def test_scenarios_run_from_the_menu_and_show_their_errors(http: httpx.Client, slack: LocalSlackServer) -> None:
    ran = threading.Event()

    async def works() -> str:
        ran.set()
        return "Opened incident #7"

    async def breaks() -> None:
        raise RuntimeError("the bot is not ready")

    name = f"works-{time.monotonic_ns()}"
    slack.add_scenarios([Scenario(name, "It works", "Sets a flag", works),
                         Scenario(f"{name}-broken", "It breaks", "Raises", breaks)])
    with pytest.raises(ValueError, match="already registered"):
        slack.add_scenarios([Scenario(name, "Again", "", works)])
    with pytest.raises(ValueError, match="letters"):
        Scenario("no spaces", "", "", works)
    listed = {s["name"]: s["title"] for s in state(http, slack, ALICE)["scenarios"]}
    assert listed[name] == "It works"
    started = post(http, slack, "scenario", {"name": name})
    assert started.status_code == 200 and started.json()["started"] is True
    assert ran.wait(5)
    assert post(http, slack, "scenario", {"name": f"{name}-broken"}).status_code == 200
    deadline = time.monotonic() + 5
    while True:
        runs = {r["name"]: r for r in state(http, slack, ALICE)["scenario_runs"]}
        if runs.get(f"{name}-broken", {}).get("state") == "failed" and runs[name]["state"] == "done":
            break
        assert time.monotonic() < deadline, runs
        time.sleep(0.02)
    assert runs[f"{name}-broken"]["error"] == "RuntimeError: the bot is not ready"
    assert runs[name]["note"] == "Opened incident #7" and runs[f"{name}-broken"]["note"] is None
    assert post(http, slack, "scenario", {"name": "nope"}).status_code == 404


# --- files ---------------------------------------------------------------------------------------------


def test_shared_files_are_served_for_the_page(http: httpx.Client, slack: LocalSlackServer,
                                              as_bot: WebClient) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    chart = as_bot.files_upload_v2(channel="general", content=png, filename="p95.png")["file"]
    shown = http.get(f"{slack.root_url}ui/files/{chart['id']}/p95.png")
    assert shown.content == png and shown.headers["content-type"] == "image/png"
    notes = as_bot.files_upload_v2(channel="general", content="# Postmortem\n", filename="pm.md")["file"]
    text = http.get(f"{slack.root_url}ui/files/{notes['id']}/pm.md")
    assert text.text == "# Postmortem\n" and text.headers["content-type"].startswith("text/plain")
    assert http.get(f"{slack.root_url}ui/files/F0NOPE/x.png").status_code == 404


# --- bad input -------------------------------------------------------------------------------------------

ENDPOINTS = ["command", "message", "join", "action", "shortcut", "reaction", "dismiss", "view/submit",
             "view/close", "scenario"]
KEYS = ["user", "channel", "text", "thread_ts", "action_id", "block_id", "message_ts", "view_id", "value",
        "selected", "values", "callback_id", "name"]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
# Mostly the endpoints' own keys with wrong or unknown values, so validation goes past the types.
BODIES = st.one_of(JSON, st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6),
                   st.dictionaries(st.sampled_from(KEYS), st.text(max_size=12), max_size=6))


def assert_clear_refusal(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert body["ok"] is False and isinstance(body["error"], str) and body["error"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(ENDPOINTS), body=BODIES)
def test_random_json_bodies_get_a_clear_4xx(http: httpx.Client, server: LocalSlackServer, endpoint: str,
                                           body: Any) -> None:
    assert_clear_refusal(http.post(f"{server.root_url}ui/api/{endpoint}", json=body))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(ENDPOINTS), raw=st.binary(max_size=64))
def test_bodies_that_are_not_json_get_a_clear_4xx(http: httpx.Client, server: LocalSlackServer, endpoint: str,
                                                 raw: bytes) -> None:
    url = f"{server.root_url}ui/api/{endpoint}"
    assert_clear_refusal(http.post(url, content=b"\xff" + raw, headers={"Content-Type": "application/json"}))
    assert_clear_refusal(http.post(url, content=raw, headers={"Content-Type": "text/plain"}))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user=st.text(min_size=1, max_size=20).filter(lambda u: not u.startswith("U0")))
def test_state_for_an_unknown_person_is_a_404(http: httpx.Client, server: LocalSlackServer, user: str) -> None:
    assert_clear_refusal(http.get(f"{server.root_url}ui/api/state", params={"user": user}))
