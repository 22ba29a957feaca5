"""Running the bot on loopback and talking to it as Slack would: for the demo and the tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.parse
import uuid
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine, func, select

from storage.db import sync_url
from storage.models import OutboxMessage, WebhookDelivery

TEAM_ID = "T0LOCAL"


class ThreadedServer:
    """An ASGI app under uvicorn in a background thread, on a free loopback port."""

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> ThreadedServer:
        # Naming IPPROTO_TCP matters: with protocol 0 asyncio never sets TCP_NODELAY, and every
        # keep-alive response then waits ~40 ms for Nagle's algorithm.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind((self.host, 0))
        self.url = f"http://{self.host}:{sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the bot did not start; see the log above")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout)
        self._server = self._thread = None


def slack_signature_headers(body: bytes, *, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers exactly as Slack signs a request: v0=HMAC-SHA256(secret, "v0:{ts}:{body}")."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


class SignedSlackClient:
    """Sends one person's slash commands, clicks and form submissions to the bot, signed."""

    def __init__(self, *, bot_url: str, secret: str, user_id: str, http: httpx.Client,
                 response_url_for: Any) -> None:
        self.bot_url = bot_url
        self.secret = secret
        self.user_id = user_id
        self.http = http
        self._response_url_for = response_url_for
        self.last_response_name = ""

    def post(self, form: dict[str, str]) -> httpx.Response:
        body = urllib.parse.urlencode(form).encode()
        return self.http.post(f"{self.bot_url}/slack/events", content=body,
                              headers=slack_signature_headers(body, secret=self.secret))

    def _new_response_url(self, prefix: str) -> str:
        self.last_response_name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        return str(self._response_url_for(self.last_response_name))

    def command(self, text: str, *, channel: str, trigger_id: str | None = None) -> httpx.Response:
        return self.post(
            {
                "token": "unused", "team_id": TEAM_ID, "team_domain": "local", "channel_id": channel,
                "channel_name": "", "user_id": self.user_id, "user_name": self.user_id.lower(),
                "command": "/incident", "text": text, "api_app_id": "A0LOCAL", "is_enterprise_install": "false",
                "response_url": self._new_response_url("cmd"),
                "trigger_id": trigger_id or f"trig.{uuid.uuid4().hex}",
            }
        )

    def click(self, action_id: str, *, channel: str, message_ts: str, block_id: str = "",
              value: str | None = None) -> httpx.Response:
        """A button in a message (``message_ts``; an ephemeral message has its own ts too)."""
        return self.interact(_button(action_id, block_id, value), channel=channel, message_ts=message_ts)

    def tick(self, action_id: str, *, channel: str, message_ts: str, block_id: str, value: str,
             checked: bool) -> httpx.Response:
        """A checkbox in a message: Slack sends the options selected after the click."""
        option = {"text": {"type": "plain_text", "text": value}, "value": value}
        element = {"type": "checkboxes", "action_id": action_id, "block_id": block_id, "action_ts": str(time.time()),
                   "selected_options": [option] if checked else []}
        return self.interact(element, channel=channel, message_ts=message_ts)

    def choose(self, action_id: str, *, channel: str, message_ts: str, block_id: str, value: str) -> httpx.Response:
        """An option of a static select in a message."""
        element = {"type": "static_select", "action_id": action_id, "block_id": block_id,
                   "action_ts": str(time.time()),
                   "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value}}
        return self.interact(element, channel=channel, message_ts=message_ts)

    def interact(self, element: dict[str, Any], *, channel: str, message_ts: str) -> httpx.Response:
        """A ``block_actions`` delivery for one interactive element of a channel message."""
        payload = {
            "type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": self.user_id},
            "api_app_id": "A0LOCAL", "trigger_id": f"trig.{uuid.uuid4().hex}",
            "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel, "message_ts": message_ts},
            "message": {"ts": message_ts}, "response_url": self._new_response_url("act"),
            "actions": [element],
        }
        return self.post({"payload": json.dumps(payload)})

    def click_in_view(self, action_id: str, *, view: dict[str, Any], block_id: str = "",
                      value: str | None = None) -> httpx.Response:
        """A button inside an open modal: Slack sends the view, and no channel or response_url."""
        button = _button(action_id, block_id, value)
        payload = {
            "type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": self.user_id},
            "api_app_id": "A0LOCAL", "trigger_id": f"trig.{uuid.uuid4().hex}",
            "container": {"type": "view", "view_id": view.get("id", "")}, "view": view,
            "actions": [button],
        }
        return self.post({"payload": json.dumps(payload)})

    def shortcut(self, callback_id: str, *, channel: str, message: dict[str, Any]) -> httpx.Response:
        """A message shortcut, as Slack sends it (``message_action``), on ``message``."""
        payload = {
            "type": "message_action", "callback_id": callback_id, "team": {"id": TEAM_ID},
            "user": {"id": self.user_id}, "channel": {"id": channel}, "message": message,
            "message_ts": message.get("ts"), "trigger_id": f"trig.{uuid.uuid4().hex}",
            "response_url": self._new_response_url("sc"), "api_app_id": "A0LOCAL",
        }
        return self.post({"payload": json.dumps(payload)})

    def event(self, event: dict[str, Any]) -> httpx.Response:
        """An Events API delivery (``event_callback``), JSON and signed, as Slack sends it."""
        envelope = {"token": "unused", "team_id": TEAM_ID, "api_app_id": "A0LOCAL", "type": "event_callback",
                    "event": event, "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time())}
        body = json.dumps(envelope).encode()
        headers = {**slack_signature_headers(body, secret=self.secret), "Content-Type": "application/json"}
        return self.http.post(f"{self.bot_url}/slack/events", content=body, headers=headers)

    def react(self, name: str, *, channel: str, ts: str, removed: bool = False) -> httpx.Response:
        """This person added (or removed) a reaction on a message."""
        return self.event({"type": "reaction_removed" if removed else "reaction_added", "user": self.user_id,
                           "reaction": name, "item": {"type": "message", "channel": channel, "ts": ts},
                           "event_ts": str(time.time())})

    def submit_view(self, view: dict[str, Any], values: dict[str, Any]) -> httpx.Response:
        payload = {
            "type": "view_submission", "team": {"id": TEAM_ID}, "user": {"id": self.user_id},
            "api_app_id": "A0LOCAL", "trigger_id": f"trig.{uuid.uuid4().hex}",
            "view": {**view, "state": {"values": values}},
        }
        return self.post({"payload": json.dumps(payload)})


def _button(action_id: str, block_id: str, value: str | None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id, "block_id": block_id,
                              "action_ts": str(time.time())}
    if value is not None:
        button["value"] = value
    return button


class OutboxProbe:
    """Watches the bot's outbox from outside the bot, to know when Slack has caught up."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(sync_url(database_url))

    def pending(self) -> int:
        """Slack writes still to make, counting the webhook deliveries still to apply (each may
        queue some): zero means the bot has caught up with everything it acknowledged."""
        # Deliveries first: one counted as applied committed its writes with it, so the count of
        # writes after it sees them. The other way round, a pass committing between the two
        # counts hid both (seen on PostgreSQL: "drained" before the incident had its channel).
        deliveries = self.deliveries_to_apply()
        with self.engine.connect() as conn:
            writes = conn.scalar(select(func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.state == "pending"))
        return int(writes or 0) + deliveries

    def deliveries_to_apply(self) -> int:
        """Webhook deliveries acknowledged and not yet applied (the bot applies them after the 2xx)."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(WebhookDelivery)
                                   .where(WebhookDelivery.outcome == "pending")) or 0)

    def states(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all()
        deliveries = self.deliveries_to_apply()
        states = {state: count for state, count in rows}
        if deliveries:  # named only while some wait, so a settled bot shows only its writes
            states["deliveries to apply"] = deliveries
        return states

    def wait_drained(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                raise TimeoutError(f"Slack writes still pending after {timeout}s: {self.states()}")
            time.sleep(0.05)

    def dispose(self) -> None:
        self.engine.dispose()
