"""One person's view of the workspace: what their Slack client shows (the body of
``GET /ui/api/state``), and the people, channels and views they may act on.

Private channels and DMs appear only to their members, and each person sees only their own
ephemeral messages and modal stack. The lookups raise :class:`WebError`; callers hold the
workspace lock.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from starlette.responses import Response

from sandbox.models import BOT_USER_ID, TEAM_ID, TEAM_NAME, Channel, User, View
from sandbox.web_bodies import WebError
from sandbox.workspace import Workspace


def can_see(channel: Channel, user_id: str) -> bool:
    return user_id in channel.members if (channel.is_private or channel.is_im) else True


def _channel_view(ws: Workspace, channel: Channel, user_id: str) -> dict[str, Any]:
    if channel.is_im:
        other = next((m for m in channel.members if m != user_id), user_id)
        name = ws.users[other].name if other in ws.users else other
    else:
        name = channel.name
    return {
        "id": channel.id, "name": name, "is_private": channel.is_private, "is_im": channel.is_im,
        "is_member": user_id in channel.members, "is_archived": channel.is_archived,
        "bot_is_member": BOT_USER_ID in channel.members,
        "topic": channel.topic.value, "purpose": channel.purpose.value,
        "members": list(channel.members),
        "messages": [channel.message_api(m) for m in channel.messages],
        "pins": [{"ts": p.ts, "created": p.created, "created_by": p.created_by} for p in channel.pins],
        "ephemerals": [{"ts": e.message_ts, "text": e.text, "blocks": copy.deepcopy(e.blocks),
                        "thread_ts": e.thread_ts} for e in channel.ephemerals if e.user == user_id],
    }


def person_state(ws: Workspace, user_id: str) -> dict[str, Any]:
    """The workspace as one person's Slack client shows it."""
    with ws.lock:
        return {
            "team": {"id": TEAM_ID, "name": TEAM_NAME},
            "me": user_id,
            "users": [{"id": u.id, "name": u.name, "real_name": u.real_name or u.name, "is_bot": u.is_bot}
                      for u in ws.users.values()],
            "usergroups": [{"id": g.id, "handle": g.handle, "name": g.name} for g in ws.usergroups.values()],
            "channels": [_channel_view(ws, c, user_id) for c in ws.channels.values() if can_see(c, user_id)],
            "modals": ws.modal_stack(user_id),
        }


def state_response(state: dict[str, Any], if_none_match: str | None) -> Response:
    """The state as JSON with an ETag, or an empty 304 when the page already has this state."""
    body = json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:24] + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def acting_person(ws: Workspace, user_id: str) -> User:
    user = ws.users.get(user_id)
    if user is None:
        raise WebError(404, f"there is no user {user_id!r} in this workspace")
    if user.is_bot:
        raise WebError(403, f"{user_id} is a bot; act as a person")
    return user


def seen_channel(ws: Workspace, user: User, ref: str) -> Channel:
    channel = ws.lookup(ref)
    if channel is None or not can_see(channel, user.id):
        raise WebError(404, f"{user.name} sees no channel {ref!r}")
    return channel


def member_channel(ws: Workspace, user: User, ref: str) -> Channel:
    channel = seen_channel(ws, user, ref)
    if user.id not in channel.members:
        raise WebError(403, f"{user.name} is not in #{channel.name}; join it first")
    return channel


def open_view(ws: Workspace, user: User, view_id: str) -> View:
    view = ws.views.get(view_id)
    if view is None or view_id not in ws.modal_stacks.get(user.id, []):
        raise WebError(404, f"{user.name} has no open view {view_id!r}")
    return view
