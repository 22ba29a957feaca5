"""views.* methods: modals and home tabs."""

from __future__ import annotations

import copy
from typing import Any

from bot.sandbox.methods.common import checked_blocks
from bot.sandbox.models import MAX_VIEW_BLOCKS, SlackError, View
from bot.sandbox.workspace import Call, Workspace


def _view_problem(view: Any, kinds: tuple[str, ...]) -> str | None:
    if not isinstance(view, dict):
        return "view must be a JSON object"
    if view.get("type") not in kinds:
        return f"view.type must be one of {', '.join(kinds)}"
    if view["type"] == "modal" and not isinstance(view.get("title"), dict):
        return "a modal needs a title"
    try:
        checked_blocks(view.get("blocks", []), limit=MAX_VIEW_BLOCKS, error="invalid_arguments")
    except SlackError:
        return "view.blocks must be a list of blocks, each with a type"
    return None


def _checked_view(call: Call, *, kinds: tuple[str, ...]) -> dict[str, Any]:
    view = call.params.get("view")
    problem = _view_problem(view, kinds)
    if problem:
        raise SlackError("invalid_arguments",
                         response_metadata={"messages": [f"[ERROR] {problem}"]})
    return copy.deepcopy(view)  # type: ignore[arg-type]


def _store_view(ws: Workspace, payload: dict[str, Any], *, root: str | None = None,
                previous: str | None = None, user: str | None = None) -> View:
    view_id = ws.new_id("V0", ws.views)
    view = View(view_id, payload, hash=ws.next_ts(), root_view_id=root or view_id,
                previous_view_id=previous, user=user)
    ws.views[view_id] = view
    return view


def _require_trigger(call: Call) -> None:
    if not call.text("trigger_id") and not call.text("interactivity_pointer"):
        raise SlackError("invalid_arguments",
                         response_metadata={"messages": ["[ERROR] missing trigger_id"]})


def views_open(ws: Workspace, call: Call) -> dict[str, Any]:
    _require_trigger(call)
    view = _store_view(ws, _checked_view(call, kinds=("modal",)))
    return {"view": view.to_api()}


def views_push(ws: Workspace, call: Call) -> dict[str, Any]:
    _require_trigger(call)
    payload = _checked_view(call, kinds=("modal",))
    modals = [v for v in ws.views.values() if v.payload.get("type") == "modal"]
    previous = modals[-1] if modals else None
    view = _store_view(ws, payload, root=previous.root_view_id if previous else None,
                       previous=previous.id if previous else None)
    return {"view": view.to_api()}


def views_update(ws: Workspace, call: Call) -> dict[str, Any]:
    view_id, external_id = call.text("view_id"), call.text("external_id")
    if not view_id and not external_id:
        raise SlackError("invalid_arguments")
    view = ws.views.get(view_id) if view_id else next(
        (v for v in ws.views.values() if v.payload.get("external_id") == external_id), None)
    if view is None:
        raise SlackError("not_found")
    if call.text("hash") and call.text("hash") != view.hash:
        raise SlackError("hash_conflict")
    view.payload = _checked_view(call, kinds=(str(view.payload.get("type")),))
    view.hash = ws.next_ts()
    return {"view": view.to_api()}


def views_publish(ws: Workspace, call: Call) -> dict[str, Any]:
    user = call.text("user_id")
    if user not in ws.users:
        raise SlackError("user_not_found")
    payload = _checked_view(call, kinds=("home",))
    view = ws.views.get(ws.home_views.get(user, ""))
    if view is None:
        view = _store_view(ws, payload, user=user)
        ws.home_views[user] = view.id
    else:  # a user's home tab keeps its id across publishes
        view.payload, view.hash = payload, ws.next_ts()
    return {"view": view.to_api()}
