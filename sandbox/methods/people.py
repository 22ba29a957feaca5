"""Methods about who is who: auth, users, user groups."""

from __future__ import annotations

from typing import Any

from sandbox.methods.common import paged
from sandbox.models import TEAM_DOMAIN, TEAM_ID, TEAM_NAME, SlackError
from sandbox.workspace import Call, Workspace


def api_test(ws: Workspace, call: Call) -> dict[str, Any]:
    return {"args": dict(call.params)} if call.params else {}


def auth_test(ws: Workspace, call: Call) -> dict[str, Any]:
    body = {"url": f"https://{TEAM_DOMAIN}.slack.com/", "team": TEAM_NAME,
            "user": call.caller.name, "team_id": TEAM_ID, "user_id": call.caller.id,
            "is_enterprise_install": False}
    if call.caller.bot_id:
        body["bot_id"] = call.caller.bot_id
    return body


def users_info(ws: Workspace, call: Call) -> dict[str, Any]:
    user = ws.users.get(call.text("user"))
    if user is None:
        raise SlackError("user_not_found")
    return {"user": user.to_api()}


def users_list(ws: Workspace, call: Call) -> dict[str, Any]:
    members = [u.to_api() for u in ws.users.values()]
    return {**paged(members, call, "members"), "cache_ts": ws.now()}


def users_lookup_by_email(ws: Workspace, call: Call) -> dict[str, Any]:
    email = call.text("email").lower()
    user = next((u for u in ws.users.values() if (u.email or "").lower() == email), None)
    if user is None or not email:
        raise SlackError("users_not_found")
    return {"user": user.to_api()}


def usergroups_list(ws: Workspace, call: Call) -> dict[str, Any]:
    include = call.flag("include_users")
    return {"usergroups": [g.to_api(include_users=include) for g in ws.usergroups.values()]}


def usergroups_users_list(ws: Workspace, call: Call) -> dict[str, Any]:
    group = ws.usergroups.get(call.text("usergroup"))
    if group is None:
        raise SlackError("no_such_subteam")
    return {"users": list(group.users)}
