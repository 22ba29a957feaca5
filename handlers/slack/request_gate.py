"""What every HTTP request to /slack/events passes before Bolt sees it.

In order: a body of sane size and UTF-8, Slack's signature, nesting a parser can take, and one
effect per request. Only what Slack signed decides anything here: the retry header and the
content type are the sender's words, so neither can switch a check off.

One effect per request: the signature names a request (it covers the timestamp and the body),
and a second arrival of it is a replay, refused with 401 like a forgery. An Events API event is
named by its signed ``event_id`` instead, because Slack re-signs each retry of an event with a
fresh timestamp: a retry, or a replay, of an event already taken is answered 200 (so Slack stops
retrying) and not acted on again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi.responses import JSONResponse
from slack_sdk.signature import SignatureVerifier

from handlers.payloads import TooDeeplyNested, check_json_depth, object_or_empty
from handlers.slack.replay_guard import ReplayGuard, SharedReplays

security_log = logging.getLogger("incident_bot.security")

# Slack retries an event three times, the last about five minutes after the first; each retry's
# signature stays good for five minutes more. An event id is remembered past all of that.
EVENT_RETRY_SPAN_SECONDS = 10 * 60
# Event ids are Slack's ("Ev0123ABC"); anything far longer is not one, and is not stored as one.
MAX_EVENT_ID = 64


class Refusal(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.error}, status_code=self.status)


@dataclass(frozen=True)
class SlackRequestGate:
    # None without a signing secret (Socket Mode): then nothing over HTTP can be trusted.
    verifier: SignatureVerifier | None
    replays: ReplayGuard
    # On PostgreSQL, what every replica has taken; None on SQLite (one process).
    shared: SharedReplays | None

    async def admit(self, body: bytes, headers: Mapping[str, str], *, client: str) -> JSONResponse | None:
        """None to hand the request to Bolt; otherwise the answer to give instead."""
        try:
            text = _utf8(body)
            if not self._signed_by_slack(body, headers):
                raise Refusal(401, "invalid request")
            _check_nesting(text)
        except Refusal as refusal:
            return refusal.response()
        timestamp = headers.get("x-slack-request-timestamp", "")
        event_id = _event_id(text)
        if event_id is not None:
            key = f"event:{event_id}"
            expires_at = self.replays.expires_at(timestamp) + EVENT_RETRY_SPAN_SECONDS
            if not await self._first_time(key, expires_at):
                security_log.info("answered a repeated Slack event %s without acting on it again", event_id)
                return JSONResponse({"ok": True, "duplicate_event": event_id})
            return None
        if not await self._first_time(headers.get("x-slack-signature", ""), self.replays.expires_at(timestamp)):
            security_log.warning("refused a replayed Slack request from %s", client)
            return JSONResponse({"error": "invalid request"}, status_code=401)
        return None

    def _signed_by_slack(self, body: bytes, headers: Mapping[str, str]) -> bool:
        if self.verifier is None:
            return False
        try:
            return self.verifier.is_valid_request(body, dict(headers))
        except ValueError:  # slack_sdk int()s the timestamp header unchecked: "yesterday" is a forgery too
            return False

    async def _first_time(self, key: str, expires_at: float) -> bool:
        """Not seen by this process, nor (on a shared database) by another replica."""
        if not self.replays.first_time(key=key, expires_at=expires_at):
            return False
        return self.shared is None or await self.shared.first_time(key=key, expires_at=expires_at)


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refusal(400, "the body must be UTF-8") from exc


def _check_nesting(text: str) -> None:
    """Refuse what Bolt's json.loads would recurse too deep into: the body, or a form's payload.

    Both are checked whatever the content type says, since Bolt decides by the body's first
    character as well as by the header.
    """
    try:
        check_json_depth(text)
        if "payload" in text:
            for name, value in parse_qsl(text, keep_blank_values=True):
                if name == "payload":
                    check_json_depth(value)
    except TooDeeplyNested as exc:
        raise Refusal(400, f"malformed Slack request: {exc}") from exc


def _event_id(text: str) -> str | None:
    """The signed ``event_id`` of an Events API delivery, or None for anything else.

    Only a body that is itself a JSON ``event_callback`` counts: a form (a command, a click) can
    never pass for an event, whatever its content type claims.
    """
    if not text.lstrip().startswith("{"):
        return None
    try:
        envelope = object_or_empty(json.loads(text))
    except ValueError:
        return None
    event_id = envelope.get("event_id")
    if envelope.get("type") != "event_callback" or not isinstance(event_id, str):
        return None
    if not 0 < len(event_id) <= MAX_EVENT_ID:
        return None
    return event_id
