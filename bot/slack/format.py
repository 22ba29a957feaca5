"""Small mrkdwn helpers shared by the Block Kit builders."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.core.text import clean_text, escape_mrkdwn

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

SEVERITY_EMOJI = {"P0": "🔴", "P1": "🟠", "P2": "🟡", "P3": "🔵"}
STATUS_EMOJI = {
    "triggered": "🚨",
    "acknowledged": "👀",
    "mitigated": "🩹",
    "resolved": "✅",
    "closed": "📁",
}


def person(actor: str | None) -> str:
    """A Slack mention for user ids; other actors (``system``, ``pagerduty``) as plain words."""
    if not actor:
        return "_unassigned_"
    return f"<@{actor}>" if _USER_ID.match(actor) else escape_mrkdwn(actor)


# A mention of one person survives escaping: it reaches only them, as if typed in Slack
# (drafts the bot prefills name the commander this way). @channel and links never do.
_ESCAPED_USER_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,31})&gt;")


def user_text(text: str, *, limit: int = 2900) -> str:
    """People's words, safe inside mrkdwn: no @channel, @here or fake links; user mentions kept."""
    escaped = escape_mrkdwn(clean_text_keep_lines(text, limit=limit))
    return _ESCAPED_USER_MENTION.sub(r"<@\1>", escaped)


def clean_text_keep_lines(text: str, *, limit: int) -> str:
    lines = [clean_text(line) for line in text.splitlines()]
    joined = "\n".join(line for line in lines if line)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def slack_date(moment: datetime) -> str:
    """Slack renders this in each reader's own time zone; the fallback is UTC."""
    epoch = int(moment.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{moment:%Y-%m-%d %H:%M} UTC>"


def slack_time(moment: datetime) -> str:
    """The time of day alone, in each reader's own time zone; the fallback is UTC."""
    epoch = int(moment.timestamp()) if moment.tzinfo else int(moment.replace(tzinfo=UTC).timestamp())
    return f"<!date^{epoch}^{{time}}|{moment:%H:%M} UTC>"


def channel_link(channel_id: str | None) -> str:
    return f"<#{channel_id}>" if channel_id else "_(channel being set up)_"
