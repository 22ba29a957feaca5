"""Block Kit for escalation: the brief for people paged, the manager thread, the update reminder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.config.durations import format_duration
from bot.core.lifecycle import Status
from bot.core.text import display_title, escape_mrkdwn
from bot.slack.blocks import (
    context,
    escalation_line,
    section,
    severity_label,
    timeline_event_line,
)
from bot.slack.format import (
    SEVERITY_EMOJI,
    STATUS_EMOJI,
    channel_link,
    person,
    slack_date,
    user_text,
)
from bot.slack.ids import ActionId, BlockId
from storage.models import Incident, TimelineEvent

Block = dict[str, Any]


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{label}*\n{value}"}


def _last_update(update: TimelineEvent | None, now: datetime) -> str:
    if update is None:
        return "_none yet_"
    age = format_duration(now - update.occurred_at)
    return f"{age} ago by {person(update.actor)}: {user_text(update.text, limit=300)}"


def _state_fields(incident: Incident, *, now: datetime, severity_names: Mapping[str, str],
                  last_update: TimelineEvent | None) -> list[dict[str, str]]:
    status = Status(incident.status)
    return [
        _field("Severity", f"{SEVERITY_EMOJI.get(incident.severity, '⚪')} {severity_label(incident, severity_names)}"),
        _field("Status", f"{STATUS_EMOJI[status.value]} {status.label}"),
        _field("Age", format_duration(now - incident.declared_at)),
        _field("Commander", person(incident.commander)),
        _field("Last update", _last_update(last_update, now)),
        _field("Channel", channel_link(incident.channel_id)),
    ]


def _mentions(event: TimelineEvent) -> str:
    users = [person(u) for u in event.data.get("users", [])]
    groups = [f"<!subteam^{g}>" for g in event.data.get("usergroups", [])]
    return " ".join(users + groups)


def brief(incident: Incident, event: TimelineEvent, *, now: datetime, severity_names: Mapping[str, str],
          last_update: TimelineEvent | None, oncall: Sequence[str] = (),
          oncall_problems: Sequence[str] = ()) -> tuple[str, list[Block]]:
    """The message that pages people into the incident channel: what it is, in one look.

    ``oncall`` are the people PagerDuty schedules put on call, found when the page went out;
    ``oncall_problems`` say which schedules could not be turned into a person.
    """
    title = escape_mrkdwn(display_title(incident.title))
    mentions = " ".join([_mentions(event), *(person(user) for user in oncall)]).strip()
    text = f"{mentions} you are paged for incident #{incident.number}: {title}"
    blocks = [
        section(f"{mentions} 📈 *You are paged for incident #{incident.number}: {title}*".strip()),
        {"type": "section", "fields": _state_fields(incident, now=now, severity_names=severity_names,
                                                      last_update=last_update)},
        context(escalation_line(event)),
    ]
    if oncall_problems:
        blocks.append(context("⚠️ " + " ".join(escape_mrkdwn(problem) for problem in oncall_problems)))
    return text.strip(), blocks


def thread_parent(incident: Incident, *, now: datetime, severity_names: Mapping[str, str],
                  last_update: TimelineEvent | None) -> tuple[str, list[Block]]:
    """The parent of an incident's manager thread, edited to show the state as it is now."""
    title = escape_mrkdwn(display_title(incident.title))
    status = Status(incident.status)
    text = f"Incident #{incident.number} ({incident.severity}, {status.label}): {title}"
    escalated = slack_date(incident.escalated_at) if incident.escalated_at else "—"
    return text, [
        section(f"{SEVERITY_EMOJI.get(incident.severity, '⚪')} *Incident #{incident.number}: {title}*"),
        {"type": "section", "fields": _state_fields(incident, now=now, severity_names=severity_names,
                                                      last_update=last_update)},
        context(f"Escalated {escalated}. Escalations, severity changes, updates and the resolution follow "
                "in this thread; no need to join the channel."),
    ]


def thread_reply(event: TimelineEvent) -> tuple[str, list[Block]]:
    line = timeline_event_line(event)
    return line, [section(line)]


def update_reminder(incident: Incident, event: TimelineEvent, *, cadence: str) -> tuple[str, list[Block]]:
    """Asks the commander for a status update, with the button that opens the prefilled modal."""
    commander = person(event.data.get("commander") or incident.commander or incident.declared_by)
    misses = int(event.data.get("misses", 1))
    if misses <= 1:
        line = f"⏰ {commander}, a status update for incident #{incident.number} is due (every {cadence})."
    else:
        line = (f"⏰ {commander}, {misses} status updates for incident #{incident.number} were missed "
                f"(every {cadence}). People following it hear nothing until one is posted.")
    return line, [
        section(line),
        {"type": "actions", "block_id": BlockId.REMINDER_ACTIONS.value, "elements": [{
            "type": "button", "action_id": ActionId.POST_UPDATE.value, "value": str(incident.id), "style": "primary",
            "text": {"type": "plain_text", "text": "Post update", "emoji": True},
        }]},
    ]


def announced_update(incident: Incident, event: TimelineEvent) -> tuple[str, list[Block]]:
    """A published update, as a reply under the incident's announcement."""
    line = f"📣 *Update on incident #{incident.number}* from {person(event.actor)}\n>{user_text(event.text)}"
    return line, [section(line), context(f"Channel: {channel_link(incident.channel_id)}")]
