"""chat.* methods: posting, editing and deleting messages."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.methods.common import message_content, post_message, thread_root
from sandbox.models import Ephemeral, MessageVersion, SlackError
from sandbox.workspace import Call, Workspace


def chat_post_message(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.writable_channel(call)
    text, blocks, attachments = message_content(call)
    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    metadata = call.params.get("metadata")
    message = post_message(
        ws, channel, call.caller, text=text, blocks=blocks, attachments=attachments,
        thread_ts=thread_root(channel, call.text("thread_ts")),
        metadata=metadata if isinstance(metadata, dict) else None,
        reply_broadcast=call.flag("reply_broadcast"))
    return {"channel": channel.id, "ts": message.ts, "message": message.to_api()}


def chat_update(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.visible_channel(call)
    message = ws.message(channel, call.text("ts"))
    if message.user != call.caller.id:
        raise SlackError("cant_update_message")
    text, blocks, attachments = message_content(call)
    given = {name: name in call.params for name in ("text", "blocks", "attachments")}
    if not any(given.values()):
        raise SlackError("no_text")
    message.history.append(MessageVersion(message.text, copy.deepcopy(message.blocks),
                                          copy.deepcopy(message.attachments)))
    # Slack keeps blocks and attachments that an update leaves out; [] removes them.
    if given["text"]:
        message.text = text
    if given["blocks"]:
        message.blocks = blocks
    if given["attachments"]:
        message.attachments = attachments
    message.edited = {"user": call.caller.id, "ts": ws.next_ts()}
    return {"channel": channel.id, "ts": message.ts, "text": message.text,
            "message": message.to_api()}


def chat_delete(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.visible_channel(call)
    message = ws.message(channel, call.text("ts"))
    if message.user != call.caller.id:
        raise SlackError("cant_delete_message")
    channel.messages.remove(message)
    channel.pins = [p for p in channel.pins if p.ts != message.ts]
    return {"channel": channel.id, "ts": message.ts}


def chat_post_ephemeral(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.writable_channel(call)
    user = call.text("user")
    if user not in ws.users:
        raise SlackError("user_not_found")
    if user not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks, attachments = message_content(call)
    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    ephemeral = Ephemeral(channel.id, user, text, blocks, ws.next_ts(),
                          call.text("thread_ts") or None)
    channel.ephemerals.append(ephemeral)
    return {"message_ts": ephemeral.message_ts}


def chat_get_permalink(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.visible_channel(call)
    message = ws.message(channel, call.text("message_ts"))
    link = f"{call.root_url}archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}
