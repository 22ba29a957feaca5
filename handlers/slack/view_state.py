"""Reading what a person typed or chose in a submitted modal (``view.state.values``).

Slack nests each input under its block id and then its action id. A payload that lacks a level,
or carries something other than an object there, reads as an empty answer, never an exception.
"""

from __future__ import annotations

from typing import Any

from bot.slack.ids import BlockId, InputId
from handlers.payloads import object_or_empty


def values(view: dict[str, Any]) -> dict[str, Any]:
    """Every block's inputs, by block id."""
    return object_or_empty(object_or_empty(view.get("state")).get("values"))


def field(view: dict[str, Any], block: BlockId, action: InputId) -> dict[str, Any]:
    """The input's state object: ``{"type": ..., "value": ...}`` or ``{"selected_option": ...}``."""
    return object_or_empty(object_or_empty(values(view).get(block.value)).get(action.value))


def typed(view: dict[str, Any], block: BlockId, action: InputId, *, strip: bool = True) -> str:
    """A text input's value (stripped unless ``strip=False``); empty when nothing was typed."""
    value = field(view, block, action).get("value")
    if not isinstance(value, str):
        return ""
    return value.strip() if strip else value


def selected(view: dict[str, Any], block: BlockId, action: InputId) -> str:
    """A select's chosen option value; empty when nothing was chosen."""
    value = object_or_empty(field(view, block, action).get("selected_option")).get("value")
    return value if isinstance(value, str) else ""
