"""The status-update modal: a text box prefilled with a draft of the update. Pure builder."""

from __future__ import annotations

import json
from typing import Any

from bot.slack.ids import BlockId, CallbackId, InputId

# Slack's limit for a plain_text_input.
UPDATE_INPUT_MAX = 3000


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def status_update_modal(*, incident_id: int, number: int, draft: str, channel_id: str | None = None) -> dict[str, Any]:
    """Bracketed parts of the draft are prompts: the person replaces them before posting."""
    return {
        "type": "modal",
        "callback_id": CallbackId.STATUS_UPDATE_MODAL.value,
        "title": _plain("Status update"),
        "submit": _plain("Post update"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"incident_id": incident_id, "channel_id": channel_id}),
        "blocks": [
            {
                "type": "input",
                "block_id": BlockId.UPDATE_TEXT.value,
                "label": _plain(f"Update for incident #{number}"),
                "hint": _plain("Replace the [bracketed] prompts with what you know, or delete them."),
                "element": {
                    "type": "plain_text_input",
                    "action_id": InputId.UPDATE.value,
                    "multiline": True,
                    "max_length": UPDATE_INPUT_MAX,
                    "initial_value": draft[:UPDATE_INPUT_MAX],
                },
            }
        ],
    }
