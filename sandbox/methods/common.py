"""Helpers that several method modules share: paging, validation, posting."""

from __future__ import annotations

import base64
import copy
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.models import MAX_BLOCKS, MAX_TEXT, Channel, Message, SlackError, User
from sandbox.workspace import Call, Workspace

Blocks = list[dict[str, Any]]

def checked_blocks(value: Any, *, limit: int = MAX_BLOCKS,
                   error: str = "invalid_blocks") -> Blocks | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):  # a form field that was not valid JSON
        raise SlackError("invalid_blocks_format" if error == "invalid_blocks" else error)
    if (not isinstance(value, list) or len(value) > limit
            or not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in value)):
        raise SlackError(error)
    return copy.deepcopy(value)


def checked_attachments(value: Any) -> Blocks | None:
    if value is None or value == "":
        return None
    if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
        raise SlackError("invalid_attachments")
    return copy.deepcopy(value)


def ts_key(ts: str, error: str = "invalid_ts") -> Decimal:
    try:
        return Decimal(ts)
    except InvalidOperation as exc:
        raise SlackError(error) from exc


def page(items: list[Any], call: Call, default_limit: int = 100) -> tuple[list[Any], str]:
    """Slack cursor paging: a page of items and the next cursor ('' on the last page)."""
    limit = call.number("limit", default_limit, error="invalid_limit") or default_limit
    limit = max(1, min(limit, 1000))
    cursor = call.text("cursor")
    start = 0
    if cursor:
        try:
            start = int(base64.b64decode(cursor.encode()).decode().removeprefix("offset:"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise SlackError("invalid_cursor") from exc
    end = start + limit
    next_cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
    return items[start:end], next_cursor


def paged(items: list[Any], call: Call, key: str) -> dict[str, Any]:
    chunk, next_cursor = page(items, call)
    return {key: chunk, "response_metadata": {"next_cursor": next_cursor}}


def message_content(call: Call) -> tuple[str, Blocks | None, Blocks | None]:
    """Text, blocks and attachments of a post or update, checked as Slack checks them."""
    text = call.text("text")
    blocks = checked_blocks(call.params.get("blocks"))
    attachments = checked_attachments(call.params.get("attachments"))
    if len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    return text, blocks, attachments


def thread_root(channel: Channel, thread_ts: str) -> str | None:
    """The parent ts to reply under: a reply's ts means its thread, as in Slack."""
    if not thread_ts:
        return None
    target = channel.find(thread_ts)
    if target is None:
        raise SlackError("thread_not_found")
    return target.thread_ts if target.is_reply else target.ts


def post_message(ws: Workspace, channel: Channel, caller: User, **fields: Any) -> Message:
    message = Message(ts=ws.next_ts(), channel=channel.id, user=caller.id,
                      bot_id=caller.bot_id, **fields)
    channel.messages.append(message)
    return message
