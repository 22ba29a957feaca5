"""Block Kit for notices: a notice posted to an audience, the draft of an approval audience's
notice with its Edit button, and the form that sends it for approval. Pure functions."""

from __future__ import annotations

import json
import re
from typing import Any

from bot.core.notice_texts import CUSTOMER_NOTICE_MAX
from bot.slack.blocks import Block, context, section
from bot.slack.format import clean_text_keep_lines, user_text
from bot.slack.ids import ActionId, BlockId, CallbackId, InputId

_SECTION_MAX = 2900  # Slack's section text limit is 3000 characters
_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ESCAPED_USER_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,31})&gt;")


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def notice_mrkdwn(text: str) -> str:
    """A notice rendered from the bot's templates, with people's words in it (a title, a
    summary): no @channel, @here or links from those, user mentions and the template's own
    bold kept."""
    escaped = clean_text_keep_lines(text, limit=_SECTION_MAX).translate(_ENTITIES)
    return _ESCAPED_USER_MENTION.sub(r"<@\1>", escaped)[:_SECTION_MAX]


def notice_message(text: str, *, heading: str | None = None) -> tuple[str, list[Block]]:
    """A notice as posted, under a small heading that says what it is."""
    shown = notice_mrkdwn(text)
    blocks: list[Block] = [section(shown)]
    if heading:
        blocks.insert(0, context(heading))
    return text[:3000], blocks


def draft_message(*, incident_id: int, number: int, audience: str, draft: str,
                  status_page: bool) -> tuple[str, list[Block]]:
    """The draft for an approval audience, in the incident channel: nothing leaves until someone
    edits it and a second person approves it."""
    where = f"*{audience}*" + (" and its status page" if status_page else "")
    blocks: list[Block] = [
        section(f"📝 *Draft notice for {where}* (incident #{number}). Nothing is sent until it is edited, "
                "sent for approval and approved by a second person."),
        _quoted(draft),
        {"type": "actions", "block_id": BlockId.NOTICE_ACTIONS.value, "elements": [
            {"type": "button", "action_id": ActionId.EDIT_NOTICE.value, "value": f"{incident_id}:{audience}",
             "text": _plain("Edit and send for approval…"), "style": "primary"},
        ]},
    ]
    return f"Draft notice for {audience} (incident #{number})", blocks


def notice_modal(*, incident_id: int, number: int, audience: str, draft: str,
                 channel_id: str | None) -> dict[str, Any]:
    """The form that sends a notice for approval; the [bracketed] prompts must go first."""
    return {
        "type": "modal",
        "callback_id": CallbackId.NOTICE_MODAL.value,
        "title": _plain("Notice for approval"),
        "submit": _plain("Review"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"incident_id": incident_id, "audience": audience, "channel_id": channel_id}),
        "blocks": [
            {
                "type": "input",
                "block_id": BlockId.NOTICE_TEXT.value,
                "label": _plain(f"Notice to {audience} for incident #{number}"[:150]),
                "hint": _plain("Replace the [bracketed] prompts. A second person approves it before it is sent."),
                "element": {
                    "type": "plain_text_input",
                    "action_id": InputId.NOTICE.value,
                    "multiline": True,
                    "max_length": CUSTOMER_NOTICE_MAX,
                    "initial_value": draft[:CUSTOMER_NOTICE_MAX],
                },
            }
        ],
    }


def approval_text(text: str) -> Block:
    """The notice itself on its approval request: the approver approves these words."""
    return _quoted(text)


def _quoted(text: str) -> Block:
    quoted = ">" + user_text(text, limit=_SECTION_MAX).replace("\n", "\n>")
    return section(quoted if len(quoted) <= _SECTION_MAX else quoted[:_SECTION_MAX - 1] + "…")
