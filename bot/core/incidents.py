"""Incident service functions: declare, change status, severity and roles, record updates.

Every function takes an explicit session and leaves committing to the caller, so a change, its
timeline event, its audit entry and the Slack writes it implies commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, cast

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.severity import Severity
from bot.core import postmortems, timers
from bot.core.checklist_refresh import request_checklist
from bot.core.errors import (
    ConcurrentChange,
    IncidentNotFound,
    InvalidInput,
    InvalidTransition,
)
from bot.core.lifecycle import OPEN_STATUSES, Status, ensure_transition
from bot.core.manager_thread import note_in_thread
from bot.core.notice_queue import queue_resolution_notice
from bot.core.outbox import (
    OutboxKind,
    enqueue,
    enqueue_headline_refresh,
    incident_ordering_key,
)
from bot.core.roles import Role
from bot.core.timeline import EventKind, record_event
from storage.models import Alert, Incident, IncidentGroup, RoleAssignment

TITLE_MAX = 2000
TEXT_MAX = 3000
_CAS_ATTEMPTS = 8
_NUMBER_ATTEMPTS = 8

_STATUS_TIMESTAMP = {
    Status.ACKNOWLEDGED: "acknowledged_at",
    Status.MITIGATED: "mitigated_at",
    Status.RESOLVED: "resolved_at",
    Status.CLOSED: "closed_at",
}


def _require_text(value: str, *, what: str, limit: int) -> str:
    # NUL is the one character PostgreSQL text can't hold; everything else is kept as typed.
    text = value.replace("\x00", "").strip()
    if not text:
        raise InvalidInput(f"The {what} can't be empty.")
    if len(text) > limit:
        raise InvalidInput(f"The {what} is {len(text)} characters long; the limit is {limit}.")
    return text


async def declare(
    session: AsyncSession,
    *,
    title: str,
    severity: Severity,
    declared_by: str,
    now: datetime,
    service: str | None = None,
    runbook_class: str | None = None,
    source: str = "slack",
    pagerduty_incident_id: str | None = None,
) -> Incident:
    """Open an incident and queue its channel, headline and announcement."""
    title = _require_text(title, what="title", limit=TITLE_MAX)
    incident = await _insert_with_next_number(
        session,
        lambda number: Incident(
            number=number, title=title, severity=severity.value, status=Status.TRIGGERED.value,
            service=service, runbook_class=runbook_class, declared_by=declared_by,
            declared_at=now, updated_at=now, version=1, source=source,
            pagerduty_incident_id=pagerduty_incident_id,
        ),
    )
    await record_event(
        session, incident_id=incident.id, kind=EventKind.DECLARED, actor=declared_by, now=now,
        text=title, data={"severity": severity.value, "service": service}, announce=False,
    )
    # Ingest claims the group itself; a declaration by hand or by the budget check claims it here.
    if service and source in ("slack", "error_budget"):
        await _claim_group_if_free(session, key=group_key(service), incident_id=incident.id, now=now)
    await enqueue(
        session, kind=OutboxKind.PROVISION_CHANNEL, incident_id=incident.id,
        ordering_key=incident_ordering_key(incident.id), payload={"incident_id": incident.id}, now=now,
    )
    await timers.request_plan(session, incident_id=incident.id, now=now, reason="declared")
    await request_checklist(session, incident_id=incident.id, now=now)
    return incident


def group_key(service: str) -> str:
    """Alerts group by service: one open incident per service takes them all."""
    return f"service:{service}"[:300]


async def _claim_group_if_free(session: AsyncSession, *, key: str, incident_id: int, now: datetime) -> None:
    """A declared incident for a service collects that service's alerts, unless one already does."""
    if await session.get(IncidentGroup, key) is not None:
        return
    try:
        async with session.begin_nested():
            session.add(IncidentGroup(group_key=key, incident_id=incident_id, last_alert_at=now))
            await session.flush()
    except IntegrityError:
        return


async def _insert_with_next_number(session: AsyncSession, build: Callable[[int], Incident]) -> Incident:
    """Numbers are max+1; concurrent declarations collide on the unique index and retry."""
    for _ in range(_NUMBER_ATTEMPTS):
        number = (await session.execute(select(func.coalesce(func.max(Incident.number), 0)))).scalar_one() + 1
        incident = build(number)
        try:
            async with session.begin_nested():
                session.add(incident)
                await session.flush()
        except IntegrityError:
            continue
        return incident
    raise ConcurrentChange("Too many incidents were declared at once; please try again.")


