"""conversations.* methods: channels, membership, topics, history and threads."""

from __future__ import annotations

from typing import Any

from sandbox.methods.common import page, paged, ts_key
from sandbox.models import (
    MAX_TOPIC,
    Channel,
    ChannelSpec,
    SlackError,
    Topic,
    channel_name_problem,
)
from sandbox.workspace import Call, Workspace


def conversations_create(ws: Workspace, call: Call) -> dict[str, Any]:
    name = call.text("name")
    problem = channel_name_problem(name)
    if problem:
        raise SlackError(problem)
    if ws.by_name(name):
        raise SlackError("name_taken")
    channel_id = ws.add_channel(
        ChannelSpec(name, is_private=call.flag("is_private"), members=(call.caller.id,)),
        creator=call.caller.id)
    return {"channel": ws.channels[channel_id].to_api(call.caller.id)}


def conversations_info(ws: Workspace, call: Call) -> dict[str, Any]:
    return {"channel": ws.visible_channel(call).to_api(call.caller.id)}


def conversations_list(ws: Workspace, call: Call) -> dict[str, Any]:
    types = set(call.items("types") or ["public_channel"])
    me = call.caller.id

    def listed(c: Channel) -> bool:
        if call.flag("exclude_archived") and c.is_archived:
            return False
        if c.is_im:
            return "im" in types and me in c.members
        if c.is_private:
            return "private_channel" in types and me in c.members
        return "public_channel" in types

    found = [c.to_api(me) for c in ws.channels.values() if listed(c)]
    return paged(found, call, "channels")


def conversations_join(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.visible_channel(call)
    if channel.is_private or channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    body: dict[str, Any] = {}
    if call.caller.id in channel.members:
        body = {"warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]}}
    else:
        channel.members.append(call.caller.id)
    return {"channel": channel.to_api(call.caller.id), **body}


def conversations_leave(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.visible_channel(call)
    if call.caller.id not in channel.members:
        return {"not_in_channel": True}
    channel.members.remove(call.caller.id)
    return {}


def conversations_members(ws: Workspace, call: Call) -> dict[str, Any]:
    return paged(list(ws.visible_channel(call).members), call, "members")


def _invite_problem(ws: Workspace, channel: Channel, caller: str, user: str) -> str | None:
    if user not in ws.users:
        return "user_not_found"
    if user == caller:
        return "cant_invite_self"
    if user in channel.members:
        return "already_in_channel"
    return None


def conversations_invite(ws: Workspace, call: Call) -> dict[str, Any]:
    """Invite users; with ``force``, the valid ones join even when others fail.

    Failures answer ``ok: false`` with the first error and an ``errors`` array of
    ``{user, ok, error}``, as Slack's error schema for this method has it.
    """
    channel = ws.visible_channel(call)
    if channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    if call.caller.id not in channel.members:
        raise SlackError("not_in_channel")
    users = list(dict.fromkeys(call.items("users")))
    if not users:
        raise SlackError("no_user")
    if len(users) > 1000:
        raise SlackError("too_many_users")
    problems = {u: p for u in users if (p := _invite_problem(ws, channel, call.caller.id, u))}
    if not problems or call.flag("force"):
        channel.members.extend(u for u in users if u not in problems)
    if problems:
        errors = [{"user": u, "ok": False, "error": p} for u, p in problems.items()]
        raise SlackError(next(iter(problems.values())), errors=errors)
    return {"channel": channel.to_api(call.caller.id)}


def _set_topic_like(ws: Workspace, call: Call, param: str, attribute: str) -> dict[str, Any]:
    channel = ws.visible_channel(call)
    if channel.is_archived:
        raise SlackError("is_archived")
    if call.caller.id not in channel.members:
        raise SlackError("not_in_channel")
    value = call.text(param)
    if len(value) > MAX_TOPIC:
        raise SlackError("too_long")
    setattr(channel, attribute, Topic(value, call.caller.id, ws.now()))
    return {"channel": channel.to_api(call.caller.id), param: value}


def conversations_set_topic(ws: Workspace, call: Call) -> dict[str, Any]:
    return _set_topic_like(ws, call, "topic", "topic")


def conversations_set_purpose(ws: Workspace, call: Call) -> dict[str, Any]:
    return _set_topic_like(ws, call, "purpose", "purpose")


def conversations_archive(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.visible_channel(call)
    if channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.name == "general":
        raise SlackError("cant_archive_general")
    if channel.is_archived:
        raise SlackError("already_archived")
    channel.is_archived = True
    return {}


def conversations_unarchive(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.visible_channel(call)
    if not channel.is_archived:
        raise SlackError("not_archived")
    channel.is_archived = False
    return {}


def conversations_open(ws: Workspace, call: Call) -> dict[str, Any]:
    users = call.items("users")
    if len(users) != 1:  # group DMs are out of the sandbox's scope
        raise SlackError("invalid_arguments" if users else "users_list_not_supplied")
    if users[0] not in ws.users:
        raise SlackError("user_not_found")
    channel = ws.open_im(call.caller.id, users[0])
    info = channel.to_api(call.caller.id) if call.flag("return_im") else {"id": channel.id}
    return {"channel": info}


def _in_window(ts: str, call: Call) -> bool:
    inclusive = call.flag("inclusive")
    key = ts_key(ts)
    if call.text("oldest"):
        oldest = ts_key(call.text("oldest"), "invalid_ts_oldest")
        if key < oldest or (key == oldest and not inclusive):
            return False
    if call.text("latest"):
        latest = ts_key(call.text("latest"), "invalid_ts_latest")
        if key > latest or (key == latest and not inclusive):
            return False
    return True


def conversations_history(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.visible_channel(call)
    top = [m for m in reversed(channel.messages)
           if (not m.is_reply or m.reply_broadcast) and _in_window(m.ts, call)]
    chunk, next_cursor = page([channel.message_api(m) for m in top], call)
    return {"messages": chunk, "has_more": bool(next_cursor), "pin_count": len(channel.pins),
            "response_metadata": {"next_cursor": next_cursor}}


def conversations_replies(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.visible_channel(call)
    message = channel.find(call.text("ts"))
    if message is None:
        raise SlackError("thread_not_found")
    parent = channel.find(message.thread_ts) if message.is_reply and message.thread_ts else message
    assert parent is not None
    thread = [parent, *channel.replies_to(parent.ts)]
    chunk, next_cursor = page([channel.message_api(m) for m in thread], call, 1000)
    return {"messages": chunk, "has_more": bool(next_cursor),
            "response_metadata": {"next_cursor": next_cursor}}
