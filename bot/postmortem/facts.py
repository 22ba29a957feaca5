"""Everything a postmortem draft may state, read from the database in one place.

Nothing here is guessed: each field is a recorded fact or ``None``/empty, which the template
turns into a prompt for the team.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import IncidentBotConfig
from bot.core import followups, postmortems
from bot.core.incidents import current_roles, get_incident
from bot.core.timeline import list_events
from bot.durations import format_duration
from bot.postmortem.durations import Durations, alert_started_at, measure
from bot.postmortem.timeline_rows import Row, actor_name, rows
from bot.postmortem.whys import Why, five_whys
from storage.models import Alert, AuditEntry, Incident, TimelineEvent

# Audit outcomes that end an action's story, and what the review calls them.
_FINAL_WORDS = {"ok": "done", "failed": "failed", "denied": "refused", "expired": "expired unapproved",
                "cancelled": "cancelled", "conflict": "blocked by another action", "dry_run": "dry run only",
                "invalid": "refused as asked", "superseded": "superseded before it was verified"}


@dataclass(frozen=True)
class ActionRow:
    at: datetime
    summary: str
    requested_by: str
    approved_by: str | None
    outcome: str
    result: str


@dataclass(frozen=True)
class DiagnosticRow:
    at: datetime
    step: str
    verdict: str
    headline: str
    lines: tuple[str, ...]
    file_id: str | None


@dataclass(frozen=True)
class FollowUpRow:
    text: str
    owner: str | None
    due_on: date | None
    state: str


@dataclass(frozen=True)
class ReviewRow:
    reviewer: str
    decision: str
    draft: int
    at: datetime
    comment: str


@dataclass(frozen=True)
class CapturedFileRow:
    name: str
    permalink: str


@dataclass(frozen=True)
class RelatedIncident:
    number: int
    title: str
    score: float
    root_cause: str | None
    channel: str | None
    channel_id: str | None
    declared_at: datetime


@dataclass(frozen=True)
class Related:
    incidents: tuple[RelatedIncident, ...] = ()
    unavailable: str | None = None  # why related incidents could not be looked up
    model: str | None = None


@dataclass(frozen=True)
class Hint:
    """A fact from the record that bears on a judgement (went well / could improve)."""

    text: str


@dataclass(frozen=True)
class PostmortemFacts:
    incident_id: int
    number: int
    title: str
    severity: str
    severity_name: str
    status: str
    service: str | None
    runbook_class: str | None
    commander: str | None
    declared_by: str
    declared_at: datetime
    resolved_at: datetime | None
    summary: str | None
    channel_name: str | None
    channel_id: str | None
    durations: Durations
    timeline: tuple[Row, ...]
    events: int
    alerts: int
    alert_deliveries: int
    first_alert: str | None
    actions: tuple[ActionRow, ...]
    diagnostics: tuple[DiagnosticRow, ...]
    diagnose_runs: int
    charts: tuple[CapturedFileRow, ...]
    whys: tuple[Why, ...]
    follow_ups: tuple[FollowUpRow, ...]
    reviews: tuple[ReviewRow, ...]
    went_well: tuple[Hint, ...]
    could_improve: tuple[Hint, ...]
    roles: dict[str, str]
    draft_number: int
    generated_at: datetime
    related: Related = field(default_factory=Related)

    def summary_numbers(self) -> dict[str, Any]:
        """What the Slack summary message shows, kept with the draft."""
        def seconds(value: timedelta | None) -> float | None:
            return value.total_seconds() if value is not None else None

        return {
            "detect_s": seconds(self.durations.detect.value),
            "acknowledge_s": seconds(self.durations.acknowledge.value),
            "contain_s": seconds(self.durations.contain.value), "resolve_s": seconds(self.durations.resolve.value),
            "events": self.events, "rows": len(self.timeline), "actions": len(self.actions),
            "diagnostics": len(self.diagnostics), "related": [r.number for r in self.related.incidents],
            "follow_ups": len(self.follow_ups),
        }


async def gather(
    session: AsyncSession, *, incident_id: int, config: IncidentBotConfig, now: datetime, draft_number: int,
) -> PostmortemFacts:
    incident = await get_incident(session, incident_id=incident_id)
    events = list(await list_events(session, incident_id=incident_id))
    alerts = list((await session.scalars(
        select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.first_seen_at, Alert.id))).all())
    durations = measure(incident, alerts=alerts, events=events)
    diagnostics, runs = _diagnostics(events)
    actions = await _actions(session, incident_id=incident_id)
    postmortem = await postmortems.for_incident(session, incident_id=incident_id)
    reviews = await postmortems.reviews(session, postmortem_id=postmortem.id) if postmortem else ()
    items = await followups.list_for(session, incident_id=incident_id)
    roles = {role.value: user for role, user in (await current_roles(session, incident_id=incident_id)).items()}
    first_alert = min(alerts, key=alert_started_at) if alerts else None
    policy = config.severity_policy(incident.severity)
    return PostmortemFacts(
        incident_id=incident.id, number=incident.number, title=incident.title, severity=incident.severity,
        severity_name=policy.name, status=incident.status, service=incident.service,
        runbook_class=incident.runbook_class, commander=incident.commander, declared_by=incident.declared_by,
        declared_at=incident.declared_at, resolved_at=incident.resolved_at, summary=incident.summary,
        channel_name=incident.channel_name, channel_id=incident.channel_id,
        durations=durations, timeline=tuple(rows(events)), events=len(events), alerts=len(alerts),
        alert_deliveries=sum(a.occurrences for a in alerts),
        first_alert=_alert_line(first_alert) if first_alert else None,
        actions=actions, diagnostics=diagnostics, diagnose_runs=runs,
        charts=tuple(_captured_files(events)),
        whys=five_whys(incident=incident, first_alert=_alert_line(first_alert) if first_alert else None,
                       diagnostics=[(d.step, d.verdict, d.headline, d.lines) for d in diagnostics],
                       actions=[(a.summary, a.outcome, a.at) for a in actions]),
        follow_ups=tuple(FollowUpRow(i.text, i.owner, i.due_on, i.state) for i in items),
        reviews=tuple(ReviewRow(r.reviewer, r.decision, r.draft_number, r.decided_at, r.comment) for r in reviews),
        went_well=tuple(_went_well(incident, durations, actions, config)),
        could_improve=tuple(_could_improve(events, actions)),
        roles=roles, draft_number=draft_number, generated_at=now,
    )


def _alert_line(alert: Alert) -> str:
    description = str((alert.details or {}).get("description") or "")
    started = alert_started_at(alert)
    line = f"{alert.title} ({alert.source}, {started:%Y-%m-%d %H:%M} UTC)"
    return f"{line}: {description[:200]}" if description else line


def _diagnostics(events: Sequence[TimelineEvent]) -> tuple[tuple[DiagnosticRow, ...], int]:
    """The newest result of each step, in suite order, and how many runs there were."""
    newest: dict[str, TimelineEvent] = {}
    runs = 0
    previous_kind = None
    for event in events:
        if event.kind == "diagnostic":
            if previous_kind != "diagnostic":
                runs += 1
            newest[str(event.data.get("step"))] = event
        previous_kind = event.kind
    ordered = sorted(newest.values(), key=lambda e: (e.occurred_at, e.id))
    return tuple(
        DiagnosticRow(at=e.occurred_at, step=str(e.data.get("step")), verdict=str(e.data.get("verdict")),
                      headline=e.text, lines=tuple(str(line) for line in e.data.get("lines", []))[:12],
                      file_id=e.data.get("file_id"))
        for e in ordered
    ), runs


async def _actions(session: AsyncSession, *, incident_id: int) -> tuple[ActionRow, ...]:
    """One row per guarded action, from its audit entries: asked by whom, approved by whom, how it ended."""
    entries = (await session.scalars(
        select(AuditEntry).where(AuditEntry.incident_id == incident_id, AuditEntry.action.like("action.%"))
        .order_by(AuditEntry.occurred_at, AuditEntry.id))).all()
    by_action: dict[Any, list[AuditEntry]] = {}
    for entry in entries:
        key = entry.detail.get("action_id") or f"refused-{entry.id}"
        by_action.setdefault(key, []).append(entry)
    out = []
    for steps in by_action.values():
        first, last = steps[0], steps[-1]
        detail = last.detail
        if last.outcome in ("requested", "approved"):
            outcome = "still running or waiting" if last.outcome == "requested" else "approved, not finished"
        else:
            state = str(detail.get("state") or "")
            outcome = state.replace("_", " ") if state and last.outcome == "ok" else _FINAL_WORDS.get(
                last.outcome, last.outcome)
        summary = str(detail.get("summary") or detail.get("reason") or last.action.removeprefix("action."))
        out.append(ActionRow(at=first.occurred_at, summary=summary,
                             requested_by=actor_name(str(detail.get("requested_by") or first.actor)),
                             approved_by=actor_name(detail["decided_by"]) if detail.get("decided_by") else None,
                             outcome=outcome, result=_result_text(detail.get("result"))))
    return tuple(out)


def _result_text(result: Any) -> str:
    if not isinstance(result, dict) or not result:
        return ""
    parts = [f"{k}: {v}" for k, v in result.items() if isinstance(v, str | int | float | bool)]
    return "; ".join(parts)[:300]


def _captured_files(events: Sequence[TimelineEvent]) -> list[CapturedFileRow]:
    files = []
    for event in events:
        if event.kind == "captured":
            files.extend(CapturedFileRow(str(f.get("name") or f.get("id")), str(f.get("permalink") or ""))
                         for f in event.data.get("files", []))
    return files


def _went_well(incident: Incident, durations: Durations, actions: Sequence[ActionRow],
               config: IncidentBotConfig) -> list[Hint]:
    hints = []
    respond_within = config.scaled(config.severity_policy(incident.severity).respond_within)
    ack = durations.acknowledge.value
    if ack is not None and ack <= respond_within:
        hints.append(Hint(f"Acknowledged within the {incident.severity} response time "
                          f"({_short(ack)} of {_short(respond_within)})."))
    verified = [a for a in actions if a.outcome == "succeeded"]
    if verified:
        many = len(verified) != 1
        hints.append(Hint(f"{len(verified)} action{'s' if many else ''} changed the system and "
                          f"{'were' if many else 'was'} verified: " + "; ".join(a.summary for a in verified[:3]) + "."))
    return hints


def _could_improve(events: Sequence[TimelineEvent], actions: Sequence[ActionRow]) -> list[Hint]:
    hints = []
    breaches = sum(1 for e in events if e.kind == "response_breached")
    if breaches:
        hints.append(Hint("Nobody acknowledged within the response time"
                          + (f" ({breaches} times)." if breaches > 1 else ".")))
    reminders = [int(e.data.get("misses", 1)) for e in events if e.kind == "update_reminder"]
    if reminders and max(reminders) > 1:
        hints.append(Hint(f"Status updates were missed {max(reminders)} times in a row."))
    failed = [a for a in actions if a.outcome in ("failed", "unverified", "interrupted")]
    if failed:
        hints.append(Hint("Actions that did not take effect: " + "; ".join(f"{a.summary} ({a.outcome})"
                                                                           for a in failed[:3]) + "."))
    return hints


def _short(value: timedelta) -> str:
    return format_duration(value)
