"""views.* methods: modals and home tabs, and the modal stack each person sees.

A trigger id that the web UI handed out names the person who acted (``ws.trigger_users``), so
``views.open`` starts that person's stack and ``views.push`` adds to it; a trigger the sandbox
never issued (tests that make up their own) opens a view that nobody's screen shows.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.methods.common import checked_blocks
from sandbox.models import MAX_VIEW_BLOCKS, SlackError, View
from sandbox.workspace import Call, Workspace

# Slack keeps at most three modals on a person's screen.
MAX_MODAL_STACK = 3


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
    return checked_view_payload(call.params.get("view"), kinds=kinds)


def checked_view_payload(view: Any, *, kinds: tuple[str, ...] = ("modal",)) -> dict[str, Any]:
    """A copy of a view payload that Slack would take, or ``SlackError`` saying what is wrong."""
    problem = _view_problem(view, kinds)
    if problem:
        raise SlackError("invalid_arguments",
                         response_metadata={"messages": [f"[ERROR] {problem}"]})
    return copy.deepcopy(view)


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


def _trigger_user(ws: Workspace, call: Call) -> str | None:
    return ws.trigger_users.get(call.text("trigger_id") or call.text("interactivity_pointer"))


def views_open(ws: Workspace, call: Call) -> dict[str, Any]:
    _require_trigger(call)
    user = _trigger_user(ws, call)
    view = _store_view(ws, _checked_view(call, kinds=("modal",)), user=user)
    if user is not None:  # a new modal replaces whatever that person had open
        ws.modal_stacks[user] = [view.id]
    return {"view": view.to_api()}


def views_push(ws: Workspace, call: Call) -> dict[str, Any]:
    _require_trigger(call)
    payload = _checked_view(call, kinds=("modal",))
    user = _trigger_user(ws, call)
    if user is None:  # nobody's screen: push onto the newest modal, as before stacks were kept
        modals = [v for v in ws.views.values() if v.payload.get("type") == "modal"]
        previous = modals[-1] if modals else None
    else:
        previous = _top_of_stack(ws, user)
    return {"view": push_view(ws, user, payload, previous=previous).to_api()}


def _top_of_stack(ws: Workspace, user: str) -> View | None:
    stack = ws.modal_stacks.get(user) or []
    return ws.views.get(stack[-1]) if stack else None


def push_view(ws: Workspace, user: str | None, payload: dict[str, Any], *,
              previous: View | None = None) -> View:
    """A checked modal on top of ``previous`` and, for a known person, on their stack."""
    if user is not None and len(ws.modal_stacks.get(user, [])) >= MAX_MODAL_STACK:
        raise SlackError("push_limit_reached")
    view = _store_view(ws, payload, root=previous.root_view_id if previous else None,
                       previous=previous.id if previous else None, user=user)
    if user is not None:
        ws.modal_stacks.setdefault(user, []).append(view.id)
    return view


def replace_view(ws: Workspace, view_id: str, payload: Any) -> View:
    """A submission answered with ``response_action: update``: same view id, new content."""
    view = ws.views.get(view_id)
    if view is None:
        raise SlackError("not_found")
    view.payload = checked_view_payload(payload, kinds=(str(view.payload.get("type")),))
    view.hash = ws.next_ts()
    return view


def close_views(ws: Workspace, user: str, view_id: str, *, everything: bool = False) -> list[str]:
    """Take ``view_id`` and the views above it (all of them with ``everything``) off a person's
    stack; the ids closed, top first. The views stay readable, as a closed modal's id does."""
    stack = ws.modal_stacks.get(user, [])
    if view_id not in stack:
        return []
    keep = [] if everything else stack[:stack.index(view_id)]
    closed = list(reversed(stack[len(keep):]))
    ws.modal_stacks[user] = keep
    return closed


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
