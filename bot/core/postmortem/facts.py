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
from bot.config.durations import format_duration
from bot.core import followups, incident_budgets, postmortems
from bot.core.alerts import alerts_of
from bot.core.incidents import current_roles, get_incident
from bot.core.postmortem.durations import Durations, alert_started_at, measure
from bot.core.postmortem.people import mention
from bot.core.postmortem.timeline_rows import FINDING_VERDICTS, Row, diagnose_runs, rows
from bot.core.postmortem.whys import Why, five_whys
from bot.core.timeline import list_events
from storage.models import Alert, AuditEntry, Incident, ResponseAction, TimelineEvent

# How each action ended, as the review says it (``{by}``: who decided). An action only
# proposed, never confirmed, was not taken and is not listed.
_ENDED = {"succeeded": "succeeded", "no_change": "no change needed", "failed": "failed",
          "unverified": "changed, but not verified", "stale": "not done: the state changed since the request",
          "dry_run": "dry run only", "interrupted": "interrupted (the bot stopped)",
          "superseded": "superseded before it was verified", "denied": "denied by {by}",
          "expired": "expired: nobody approved in time", "cancelled": "withdrawn by the requester",
          "awaiting_approval": "still waiting for approval", "running": "still running"}
_NOT_TAKEN = ("proposed",)
# Audit outcomes that are refusals: a request or a step that was turned down, not an action.
_REFUSALS = ("denied", "invalid")


@dataclass(frozen=True)
class ActionRow:
    at: datetime
    summary: str
    requested_by: str  # a Slack id
    approved_by: str | None  # a Slack id, only where an approval let it run
    outcome: str  # the action's final state (succeeded, denied, expired, ...)
    result: str
    ended: str = ""  # the outcome in words, with people as mention markup


@dataclass(frozen=True)
class RefusalRow:
    """A request or a step the bot turned down: not an action taken, but part of the story."""

    at: datetime
    by: str  # who asked
    what: str  # the action it concerned, or the kind of action asked for
    reason: str


@dataclass(frozen=True)
class DiagnoseRun:
    at: datetime
    by: str
    checks: int
    verdicts: str  # "golden critical, drift ok"
    findings: tuple[str, ...]  # the headlines of what it found wrong


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
    refusals: tuple[RefusalRow, ...] = ()
    runs: tuple[DiagnoseRun, ...] = ()
    # The incident's share of its service's error budget, as the budget check stored it (seed 004).
    budget: str | None = None

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
    alerts = await alerts_of(session, incident_id=incident_id)
    durations = measure(incident, alerts=alerts, events=events)
    diagnostics, runs = _diagnostics(events)
    actions = await _actions(session, incident_id=incident_id)
    refusals = await _refusals(session, incident_id=incident_id)
    postmortem = await postmortems.for_incident(session, incident_id=incident_id)
    reviews = await postmortems.reviews(session, postmortem_id=postmortem.id) if postmortem else ()
    items = await followups.list_for(session, incident_id=incident_id)
    roles = {role.value: user for role, user in (await current_roles(session, incident_id=incident_id)).items()}
    first_alert = min(alerts, key=alert_started_at) if alerts else None
    budget = await incident_budgets.for_incident(session, incident_id=incident_id)
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
        actions=actions, diagnostics=diagnostics, diagnose_runs=len(runs), runs=runs, refusals=refusals,
        charts=tuple(_captured_files(events)),
        whys=five_whys(incident=incident, first_alert=_alert_line(first_alert) if first_alert else None,
                       diagnostics=[(d.step, d.verdict, d.headline, d.lines) for d in diagnostics],
                       actions=[(a.summary, a.outcome, a.at) for a in actions]),
        follow_ups=tuple(FollowUpRow(i.text, i.owner, i.due_on, i.state) for i in items),
        reviews=tuple(ReviewRow(r.reviewer, r.decision, r.draft_number, r.decided_at, r.comment) for r in reviews),
        went_well=tuple(_went_well(incident, durations, actions, config)),
        could_improve=tuple(_could_improve(events, actions)),
        roles=roles, draft_number=draft_number, generated_at=now,
        budget=incident_budgets.describe(budget) if budget is not None else None,
    )


