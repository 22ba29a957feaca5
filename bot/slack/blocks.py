"""Block Kit builders. Pure functions: plain data in, Slack JSON (dicts) out."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.config import IncidentBotConfig
from bot.config.durations import format_duration
from bot.core.actions.requests import AUTO_APPLY_FLAG
from bot.core.lifecycle import Status
from bot.core.roles import Role
from bot.core.text import display_title, escape_mrkdwn
from bot.slack.format import (
    SEVERITY_EMOJI,
    STATUS_EMOJI,
    channel_link,
    person,
    slack_date,
    user_text,
)
from bot.slack.ids import ActionId, BlockId
from runbooks.investigations.base import InvestigationKind, configured_kinds
from storage.models import Incident, TimelineEvent

Block = dict[str, Any]


@dataclass(frozen=True)
class AlertCounts:
    received: int  # deliveries, counting repeats of the same alert
    distinct: int
    firing: int


def alert_summary(*, count: int, seconds: float, top: Sequence[tuple[str, int]]) -> tuple[str, list[Block]]:
    """A storm, coalesced: "+212 alerts in the last 10 s, top alarms: ..." instead of 212 posts."""
    plural = "alert" if count == 1 else "alerts"
    span = format_duration(timedelta(seconds=max(1, round(seconds))))
    tops = ", ".join(f"{escape_mrkdwn(display_title(name, limit=80))} ×{n}" for name, n in top)
    text = f"📟 +{count:,} {plural} in the last {span}" + (f", top alarms: {tops}" if tops else "")
    return text, [section(text)]


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text)}


def message_view(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (``response_action: update`` after a form was submitted)."""
    return {"type": "modal", "title": {"type": "plain_text", "text": title[:24]},
            "close": {"type": "plain_text", "text": "Close"}, "blocks": [section(text[:2900])]}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(t) for t in texts]}


def severity_label(incident: Incident, severity_names: Mapping[str, str]) -> str:
    name = severity_names.get(incident.severity)
    return f"{incident.severity} · {name}" if name else incident.severity


def incident_fallback_text(incident: Incident) -> str:
    """The notification text: what phones and screen readers show instead of blocks."""
    status = Status(incident.status).label
    return f"#{incident.number} [{incident.severity}] {status}: {escape_mrkdwn(display_title(incident.title))}"


@dataclass(frozen=True)
class ActionButtons:
    """The guarded-action buttons an incident's headline offers, from its service's config."""

    scale: bool = False
    rollback: bool = False
    flags: bool = False
    disable_auto_apply: bool = False
    diagnose: bool = False
    investigations: tuple[InvestigationKind, ...] = ()  # the Investigate menu's choices


def service_action_buttons(config: IncidentBotConfig) -> dict[str, ActionButtons]:
    """Which guarded-action buttons each service's incidents show, from what the service has."""
    buttons = {}
    for name, service in config.services.items():
        flags = service.flags.names if service.flags else ()
        buttons[name] = ActionButtons(
            scale=service.ecs is not None,
            rollback=bool(service.ecs or service.models or flags),
            flags=bool(flags),
            disable_auto_apply=AUTO_APPLY_FLAG in flags,
            diagnose=bool(service.models or service.metric or service.alarms),
            investigations=configured_kinds(service),
        )
    return buttons


