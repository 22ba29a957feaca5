"""The form an approver fills in to override the accuracy gate: what is overridden, and why. Pure."""

from __future__ import annotations

import json
from typing import Any

from bot.core.actions.gate_override import REASON_MAX
from bot.core.actions.plans import ModelGate
from bot.core.text import escape_mrkdwn
from bot.slack.action_blocks import action_title
from bot.slack.blocks import context, section
from bot.slack.ids import BlockId, CallbackId, InputId
from storage.models import ResponseAction


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def override_modal(action: ResponseAction, gate: ModelGate, *, channel_id: str | None) -> dict[str, Any]:
    """The action and its gate line, and a required reason. Submitting approves (the pipeline
    checks the approver and the action's state again then)."""
    return {
        "type": "modal",
        "callback_id": CallbackId.GATE_OVERRIDE_MODAL.value,
        "title": _plain("Override the gate"),
        "submit": _plain("Override and approve"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"action_id": action.id, "channel_id": channel_id}),
        "blocks": [
            section(f"{action_title(action)}\n⚖️ {escape_mrkdwn(gate.line)}"),
            {"type": "input", "block_id": BlockId.OVERRIDE_REASON.value,
             "label": _plain("Why serve this version anyway?"),
             "hint": _plain("Required. It is kept in the audit log with your name, the accuracy and the bar."),
             "element": {"type": "plain_text_input", "action_id": InputId.REASON.value, "multiline": True,
                         "max_length": REASON_MAX}},
            context(f"Action #{action.id}. Approving starts it at once."),
        ],
    }
