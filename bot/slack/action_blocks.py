"""Block Kit for guarded actions in messages: the proposal a requester confirms, and the one
channel message that follows an action from approval request to verified result. Pure functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.actions.gate_override import gate_to_override
from bot.core.actions.kinds import ActionKind, ActionState
from bot.core.text import escape_mrkdwn
from bot.slack.blocks import Block, context, section
from bot.slack.format import person, slack_date
from bot.slack.ids import ActionId, BlockId
from bot.slack.notice_blocks import approval_text
from storage.models import ResponseAction

_STATE_LINES: dict[ActionState, str] = {
    ActionState.PROPOSED: "📝 Waiting for the requester to confirm.",
    ActionState.AWAITING_APPROVAL: "⏳ Waiting for approval.",
    ActionState.CANCELLED: "↩️ Withdrawn by the requester. Nothing was done.",
    ActionState.DENIED: "🚫 Denied by {decider}. Nothing was done.",
    ActionState.EXPIRED: "⌛ Nobody approved in time, so nothing was done. Ask again if it is still needed.",
    ActionState.RUNNING: "⚙️ Running{approved}. {progress}",
    ActionState.SUCCEEDED: "✅ Done{approved}. {message}",
    ActionState.NO_CHANGE: "➖ Nothing to do{approved}. {message}",
    ActionState.STALE: "↩️ Not done. {message}",
    ActionState.UNVERIFIED: "⚠️ Changed, but not verified{approved}. {message}",
    ActionState.FAILED: "❌ Failed{approved}. {message}",
    ActionState.DRY_RUN: "🧪 Dry run: nothing was changed. With dry run off, this would have run.",
    ActionState.INTERRUPTED: "⚠️ Interrupted. {message}",
    ActionState.SUPERSEDED: "⏹️ Superseded{approved}. {message}",
}

_KIND_EMOJI = {ActionKind.STOP: "🛑", ActionKind.SCALE: "📈", ActionKind.SET_FLAG: "🚩"}


def _button(action_id: ActionId, label: str, value: str, *, style: str | None = None,
            confirm: dict[str, Any] | None = None) -> Block:
    button: Block = {"type": "button", "action_id": action_id.value, "value": value,
                     "text": {"type": "plain_text", "text": label, "emoji": True}}
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def _dialog(title: str, text: str, yes: str, no: str = "Cancel", *, danger: bool = False) -> dict[str, Any]:
    dialog: dict[str, Any] = {
        "title": {"type": "plain_text", "text": title[:100]}, "text": {"type": "mrkdwn", "text": text[:300]},
        "confirm": {"type": "plain_text", "text": yes[:30]}, "deny": {"type": "plain_text", "text": no[:30]},
    }
    if danger:
        dialog["style"] = "danger"
    return dialog


def action_title(action: ResponseAction) -> str:
    emoji = _KIND_EMOJI.get(ActionKind(action.kind), "🛠️")
    return f"{emoji} *{escape_mrkdwn(action.summary)}*"


def _notes(action: ResponseAction) -> list[str]:
    return [escape_mrkdwn(str(note)) for note in (action.result or {}).get("notes", [])][:6]


def proposal(action: ResponseAction) -> tuple[str, list[Block]]:
    """What the requester sees before anything happens: before and after, and Confirm."""
    kind = ActionKind(action.kind)
    steps = []
    if action.needs_approval:
        steps.append("After you confirm, a second person with the *approver* role must approve it.")
    if action.dry_run:
        steps.append("Dry-run mode is on: confirming shows what would happen and changes nothing.")
    blocks = [section(f"{action_title(action)}\n" + "\n".join(f"• {n}" for n in _notes(action)))]
    if steps:
        blocks.append(context(*steps))
    value = str(action.id)
    destructive = kind == ActionKind.STOP or action.needs_approval
    blocks.append({"type": "actions", "block_id": BlockId.ACTION_BUTTONS.value, "elements": [
        _button(ActionId.CONFIRM, "Request approval" if action.needs_approval else "Confirm", value,
                style="danger" if destructive else "primary",
                confirm=_dialog(f"{kind.label}?", escape_mrkdwn(action.summary), "Yes", danger=destructive)
                if destructive else None),
        _button(ActionId.CANCEL, "Cancel", value),
    ]})
    return f"Confirm: {escape_mrkdwn(action.summary)}", blocks


def action_message(action: ResponseAction) -> tuple[str, list[Block]]:
    """The channel's view of one action, edited in place as it moves on."""
    state = ActionState(action.state)
    result = action.result or {}
    line = _STATE_LINES[state].format(
        decider=person(action.decided_by),
        approved=f" (approved by {person(action.decided_by)})" if action.needs_approval and action.decided_by else "",
        progress=escape_mrkdwn(action.progress or "Starting…"),
        message=escape_mrkdwn(str(result.get("message", ""))),
    )
    blocks: list[Block] = [section(f"{action_title(action)}\n{line}")]
    if kind_shows_text(action):
        # The approver approves these words, so they read them where they click.
        blocks.append(approval_text(str((action.after or {}).get("text", ""))))
    if state == ActionState.AWAITING_APPROVAL:
        expires = f" It expires {slack_date(action.expires_at)}." if action.expires_at else ""
        blocks.append(section(
            f"⏳ {person(action.requested_by)} asks for this. It needs a second person with the *approver* role; "
            f"the requester can't approve their own request.{expires}"))
        value = str(action.id)
        gate = gate_to_override(action)
        if gate is not None:
            # The button opens a form for the approver's reason, which is the confirmation too.
            blocks.append(section(f"⚖️ {escape_mrkdwn(gate.line)} Approving overrides the gate: the approver "
                                  "is asked why, and the reason goes in the audit log."))
            approve = _button(ActionId.APPROVE, "Override gate and approve…", value, style="danger")
        else:
            approve = _button(ActionId.APPROVE, "Approve", value, style="danger",
                              confirm=_dialog("Approve?", escape_mrkdwn(action.summary), "Approve", danger=True))
        blocks.append({"type": "actions", "block_id": BlockId.ACTION_BUTTONS.value, "elements": [
            approve, _button(ActionId.DENY, "Deny", value),
        ]})
    blocks.append(context(*_footer(action)))
    return f"{escape_mrkdwn(action.summary)}: {state.value.replace('_', ' ')}", blocks