def headline(
    incident: Incident, *, now: datetime, severity_names: Mapping[str, str], roles: Mapping[Role, str],
    alerts: AlertCounts | None = None, actions: ActionButtons = ActionButtons(), budget: str | None = None,
) -> list[Block]:
    """``budget``: the incident's share of its error budget in words, from the stored figures."""
    status = Status(incident.status)
    ended = incident.resolved_at if status in (Status.RESOLVED, Status.CLOSED) else None
    duration = format_duration((ended or now) - incident.declared_at)
    emoji = SEVERITY_EMOJI.get(incident.severity, "⚪")
    fields = [
        f"*Severity*\n{severity_label(incident, severity_names)}",
        f"*Status*\n{STATUS_EMOJI[status.value]} {status.label}",
        f"*Commander*\n{person(incident.commander)}",
        f"*Service*\n{escape_mrkdwn(incident.service) if incident.service else '—'}",
        f"*Started*\n{slack_date(incident.declared_at)}",
        f"*Duration*\n{duration}" + ("" if ended else " and counting"),
    ]
    if alerts is not None and alerts.received:
        fields.append(f"*Alerts*\n{alerts.received:,} received · {alerts.firing} of {alerts.distinct} firing")
    if budget:
        fields.append(f"*Error budget*\n{escape_mrkdwn(budget)}")
    blocks: list[Block] = [
        {"type": "header", "text": _plain(display_title(f"{emoji} #{incident.number} {incident.title}"))},
        {"type": "section", "fields": [_mrkdwn(f) for f in fields]},
    ]
    other_roles = [f"{role.value}: {person(user)}" for role, user in roles.items() if role != Role.COMMANDER]
    footer = [f"Declared by {person(incident.declared_by)}", *other_roles]
    if incident.summary:
        blocks.append(section(f"*Resolution summary*\n{user_text(incident.summary)}"))
    blocks.append(context(" · ".join(footer)))
    buttons = headline_buttons(status) + (action_buttons(actions) if status.is_open else [])
    if status.is_open and actions.diagnose:
        buttons.append({"type": "button", "action_id": ActionId.DIAGNOSE.value, "text": _plain("Diagnose"),
                        "value": "diagnose"})
    if status.is_open and actions.investigations:
        buttons.append(investigate_menu(actions.investigations))
    if buttons:
        blocks.append({"type": "actions", "block_id": BlockId.HEADLINE_ACTIONS.value, "elements": buttons})
    return blocks


def investigate_menu(kinds: Sequence[InvestigationKind]) -> Block:
    """The headline's read-only investigations, one option each; choosing one runs it."""
    return {"type": "static_select", "action_id": ActionId.INVESTIGATE.value, "placeholder": _plain("Investigate…"),
            "options": [{"text": _plain(kind.label), "value": kind.value} for kind in kinds]}


def headline_buttons(status: Status) -> list[Block]:
    buttons: list[Block] = []
    if status == Status.TRIGGERED:
        buttons.append(
            {"type": "button", "action_id": ActionId.ACKNOWLEDGE.value, "style": "primary",
             "text": _plain("Acknowledge"), "value": "acknowledge"}
        )
    if status.is_open:
        buttons.append(
            {
                "type": "button", "action_id": ActionId.RESOLVE.value, "style": "danger",
                "text": _plain("Resolve"), "value": "resolve",
                "confirm": {
                    "title": _plain("Resolve this incident?"),
                    "text": _mrkdwn("The impact is over and the cause is fixed. This stops escalation."),
                    "confirm": _plain("Resolve"),
                    "deny": _plain("Not yet"),
                },
            }
        )
    return buttons


def action_buttons(actions: ActionButtons) -> list[Block]:
    shown = [
        (actions.scale, ActionId.OPEN_SCALE, "Scale"),
        (actions.rollback, ActionId.OPEN_ROLLBACK, "Rollback"),
        (actions.flags, ActionId.OPEN_FLAGS, "Flags"),
        (actions.disable_auto_apply, ActionId.DISABLE_AUTO_APPLY, "Disable auto-apply"),
    ]
    return [{"type": "button", "action_id": action_id.value, "text": _plain(label), "value": action_id.value}
            for wanted, action_id, label in shown if wanted]


def announcement(incident: Incident, *, severity_names: Mapping[str, str]) -> list[Block]:
    status = Status(incident.status)
    emoji = SEVERITY_EMOJI.get(incident.severity, "⚪")
    title = escape_mrkdwn(display_title(incident.title))
    return [
        section(
            f"{emoji} *Incident #{incident.number}: {title}*\n"
            f"{severity_label(incident, severity_names)} · {STATUS_EMOJI[status.value]} {status.label}"
            f" · Channel: {channel_link(incident.channel_id)}"
        ),
        context(f"Declared by {person(incident.declared_by)} {slack_date(incident.declared_at)}"),
    ]


