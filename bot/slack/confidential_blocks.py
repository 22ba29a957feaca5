"""What public places show of a confidential incident: its number and status, nothing else.

``#incidents``, the managers' thread in the escalations channel and the channel's own topic are
readable by people outside the private channel, so a security incident's title, service and
summary never appear there (`bot.core.confidential`). People who need in ask the responders,
whose mention the line carries.
"""

from __future__ import annotations

from typing import Any

from bot.core.confidential import NEUTRAL_ANNOUNCEMENT, NEUTRAL_TITLE
from bot.core.lifecycle import Status
from bot.slack.blocks import context, section
from bot.slack.format import STATUS_EMOJI, slack_date
from storage.models import Incident

Block = dict[str, Any]

_LOCK = "🔒"


def _state(incident: Incident) -> str:
    status = Status(incident.status)
    return f"{STATUS_EMOJI[status.value]} {status.label}"


def announcement_text(incident: Incident) -> str:
    return f"{_LOCK} Incident #{incident.number}: {NEUTRAL_ANNOUNCEMENT}"


def announcement(incident: Incident) -> list[Block]:
    """The line in ``#incidents``: no title, service, severity, summary or channel link."""
    return [
        section(f"{_LOCK} *Incident #{incident.number}*: {NEUTRAL_ANNOUNCEMENT}\n{_state(incident)}"),
        context(f"Declared {slack_date(incident.declared_at)}. Details are shared with the responders only."),
    ]


def channel_topic(incident: Incident) -> str:
    return f"Incident #{incident.number} · {NEUTRAL_TITLE.lower()} · status in the pinned headline"


def channel_title() -> str:
    """What the channel's name is made from instead of the title (names show in search)."""
    return "confidential"


def thread_parent(incident: Incident) -> tuple[str, list[Block]]:
    """The managers' thread parent: that it exists and its state, without the title."""
    text = f"Incident #{incident.number} ({_state(incident)}): {NEUTRAL_TITLE.lower()}"
    escalated = slack_date(incident.escalated_at) if incident.escalated_at else "—"
    return text, [
        section(f"{_LOCK} *Incident #{incident.number}: {NEUTRAL_TITLE}*\n{_state(incident)}"),
        context(f"Escalated {escalated}. Escalations and the resolution follow in this thread; details stay "
                "in the responders' private channel."),
    ]


def thread_reply(incident: Incident, kind: str) -> tuple[str, list[Block]]:
    """A reply in the managers' thread: what kind of thing happened, never what it said."""
    line = f"{_LOCK} Incident #{incident.number}: {_EVENT_WORDS.get(kind, 'an update')} ({_state(incident)})."
    return line, [section(line)]


_EVENT_WORDS = {
    "escalated": "escalated to the next level",
    "severity_changed": "severity changed",
    "status_changed": "status changed",
    "status_update": "a status update was posted for the responders",
}
