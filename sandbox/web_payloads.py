"""What Slack sends the bot, signed as Slack signs it, and how the bot's answer comes back.

The builders here make the requests a Slack workspace would make of an app: a slash command's
form, an interaction payload (``block_actions``, ``view_submission``, ...), an Events API
envelope; :func:`post_to_bot` signs one (HMAC v0) and posts it, and :func:`outcome_of` is what
the page is told about the bot's answer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.models import (
    APP_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    Channel,
    User,
    View,
)
from sandbox.web_bodies import WebError

# Slack gives up on an app that has not answered in 3 s; the sandbox waits longer (a bot under a
# debugger is still worth watching) and says when Slack would have shown a timeout.
SLACK_ACK_SECONDS = 3.0
BOT_TIMEOUT_SECONDS = 15.0


def _user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID}


def _team_json() -> dict[str, Any]:
    return {"id": TEAM_ID, "domain": TEAM_DOMAIN}


def new_trigger_id() -> str:
    # The shape of Slack's (digits.digits.hex); unique, so it names one person's one action.
    return f"{int(time.time())}.{secrets.randbelow(10**9)}.{uuid.uuid4().hex[:24]}"


def channel_name(channel: Channel) -> str:
    return "directmessage" if channel.is_im else channel.name


def channel_type(channel: Channel) -> str:
    return "im" if channel.is_im else "group" if channel.is_private else "channel"


def slash_command_form(user: User, channel: Channel, command: str, text: str, *, response_url: str,
                       trigger_id: str) -> dict[str, str]:
    return {"token": "sandbox", "team_id": TEAM_ID, "team_domain": TEAM_DOMAIN, "channel_id": channel.id,
            "channel_name": channel_name(channel), "user_id": user.id, "user_name": user.name,
            "command": command, "text": text, "api_app_id": APP_ID, "is_enterprise_install": "false",
            "response_url": response_url, "trigger_id": trigger_id}


def interaction(kind: str, user: User, trigger_id: str | None, **fields: Any) -> dict[str, Any]:
    payload = {"type": kind, "team": _team_json(), "user": _user_json(user), "api_app_id": APP_ID,
               "token": "sandbox", "enterprise": None, "is_enterprise_install": False, **fields}
    if trigger_id is not None:  # view_closed carries none
        payload["trigger_id"] = trigger_id
    return payload


def event_envelope(event: dict[str, Any]) -> dict[str, Any]:
    return {"token": "sandbox", "team_id": TEAM_ID, "api_app_id": APP_ID, "event": event,
            "type": "event_callback", "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()), "is_ext_shared_channel": False,
            "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                                "is_bot": True, "is_enterprise_install": False}]}


def view_with_state(view: View, values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    body = view.to_api()
    body["state"] = {"values": values}
    return body


def signed_headers(body: bytes, secret: str, content_type: str) -> dict[str, str]:
    # The v0 scheme of sandbox.runner.slack_signature_headers; not imported from there,
    # because runner brings in the bot's database layer and the sandbox must start without it.
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": content_type}


@dataclass(frozen=True)
class BotAnswer:
    """How the bot answered one forwarded request."""

    status: int
    body: Any  # parsed JSON, or the text (cut short), or "" for an empty body
    seconds: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body, "ms": round(self.seconds * 1000)}


def _parsed(response: httpx.Response) -> Any:
    if not response.content:
        return ""
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            return response.json()
        except ValueError:
            pass
    return response.text[:4000]


async def post_to_bot(url: str, secret: str, body: bytes, content_type: str) -> BotAnswer:
    """Sign ``body`` as Slack would and post it to the bot; a bot that cannot be reached is a 502."""
    headers = signed_headers(body, secret, content_type)
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=BOT_TIMEOUT_SECONDS) as http:
            response = await http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise WebError(502, f"the bot at {url} did not answer: {exc!r}") from None
    return BotAnswer(response.status_code, _parsed(response), time.monotonic() - started)


def outcome_of(answer: BotAnswer | None, **extra: Any) -> dict[str, Any]:
    """What the page is told: ``ok``, the bot's answer (None when nothing was sent), and a warning
    where Slack would have given up waiting."""
    result: dict[str, Any] = {"ok": answer is None or answer.ok,
                              "bot": answer.to_json() if answer else None, **extra}
    if answer is not None and not answer.ok:
        result["error"] = f"the bot answered HTTP {answer.status}"
    if answer is not None and answer.seconds > SLACK_ACK_SECONDS:
        result["warning"] = (f"the bot took {answer.seconds:.1f} s to answer; Slack gives up after "
                             f"{SLACK_ACK_SECONDS:.0f} s and shows the person an error")
    return result