async def get_incident(session: AsyncSession, *, incident_id: int) -> Incident:
    incident = await session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        raise IncidentNotFound(f"There is no incident with id {incident_id}.")
    return incident


async def incident_for_channel(session: AsyncSession, *, channel_id: str) -> Incident | None:
    return await session.scalar(
        select(Incident).where(Incident.channel_id == channel_id).execution_options(populate_existing=True)
    )


async def require_incident_for_channel(session: AsyncSession, *, channel_id: str) -> Incident:
    incident = await incident_for_channel(session, channel_id=channel_id)
    if incident is None:
        raise IncidentNotFound(
            "This isn't an incident channel. Run the command in the incident's own channel "
            "(`/incident list` shows them)."
        )
    return incident


async def list_open(session: AsyncSession) -> Sequence[Incident]:
    return (
        await session.scalars(
            select(Incident)
            .where(Incident.status.in_([s.value for s in OPEN_STATUSES]))
            .order_by(Incident.severity, Incident.declared_at)
        )
    ).all()


async def _compare_and_set(
    session: AsyncSession, *, incident_id: int, now: datetime, decide: Callable[[Incident], dict[str, Any]]
) -> tuple[Incident, dict[str, Any]]:
    """Apply ``decide``'s column values only if nobody changed the incident since we read it.

    ``decide`` sees the freshest row each time round, so its checks (is this transition still
    valid?) are made against what is committed, not against what we read earlier.
    """
    for _ in range(_CAS_ATTEMPTS):
        incident = await get_incident(session, incident_id=incident_id)
        values = decide(incident)
        result = cast(CursorResult[Any], await session.execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.version == incident.version)
            .values(**values, version=incident.version + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        ))
        if result.rowcount == 1:
            return await get_incident(session, incident_id=incident_id), values
    raise ConcurrentChange("The incident kept changing while this was being applied; please try again.")


async def transition(
    session: AsyncSession, *, incident_id: int, target: Status, actor: str, now: datetime, note: str | None = None,
    sync_pagerduty: bool = True, event_data: dict[str, Any] | None = None,
) -> Incident:
    """Move the incident to ``target``.

    ``sync_pagerduty`` is off for changes that came from PagerDuty itself, so they are not
    sent back to it.
    """
    previous: dict[str, str] = {}

    def decide(incident: Incident) -> dict[str, Any]:
        current = Status(incident.status)
        ensure_transition(current, target, number=incident.number)
        previous["status"] = current.value
        values: dict[str, Any] = {"status": target.value}
        if target in _STATUS_TIMESTAMP:
            values[_STATUS_TIMESTAMP[target]] = now
        if target == Status.RESOLVED and note:
            values["summary"] = note
        if target == Status.TRIGGERED:
            values.update(acknowledged_at=None, mitigated_at=None, resolved_at=None)
        return values

    incident, _ = await _compare_and_set(session, incident_id=incident_id, now=now, decide=decide)
    event = await record_event(
        session, incident_id=incident_id, kind=EventKind.STATUS_CHANGED, actor=actor, now=now,
        text=note or "", data={"from": previous["status"], "to": target.value, **(event_data or {})},
    )
    await enqueue_headline_refresh(session, incident_id=incident_id, now=now)
    await _follow_status_with_timers(session, incident_id=incident_id, target=target, now=now)
    await note_in_thread(session, incident=incident, event=event, now=now)
    if not target.is_open:
        await release_groups(session, incident_id=incident_id)
    if target == Status.RESOLVED:
        # Queued, not composed: the draft is written and posted after this commits, so a
        # failure to draft or post it can never hold up the resolve.
        await postmortems.request_draft(session, incident_id=incident_id, reason="resolved", actor=actor, now=now)
        # Likewise the resolution notice, to wherever the updates went (seeds 002 and 003).
        await queue_resolution_notice(session, incident_id=incident_id, now=now)
    if sync_pagerduty and target in (Status.ACKNOWLEDGED, Status.RESOLVED):
        await enqueue_pagerduty_sync(session, incident=incident, status=target, now=now)
    return incident