def announcement_text(incident: Incident) -> str:
    return f"{incident_fallback_text(incident)} in {channel_link(incident.channel_id)}"


def topic(incident: Incident, *, severity_names: Mapping[str, str]) -> str:
    status = Status(incident.status).label
    return f"{severity_label(incident, severity_names)} · {status} · {display_title(incident.title)}"


def _status_change_line(event: TimelineEvent) -> str:
    actor = person(event.actor)
    target = Status(event.data.get("to", "triggered"))
    lines = {
        Status.ACKNOWLEDGED: f"👀 {actor} acknowledged the incident.",
        Status.MITIGATED: f"🩹 {actor} marked the incident *mitigated*: the impact has stopped.",
        Status.RESOLVED: f"✅ {actor} *resolved* the incident.",
        Status.CLOSED: f"📁 {actor} closed the incident.",
        Status.TRIGGERED: f"🚨 {actor} reopened the incident.",
    }
    line = lines[target]
    if event.text:
        line += f"\n>{user_text(event.text)}"
    return line


_ACTION_EMOJI = {"succeeded": "✅", "no_change": "➖", "failed": "❌", "unverified": "⚠️", "stale": "↩️",
                 "denied": "🚫", "expired": "⌛", "dry_run": "🧪", "interrupted": "⚠️", "refused": "🔒",
                 "superseded": "⏹️"}


def timeline_event_line(event: TimelineEvent) -> str:
    """One event as a line of mrkdwn, for channel posts and the /incident timeline listing."""
    actor = person(event.actor)
    match event.kind:
        case "status_changed":
            return _status_change_line(event)
        case "severity_changed":
            return f"⚠️ {actor} changed the severity from {event.data.get('from')} to *{event.data.get('to')}*."
        case "role_assigned":
            return f"👤 {person(event.data.get('user'))} is now *{event.data.get('role')}* (set by {actor})."
        case "status_update":
            return f"📣 *Status update* from {actor}\n>{user_text(event.text)}"
        case "note":
            return f"📝 Note from {actor}: {user_text(event.text)}"
        case "declared":
            return f"🚨 {actor} declared the incident: {user_text(event.text, limit=300)}"
        case "alert":
            return f"📟 Alert from {actor}: {user_text(event.text, limit=300)}"
        case "alert_cleared":
            return f"🟢 Alert cleared: {user_text(event.text, limit=300)}"
        case "all_alerts_cleared":
            return "🟢 *Every alert of this incident has cleared.* Resolve it if the impact is over."
        case "pagerduty":
            return f"📟 {user_text(event.text)}"
        case "action":
            emoji = _ACTION_EMOJI.get(str(event.data.get("state")), "🛠️")
            return f"{emoji} {user_text(event.text, limit=600)} ({actor})"
        case "escalated":
            return escalation_line(event)
        case "response_breached":
            return f"⏰ *Response time missed.* {user_text(event.text)}"
        case "deadline_missed":
            return f"⏰ *Deadline missed.* {user_text(event.text)}"
        case "update_reminder":
            misses = int(event.data.get("misses", 1))
            return f"⏰ Status update due from {person(event.data.get('commander'))}: {_missed(misses)}."
        case "captured":
            return f"📌 {actor} on the timeline: {user_text(event.text, limit=300)}"
        case "follow_up":
            return f"☑️ Follow-up {event.data.get('change', 'added')} by {actor}: {user_text(event.text, limit=300)}"
        case "postmortem":
            return f"📝 {user_text(event.text, limit=600)}"
        case "joined":
            return f"👋 {actor} joined the incident channel."
        case "budget_burn":
            return f"🔥 {user_text(event.text, limit=600)}"
        case "runbook":
            emoji = "✅" if event.data.get("done") else "📘"
            return f"{emoji} {actor}: {user_text(event.text, limit=300)}"
        case _:
            detail = f": {user_text(event.text)}" if event.text else ""
            return f"• {escape_mrkdwn(event.kind)} by {actor}{detail}"


