"""Things attached to messages and channels: pins, reactions, bookmarks."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.models import TEAM_ID, Channel, Message, Pin, SlackError
from sandbox.workspace import Call, Workspace


def _pinned_item(ws: Workspace, call: Call) -> tuple[Channel, Message]:
    channel = ws.visible_channel(call)
    ts = call.text("timestamp")
    if not ts:
        raise SlackError("no_item_specified")
    return channel, ws.message(channel, ts)


def pins_add(ws: Workspace, call: Call) -> dict[str, Any]:
    channel, message = _pinned_item(ws, call)
    if any(p.ts == message.ts for p in channel.pins):
        raise SlackError("already_pinned")
    channel.pins.append(Pin(message.ts, ws.now(), call.caller.id))
    return {}


def pins_remove(ws: Workspace, call: Call) -> dict[str, Any]:
    channel, message = _pinned_item(ws, call)
    if not any(p.ts == message.ts for p in channel.pins):
        raise SlackError("no_pin")
    channel.pins = [p for p in channel.pins if p.ts != message.ts]
    return {}


def pins_list(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.visible_channel(call)
    items = []
    for pin in channel.pins:
        message = channel.find(pin.ts)
        if message is not None:
            items.append({"type": "message", "created": pin.created,
                          "created_by": pin.created_by, "channel": channel.id,
                          "message": channel.message_api(message)})
    return {"items": items}


def _reaction_target(ws: Workspace, call: Call) -> tuple[Channel, Message, str]:
    channel = ws.visible_channel(call)
    message = ws.message(channel, call.text("timestamp"))
    return channel, message, call.text("name").strip(":")


def reactions_add(ws: Workspace, call: Call) -> dict[str, Any]:
    _, message, name = _reaction_target(ws, call)
    if not name:
        raise SlackError("invalid_name")
    users = message.reactions.setdefault(name, [])
    if call.caller.id in users:
        raise SlackError("already_reacted")
    users.append(call.caller.id)
    return {}


def reactions_remove(ws: Workspace, call: Call) -> dict[str, Any]:
    _, message, name = _reaction_target(ws, call)
    users = message.reactions.get(name, [])
    if call.caller.id not in users:
        raise SlackError("no_reaction")
    users.remove(call.caller.id)
    if not users:
        del message.reactions[name]
    return {}


def reactions_get(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.visible_channel(call)
    message = ws.message(channel, call.text("timestamp"))
    return {"type": "message", "channel": channel.id, "message": channel.message_api(message)}


def bookmarks_add(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.visible_channel(call, "channel_id")
    kind = call.text("type", "link")
    if kind != "link":
        raise SlackError("invalid_bookmark_type")
    if not call.text("title") or not call.text("link"):
        raise SlackError("invalid_arguments")
    taken = {b["id"]: b for c in ws.channels.values() for b in c.bookmarks}
    now = ws.now()
    bookmark = {"id": ws.new_id("Bk0", taken, 8), "channel_id": channel.id,
                "title": call.text("title"), "link": call.text("link"),
                "emoji": call.text("emoji") or None, "icon_url": None, "type": kind,
                "entity_id": None, "date_created": now, "date_updated": 0,
                "rank": str(len(channel.bookmarks)), "last_updated_by_user_id": call.caller.id,
                "last_updated_by_team_id": TEAM_ID, "shortcut_id": None, "app_id": None}
    channel.bookmarks.append(bookmark)
    return {"bookmark": copy.deepcopy(bookmark)}


def bookmarks_list(ws: Workspace, call: Call) -> dict[str, Any]:
    return {"bookmarks": copy.deepcopy(ws.visible_channel(call, "channel_id").bookmarks)}