async def _follow_status_with_timers(session: AsyncSession, *, incident_id: int, target: Status, now: datetime) -> None:
    """Someone acknowledging stops the paging; closing the incident stops everything."""
    if not target.is_open:
        await timers.cancel(session, incident_id=incident_id)
    elif target == Status.TRIGGERED:
        await timers.request_plan(session, incident_id=incident_id, now=now, reason="reopened")
    else:
        await timers.cancel(session, incident_id=incident_id, kinds=timers.UNTIL_ACKNOWLEDGED)
        # Levels with `until: mitigated` or `resolved` and the mitigation and resolution
        # deadlines outlive the acknowledgement: the planner schedules what is still owed.
        await timers.request_plan(session, incident_id=incident_id, now=now, reason=target.value)


async def release_groups(session: AsyncSession, *, incident_id: int) -> None:
    """A closed chapter: new alerts for its service open a new incident, not this one."""
    await session.execute(
        delete(IncidentGroup).where(IncidentGroup.incident_id == incident_id)
        .execution_options(synchronize_session=False)
    )


async def pagerduty_links(session: AsyncSession, *, incident: Incident) -> list[str]:
    """The PagerDuty incidents behind this one: the one that opened it and any attached since."""
    attached = await session.scalars(
        select(Alert.pagerduty_incident_id).where(
            Alert.incident_id == incident.id, Alert.pagerduty_incident_id.is_not(None)
        ).order_by(Alert.id)
    )
    ids = [incident.pagerduty_incident_id] if incident.pagerduty_incident_id else []
    return list(dict.fromkeys([*ids, *(pd_id for pd_id in attached if pd_id)]))


async def enqueue_pagerduty_sync(session: AsyncSession, *, incident: Incident, status: Status, now: datetime) -> None:
    if not await pagerduty_links(session, incident=incident):
        return
    await enqueue(
        session, kind=OutboxKind.PAGERDUTY_STATUS, incident_id=incident.id,
        ordering_key=f"pagerduty:{incident.id}", payload={"incident_id": incident.id, "status": status.value}, now=now,
    )


async def acknowledge(session: AsyncSession, *, incident_id: int, actor: str, now: datetime) -> Incident:
    return await transition(session, incident_id=incident_id, target=Status.ACKNOWLEDGED, actor=actor, now=now)


async def mitigate(
    session: AsyncSession, *, incident_id: int, actor: str, now: datetime, note: str | None = None
) -> Incident:
    note = _require_text(note, what="note", limit=TEXT_MAX) if note else None
    return await transition(session, incident_id=incident_id, target=Status.MITIGATED, actor=actor, now=now, note=note)


async def resolve(
    session: AsyncSession, *, incident_id: int, actor: str, now: datetime, summary: str | None = None
) -> Incident:
    summary = _require_text(summary, what="summary", limit=TEXT_MAX) if summary else None
    return await transition(
        session, incident_id=incident_id, target=Status.RESOLVED, actor=actor, now=now, note=summary
    )


def _require_open(incident: Incident, *, doing: str) -> None:
    if Status(incident.status) not in OPEN_STATUSES:
        raise InvalidTransition(
            f"Incident #{incident.number} is {incident.status}; {doing} is only for open incidents."
        )


async def set_severity(
    session: AsyncSession, *, incident_id: int, severity: Severity, actor: str, now: datetime
) -> Incident:
    previous: dict[str, str] = {}

    def decide(incident: Incident) -> dict[str, Any]:
        _require_open(incident, doing="changing the severity")
        if incident.severity == severity.value:
            raise InvalidInput(f"Incident #{incident.number} is already {severity.value}.")
        previous["severity"] = incident.severity
        return {"severity": severity.value}

    incident, _ = await _compare_and_set(session, incident_id=incident_id, now=now, decide=decide)
    event = await record_event(
        session, incident_id=incident_id, kind=EventKind.SEVERITY_CHANGED, actor=actor, now=now,
        data={"from": previous["severity"], "to": severity.value},
    )
    await enqueue_headline_refresh(session, incident_id=incident_id, now=now)
    # A new severity brings its own escalation levels, response time and update cadence.
    await timers.request_plan(session, incident_id=incident_id, now=now, reason="severity")
    await note_in_thread(session, incident=incident, event=event, now=now)
    return incident


class _Unchecked(Enum):
    COMMANDER = "any commander"


ANY_COMMANDER = _Unchecked.COMMANDER