def escalation_line(event: TimelineEvent) -> str:
    """Who an escalation paged, and why, in words."""
    paged = [person(u) for u in event.data.get("users", [])]
    paged += [f"<!subteam^{g}>" for g in event.data.get("usergroups", [])]
    paged += [f"the on-call of PagerDuty schedule {escape_mrkdwn(str(s))}" for s in event.data.get("schedules", [])]
    if event.data.get("pagerduty"):
        paged.append("PagerDuty")
    level = event.data.get("level")
    how = f"level {level}" if level is not None else f"by {person(event.actor)}"
    if event.data.get("backup"):
        how = "backup on-call"
    why = f" ({user_text(event.text, limit=300)})" if event.text else ""
    return f"📈 *Escalated* ({how}) to {', '.join(paged) or 'nobody'}{why}."


def _missed(misses: int) -> str:
    if misses <= 1:
        return "the update is due now"
    return f"{misses} updates in a row were missed"


def timeline_event_message(event: TimelineEvent, incident: Incident) -> tuple[str, list[Block]]:
    line = timeline_event_line(event)
    blocks = [section(line)]
    if event.kind == "all_alerts_cleared" and Status(incident.status).is_open:
        blocks.append({"type": "actions", "elements": [b for b in headline_buttons(Status.MITIGATED)]})
    if event.kind == "status_update":
        severity = event.data.get("severity", incident.severity)
        status = Status(event.data.get("status", incident.status)).label
        blocks.append(context(f"Incident #{incident.number} · {severity} · {status}"))
    return line, blocks


def timeline_listing(incident: Incident, events: Sequence[TimelineEvent], *, total: int) -> list[Block]:
    header = f"*Timeline of incident #{incident.number}* ({total} events)"
    if total > len(events):
        header += f", the last {len(events)} shown"
    lines = [f"`{e.occurred_at:%m-%d %H:%M}` {timeline_event_line(e)}" for e in events]
    blocks: list[Block] = [section(header)]
    chunk: list[str] = []
    for line in lines:
        # Section text holds 3,000 characters; pack lines into as few sections as fit.
        if chunk and sum(len(c) + 1 for c in chunk) + len(line) > 2900:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line[:2900])
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks[:50]


def open_incidents_listing(incidents: Sequence[Incident], *, now: datetime,
                           severity_names: Mapping[str, str], confidential: Collection[int] = ()) -> list[Block]:
    """``confidential``: ids of incidents listed by number and status only (no title, severity or channel)."""
    if not incidents:
        return [section("No open incidents. 🎉")]
    blocks: list[Block] = [section(f"*{len(incidents)} open incident{'s' if len(incidents) != 1 else ''}*")]
    for incident in incidents[:45]:
        status = Status(incident.status)
        if incident.id in confidential:
            blocks.append(section(f"🔒 *#{incident.number}* Confidential incident\n{status.label} · "
                                  f"{format_duration(now - incident.declared_at)}"))
            continue
        blocks.append(
            section(
                f"{SEVERITY_EMOJI.get(incident.severity, '⚪')} *#{incident.number}* "
                f"{escape_mrkdwn(display_title(incident.title, limit=120))}\n"
                f"{severity_label(incident, severity_names)} · {status.label} · "
                f"{format_duration(now - incident.declared_at)} · {channel_link(incident.channel_id)}"
            )
        )
    if len(incidents) > 45:
        blocks.append(context(f"…and {len(incidents) - 45} more."))
    return blocks



def welcome(incident: Incident, *, severity_names: Mapping[str, str]) -> list[Block]:
    status = Status(incident.status)
    return [
        section(
            f"👋 You joined *incident #{incident.number}: {escape_mrkdwn(display_title(incident.title))}*\n"
            f"{severity_label(incident, severity_names)} · {STATUS_EMOJI[status.value]} {status.label} · "
            f"commander {person(incident.commander)}"
        ),
        context("The pinned headline is kept current. `/incident timeline` shows what happened so far."),
    ]