def _alert_line(alert: Alert) -> str:
    description = str((alert.details or {}).get("description") or "")
    started = alert_started_at(alert)
    line = f"{alert.title} ({alert.source}, {started:%Y-%m-%d %H:%M} UTC)"
    return f"{line}: {description[:200]}" if description else line


def _diagnostics(events: Sequence[TimelineEvent]) -> tuple[tuple[DiagnosticRow, ...], tuple[DiagnoseRun, ...]]:
    """The newest result of each step, in suite order, and each run on its own."""
    newest: dict[str, TimelineEvent] = {}
    for event in events:
        if event.kind == "diagnostic":
            newest[str(event.data.get("step"))] = event
    ordered = sorted(newest.values(), key=lambda e: (e.occurred_at, e.id))
    runs = tuple(
        DiagnoseRun(at=run[0].occurred_at, by=run[0].actor, checks=len(run),
                    verdicts=", ".join(f"{e.data.get('step')} {e.data.get('verdict')}" for e in run),
                    findings=tuple(e.text for e in run if e.data.get("verdict") in FINDING_VERDICTS))
        for run in diagnose_runs(events)
    )
    return tuple(
        DiagnosticRow(at=e.occurred_at, step=str(e.data.get("step")), verdict=str(e.data.get("verdict")),
                      headline=e.text, lines=tuple(str(line) for line in e.data.get("lines", []))[:12],
                      file_id=e.data.get("file_id"))
        for e in ordered
    ), runs


async def _actions(session: AsyncSession, *, incident_id: int) -> tuple[ActionRow, ...]:
    """One row per action that was asked for in earnest: what it was to do, who asked, who
    approved, and how it ended, read from the action's own row (its final state)."""
    found = (await session.scalars(
        select(ResponseAction).where(ResponseAction.incident_id == incident_id,
                                     ResponseAction.state.not_in(_NOT_TAKEN))
        .order_by(ResponseAction.requested_at, ResponseAction.id))).all()
    out = []
    for action in found:
        decider = mention(action.decided_by) if action.decided_by else "someone"
        approved = action.decided_by and action.state != "denied"  # decided_by is whoever approved or denied
        out.append(ActionRow(at=action.requested_at, summary=action.summary, requested_by=action.requested_by,
                             approved_by=action.decided_by if approved else None, outcome=action.state,
                             result=_result_text(action.result),
                             ended=_ENDED.get(action.state, action.state.replace("_", " ")).format(by=decider)))
    return tuple(out)


async def _refusals(session: AsyncSession, *, incident_id: int) -> tuple[RefusalRow, ...]:
    """Requests and steps the bot refused (no role, out of bounds, approving one's own request)."""
    entries = (await session.scalars(
        select(AuditEntry).where(AuditEntry.incident_id == incident_id, AuditEntry.action.like("action.%"),
                                 AuditEntry.outcome.in_(_REFUSALS))
        .order_by(AuditEntry.occurred_at, AuditEntry.id))).all()
    out = []
    for entry in entries:
        detail = entry.detail or {}
        if detail.get("action_id") and detail.get("state") == "denied" and detail.get("decided_by") == entry.actor:
            continue  # an approver's no: the action's own row says "denied by"
        what = str(detail.get("summary") or entry.action.removeprefix("action.").replace("_", " "))
        reason = str(detail.get("note") or detail.get("reason") or "refused")
        out.append(RefusalRow(at=entry.occurred_at, by=entry.actor, what=what, reason=reason))
    return tuple(out)


def _result_text(result: Any) -> str:
    if not isinstance(result, dict) or not result:
        return ""
    parts = [f"{k}: {v}" for k, v in result.items() if isinstance(v, str | int | float | bool)]
    return "; ".join(parts)[:300]


def _captured_files(events: Sequence[TimelineEvent]) -> list[CapturedFileRow]:
    files: list[CapturedFileRow] = []
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
