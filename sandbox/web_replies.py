"""The bot's answers as the Slack client applies them to the workspace, and where they go.

A slash command's JSON answer and a post to a ``response_url`` become a message (usually one only
that person sees), honouring ``replace_original`` and ``delete_original``; a view submission's
``response_action`` updates, pushes or closes that person's modals.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.methods import views as view_methods
from sandbox.methods.common import post_message
from sandbox.models import (
    BOT_USER_ID,
    Channel,
    Ephemeral,
    Message,
    MessageVersion,
    SlackError,
)
from sandbox.workspace import Workspace


@dataclass(frozen=True)
class ReplyTarget:
    """Where answers to one interaction go: the person, the channel, and the message used."""

    user: str
    channel: str
    message_ts: str | None = None
    ephemeral: bool = False
    thread_ts: str | None = None


class ReplyTargets:
    """Where each response_url the UI handed out answers to, by its name (the latest ``limit``)."""

    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()
        self._targets: dict[str, ReplyTarget] = {}
        self._limit = limit

    def add(self, name: str, target: ReplyTarget) -> None:
        with self._lock:
            self._targets[name] = target
            while len(self._targets) > self._limit:  # oldest first (dict order)
                del self._targets[next(iter(self._targets))]

    def retarget(self, name: str, target: ReplyTarget) -> None:
        with self._lock:
            if name in self._targets:
                self._targets[name] = target

    def get(self, name: str) -> ReplyTarget | None:
        with self._lock:
            return self._targets.get(name)


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _reply_content(body: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]] | None]:
    text = body.get("text") if isinstance(body.get("text"), str) else ""
    blocks = body.get("blocks")
    if not (isinstance(blocks, list) and all(isinstance(b, dict) for b in blocks)):
        blocks = None
    return str(text), copy.deepcopy(blocks)


def apply_reply(ws: Workspace, target: ReplyTarget, body: Mapping[str, Any]) -> str | None:
    """Show an answer (a command's JSON answer, or a post to a response_url) as Slack does.

    Returns the ts of the message it wrote or changed, None if there was nothing to show.
    """
    with ws.lock:
        channel = ws.channels.get(target.channel)
        if channel is None:
            return None
        text, blocks = _reply_content(body)
        original = _original(channel, target)
        if _flag(body.get("delete_original")) and original is not None:
            _remove(channel, original)
            return None
        if not text and not blocks:
            return None
        if _flag(body.get("replace_original")) and original is not None:
            _replace(ws, original, text, blocks)
            return original.message_ts if isinstance(original, Ephemeral) else original.ts
        thread_ts = body.get("thread_ts") if isinstance(body.get("thread_ts"), str) else target.thread_ts
        if body.get("response_type") == "in_channel":
            return post_message(ws, channel, ws.users[BOT_USER_ID], text=text, blocks=blocks,
                                thread_ts=thread_ts if thread_ts and channel.find(thread_ts) else None).ts
        ephemeral = Ephemeral(channel.id, target.user, text, blocks, ws.next_ts(), thread_ts)
        channel.ephemerals.append(ephemeral)
        return ephemeral.message_ts


def _original(channel: Channel, target: ReplyTarget) -> Message | Ephemeral | None:
    if target.message_ts is None:
        return None
    if target.ephemeral:
        return next((e for e in channel.ephemerals
                     if e.message_ts == target.message_ts and e.user == target.user), None)
    return channel.find(target.message_ts)


def _remove(channel: Channel, original: Message | Ephemeral) -> None:
    if isinstance(original, Ephemeral):
        channel.ephemerals.remove(original)
    else:
        channel.messages.remove(original)
        channel.pins = [p for p in channel.pins if p.ts != original.ts]


def _replace(ws: Workspace, original: Message | Ephemeral, text: str,
             blocks: list[dict[str, Any]] | None) -> None:
    if isinstance(original, Message):
        original.history.append(MessageVersion(original.text, copy.deepcopy(original.blocks),
                                               copy.deepcopy(original.attachments)))
        original.edited = {"user": BOT_USER_ID, "ts": ws.next_ts()}
    original.text, original.blocks = text, blocks


def apply_response_action(ws: Workspace, user: str, view_id: str, body: Any) -> dict[str, Any]:
    """Apply a view submission's answer (``response_action``) to that person's modal stack."""
    body = body if isinstance(body, dict) else {}
    action = body.get("response_action")
    with ws.lock:
        try:
            if action == "errors":
                errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
                return {"response_action": action, "errors": {str(k): str(v) for k, v in errors.items()}}
            if action == "update":
                view_methods.replace_view(ws, view_id, body.get("view"))
            elif action == "push":
                payload = view_methods.checked_view_payload(body.get("view"))
                view_methods.push_view(ws, user, payload, previous=ws.views.get(view_id))
            elif action in ("clear", None):
                view_methods.close_views(ws, user, view_id, everything=action == "clear")
            else:
                return {"ok": False, "error": f"the bot answered an unknown response_action {action!r}"}
        except SlackError as exc:
            detail = "; ".join(exc.extra.get("response_metadata", {}).get("messages", [])) or exc.code
            return {"ok": False, "response_action": action,
                    "error": f"Slack would refuse the bot's response_action {action}: {detail}"}
    return {"response_action": action}