async def assign_role(
    session: AsyncSession, *, incident_id: int, role: Role, user_id: str, actor: str, now: datetime,
    commander_was: str | _Unchecked | None = ANY_COMMANDER,
) -> Incident:
    """``commander_was``: who led the incident when ``actor`` was allowed to do this. Who may
    give roles depends on who leads, so if command changed hands since, nothing changes."""

    def decide(incident: Incident) -> dict[str, Any]:
        if Status(incident.status) == Status.CLOSED:
            raise InvalidTransition(f"Incident #{incident.number} is closed; its roles are final.")
        if commander_was is not ANY_COMMANDER and incident.commander != commander_was:
            raise ConcurrentChange(f"The commander of incident #{incident.number} changed just now; "
                                   "check who leads it and try again.")
        return {"commander": user_id} if role == Role.COMMANDER else {}

    # Bumping the version even for roles other than commander serialises role changes.
    incident, _ = await _compare_and_set(session, incident_id=incident_id, now=now, decide=decide)
    await session.execute(
        update(RoleAssignment)
        .where(RoleAssignment.incident_id == incident_id, RoleAssignment.role == role.value,
               RoleAssignment.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    session.add(RoleAssignment(incident_id=incident_id, role=role.value, user_id=user_id, assigned_by=actor,
                               assigned_at=now))
    await record_event(
        session, incident_id=incident_id, kind=EventKind.ROLE_ASSIGNED, actor=actor, now=now,
        data={"role": role.value, "user": user_id},
    )
    await enqueue_headline_refresh(session, incident_id=incident_id, now=now)
    return incident


async def current_roles(session: AsyncSession, *, incident_id: int) -> dict[Role, str]:
    rows = await session.scalars(
        select(RoleAssignment)
        .where(RoleAssignment.incident_id == incident_id, RoleAssignment.ended_at.is_(None))
        .order_by(RoleAssignment.assigned_at)
    )
    return {Role(row.role): row.user_id for row in rows}


async def post_status_update(
    session: AsyncSession, *, incident_id: int, text: str, actor: str, now: datetime
) -> Incident:
    text = _require_text(text, what="status update", limit=TEXT_MAX)
    incident = await get_incident(session, incident_id=incident_id)
    _require_open(incident, doing="a status update")
    # The update is shown with the severity and status it was written under, not later ones.
    event = await record_event(
        session, incident_id=incident_id, kind=EventKind.STATUS_UPDATE, actor=actor, now=now, text=text,
        data={"severity": incident.severity, "status": incident.status},
    )
    await enqueue_headline_refresh(session, incident_id=incident_id, now=now)
    # Published three ways: the channel (the event above), managers' thread, the announcement.
    await note_in_thread(session, incident=incident, event=event, now=now)
    await enqueue(session, kind=OutboxKind.ANNOUNCE_UPDATE, incident_id=incident_id,
                  ordering_key=incident_ordering_key(incident_id), payload={"event_id": event.id}, now=now)
    await timers.request_plan(session, incident_id=incident_id, now=now, reason="update")
    return incident


async def add_note(session: AsyncSession, *, incident_id: int, text: str, actor: str, now: datetime) -> Incident:
    text = _require_text(text, what="note", limit=TEXT_MAX)
    incident = await get_incident(session, incident_id=incident_id)
    await record_event(session, incident_id=incident_id, kind=EventKind.NOTE, actor=actor, now=now, text=text)
    return incident


async def record_slack_channel(
    session: AsyncSession, *, incident_id: int, channel_id: str, channel_name: str
) -> None:
    """Slack-side facts do not bump the version: they never race a person's decision."""
    await session.execute(
        update(Incident).where(Incident.id == incident_id)
        .values(channel_id=channel_id, channel_name=channel_name)
        .execution_options(synchronize_session=False)
    )


async def claim_channel_name(session: AsyncSession, *, incident_id: int, channel_name: str) -> None:
    """The name the bot is about to create the incident's channel under, kept before it asks
    Slack: if the bot stops between Slack's answer and ``record_slack_channel``, its next try
    knows that a channel under this name is its own."""
    await session.execute(
        update(Incident).where(Incident.id == incident_id, Incident.channel_id.is_(None))
        .values(channel_name=channel_name)
        .execution_options(synchronize_session=False)
    )


async def record_headline(session: AsyncSession, *, incident_id: int, headline_ts: str) -> None:
    await session.execute(
        update(Incident).where(Incident.id == incident_id).values(headline_ts=headline_ts)
        .execution_options(synchronize_session=False)
    )


async def record_announcement(session: AsyncSession, *, incident_id: int, channel_id: str, ts: str) -> None:
    await session.execute(
        update(Incident).where(Incident.id == incident_id)
        .values(announcement_channel_id=channel_id, announcement_ts=ts)
        .execution_options(synchronize_session=False)
    )