def kind_shows_text(action: ResponseAction) -> bool:
    return ActionKind(action.kind) == ActionKind.PUBLISH_NOTICE


def _footer(action: ResponseAction) -> list[str]:
    parts = [f"Action #{action.id}", f"asked by {person(action.requested_by)} {slack_date(action.requested_at)}"]
    if action.finished_at and action.started_at:
        parts.append(f"took {max(0, round((action.finished_at - action.started_at).total_seconds()))} s")
    return [" · ".join(parts)]


def decision_reply(action: ResponseAction, *, now: datetime | None = None) -> str:
    """The short ephemeral answer to a confirm, approve, deny or cancel click."""
    state = ActionState(action.state)
    follow = " Follow it in the channel."
    summary = escape_mrkdwn(action.summary)
    return {
        ActionState.AWAITING_APPROVAL: f"📨 Approval requested for {summary}.{follow}",
        ActionState.RUNNING: f"⚙️ {summary} is running.{follow}",
        ActionState.CANCELLED: f"↩️ Cancelled: {summary}. Nothing was done.",
        ActionState.DENIED: f"🚫 Denied: {summary}.",
        ActionState.EXPIRED: f"⌛ The approval request for {summary} expired.",
        ActionState.DRY_RUN: f"🧪 Dry run of {summary}: nothing was changed.",
        ActionState.PROPOSED: f"📝 {summary} is waiting for confirmation.",
    }.get(state, f"{summary} already finished: {state.value.replace('_', ' ')}.{follow}")
