"""Modal views (pure builders)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.config.severity import Severity
from bot.slack.ids import BlockId, CallbackId, InputId

TITLE_INPUT_MAX = 150


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": label[:75], "emoji": True}, "value": value}


def declare_modal(
    *, severity: Severity, severity_names: Mapping[str, str], services: Sequence[str], origin_channel: str | None
) -> dict[str, Any]:
    severity_options = [_option(s.value, f"{s.value} · {severity_names.get(s.value, s.value)}") for s in Severity]
    initial = next(o for o in severity_options if o["value"] == severity.value)
    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": BlockId.DECLARE_TITLE.value,
            "label": {"type": "plain_text", "text": "What is happening?"},
            "element": {
                "type": "plain_text_input",
                "action_id": InputId.TITLE.value,
                "max_length": TITLE_INPUT_MAX,
                "placeholder": {"type": "plain_text", "text": "e.g. P95 latency above 1s on multimodal-api"},
            },
        },
        {
            "type": "input",
            "block_id": BlockId.DECLARE_SEVERITY.value,
            "label": {"type": "plain_text", "text": "Severity"},
            "element": {
                "type": "static_select",
                "action_id": InputId.SEVERITY.value,
                "options": severity_options,
                "initial_option": initial,
            },
        },
    ]
    if services:
        blocks.append(
            {
                "type": "input",
                "optional": True,
                "block_id": BlockId.DECLARE_SERVICE.value,
                "label": {"type": "plain_text", "text": "Service"},
                "element": {
                    "type": "static_select",
                    "action_id": InputId.SERVICE.value,
                    "options": [_option(name, name) for name in list(services)[:100]],
                },
            }
        )
    return {
        "type": "modal",
        "callback_id": CallbackId.DECLARE_MODAL.value,
        "title": {"type": "plain_text", "text": "Declare an incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"channel_id": origin_channel}),
        "blocks": blocks,
    }
