"""Alerts in: what a delivery does to the incidents: open one, attach to one, or update one.

A delivery is first appended to the inbox (``bot.core.inbox``), answered 2xx once that append
committed, and applied here afterwards, in arrival order, by the inbox's processor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import IncidentBotConfig
from bot.core import incidents
from bot.core.incidents import group_key
from bot.core.lifecycle import OPEN_STATUSES, Status
from bot.core.outbox import OutboxKind, enqueue, enqueue_headline_refresh
from bot.core.routing import Route, pagerduty_severity, route
from bot.core.signals import AlertSignal, SignalKind, Source
from bot.core.timeline import EventKind, record_event
from storage.models import (
    Alert,
    Incident,
    IncidentGroup,
    TimelineEvent,
)

HEADLINE_PACE = timedelta(seconds=1)
GROUP_TOUCH_EVERY = timedelta(seconds=1)
FIRING = "firing"
CLEARED = "cleared"
_OPEN = [s.value for s in OPEN_STATUSES]


class Outcome(StrEnum):
    OPENED = "opened"
    ATTACHED = "attached"
    UPDATED = "updated"
    NO_CHANGE = "no_change"  # already so: an echo of our own change, or nothing to apply to
    IGNORED = "ignored"
    FAILED = "failed"  # applying it raised: kept, with the error in the log, never retried blindly


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    incident_id: int | None = None
    incident_number: int | None = None


def _result(outcome: Outcome, incident: Incident | None) -> IngestResult:
    return IngestResult(outcome, incident.id if incident else None, incident.number if incident else None)


async def apply_signal(session: AsyncSession, *, signal: AlertSignal, config: IncidentBotConfig,
                       now: datetime) -> IngestResult:
    """What a delivery does to the incidents, run by the inbox's processor after the ack
    (``bot.core.inbox``), inside its transaction."""
    match signal.kind:
        case SignalKind.TRIGGER:
            return await _trigger(session, signal=signal, config=config, now=now)
        case SignalKind.CLEAR:
            return await _clear(session, signal=signal, now=now)
        case SignalKind.IGNORED:
            return IngestResult(Outcome.IGNORED)
        case _:
            return await _pagerduty_change(session, signal=signal, config=config, now=now)


# --- finding what an alert belongs to ----------------------------------------------------------


async def open_alert(session: AsyncSession, *, dedup_key: str) -> Alert | None:
    """The alert with this dedup key in an open incident, if any."""
    return await session.scalar(
        select(Alert)
        .join(Incident, Incident.id == Alert.incident_id)
        .where(Alert.dedup_key == dedup_key, Incident.status.in_(_OPEN))
        .order_by(Alert.id.desc())
        .limit(1)
    )


async def incident_for_pagerduty(session: AsyncSession, *, pagerduty_incident_id: str) -> Incident | None:
    """The newest local incident linked to a PagerDuty incident, whatever its status."""
    direct = await session.scalar(
        select(Incident).where(Incident.pagerduty_incident_id == pagerduty_incident_id)
        .order_by(Incident.id.desc()).limit(1)
    )
    if direct is not None:
        return direct
    return await session.scalar(
        select(Incident)
        .join(Alert, Alert.incident_id == Incident.id)
        .where(Alert.pagerduty_incident_id == pagerduty_incident_id)
        .order_by(Incident.id.desc())
        .limit(1)
    )


async def _grouped_incident(
    session: AsyncSession, *, key: str, window: timedelta, now: datetime
) -> tuple[IncidentGroup | None, Incident | None]:
    """The group row, and its incident if that is open and heard from within the window."""
    group = await session.get(IncidentGroup, key, populate_existing=True)
    if group is None:
        return None, None
    incident = await session.get(Incident, group.incident_id, populate_existing=True)
    if incident is None or incident.status not in _OPEN or now - group.last_alert_at > window:
        return group, None
    return group, incident


# --- trigger ------------------------------------------------------------------------------------


async def _trigger(session: AsyncSession, *, signal: AlertSignal, config: IncidentBotConfig,
                   now: datetime) -> IngestResult:
    dedup_key = (signal.dedup_key or f"{signal.source.value}:{signal.title}")[:300]
    existing = await open_alert(session, dedup_key=dedup_key)
    if existing is not None:
        incident = await incidents.get_incident(session, incident_id=existing.incident_id)
        alert = await _attach(session, incident=incident, dedup_key=dedup_key, signal=signal, now=now)
        await _note_alert(session, incident=incident, alert=alert, signal=signal, config=config, now=now)
        return _result(Outcome.ATTACHED, incident)

    routed = route(signal, config)
    key = group_key(routed.service)
    window = config.alerts.group_window
    for _ in range(3):
        group, grouped = await _grouped_incident(session, key=key, window=window, now=now)
        if grouped is not None:
            alert = await _attach(session, incident=grouped, dedup_key=dedup_key, signal=signal, now=now)
            await _note_alert(session, incident=grouped, alert=alert, signal=signal, config=config, now=now)
            return _result(Outcome.ATTACHED, grouped)
        opened = await _open_incident(session, signal=signal, routed=routed, key=key, stale_group=group,
                                      dedup_key=dedup_key, now=now)
        if opened is not None:
            return _result(Outcome.OPENED, opened)
        # Another delivery opened one for this service at the same moment: attach to theirs.
    raise RuntimeError(f"could not settle the incident for {key}")


async def _open_incident(
    session: AsyncSession, *, signal: AlertSignal, routed: Route, key: str, stale_group: IncidentGroup | None,
    dedup_key: str, now: datetime,
) -> Incident | None:
    """Open an incident that owns ``key``, or return None if another delivery got there first."""
    try:
        async with session.begin_nested():
            incident = await incidents.declare(
                session, title=signal.title or signal.alarm_name or "Alert", severity=routed.severity,
                declared_by=signal.source.value, now=now, service=routed.service, runbook_class=routed.runbook_class,
                source=signal.source.value, pagerduty_incident_id=signal.pagerduty_incident_id,
            )
            if stale_group is None:
                session.add(IncidentGroup(group_key=key, incident_id=incident.id, last_alert_at=now))
                await session.flush()
            else:
                claimed = cast(CursorResult[Any], await session.execute(
                    update(IncidentGroup)
                    .where(IncidentGroup.group_key == key, IncidentGroup.incident_id == stale_group.incident_id)
                    .values(incident_id=incident.id, last_alert_at=now)
                    .execution_options(synchronize_session=False)
                ))
                if claimed.rowcount != 1:
                    raise _GroupTaken
            alert = await _add_alert(session, incident=incident, dedup_key=dedup_key, signal=signal, now=now)
            event = await _alert_event(session, incident=incident, alert=alert, signal=signal, now=now)
            # The opening alert is in the headline; storm summaries start after it.
            event.summarized_at = now
    except (IntegrityError, _GroupTaken):
        return None
    return incident


class _GroupTaken(Exception):
    """Another delivery replaced a stale group first; the savepoint rolls our incident back."""


async def _attach(session: AsyncSession, *, incident: Incident, dedup_key: str, signal: AlertSignal,
                  now: datetime) -> Alert:
    """Count the alert against the incident: a repeat bumps its row, a new one adds a row.

    Two deliveries of one new alarm can race to add its row; the loser of the unique key finds
    the winner's row (committed by then) and counts itself there.
    """
    for _ in range(3):
        alert = await session.scalar(
            select(Alert).where(Alert.incident_id == incident.id, Alert.dedup_key == dedup_key)
            .execution_options(populate_existing=True)
        )
        if alert is not None:
            # In SQL, not in Python: concurrent repeats of one alarm must each count.
            alert.occurrences = Alert.occurrences + 1
            alert.last_seen_at = now
            if alert.state == CLEARED:
                alert.state, alert.cleared_at = FIRING, None
            await session.flush()
            return alert
        try:
            async with session.begin_nested():
                return await _add_alert(session, incident=incident, dedup_key=dedup_key, signal=signal, now=now)
        except IntegrityError:
            continue
    raise RuntimeError(f"could not record alert {dedup_key}")


async def _add_alert(session: AsyncSession, *, incident: Incident, dedup_key: str, signal: AlertSignal,
                     now: datetime) -> Alert:
    alert = Alert(
        incident_id=incident.id, source=signal.source.value, dedup_key=dedup_key,
        title=(signal.title or signal.alarm_name or "")[:1000], state=FIRING, occurrences=1,
        first_seen_at=now, last_seen_at=now, pagerduty_incident_id=signal.pagerduty_incident_id,
        details=_details(signal),
    )
    session.add(alert)
    await session.flush()
    return alert


def _details(signal: AlertSignal) -> dict[str, Any]:
    details: dict[str, Any] = {
        "description": signal.description[:2000], "alarm_arn": signal.alarm_arn, "region": signal.region,
        "html_url": signal.html_url, "priority": signal.pagerduty_priority, "urgency": signal.pagerduty_urgency,
        # What the runbooks' match rules read when the checklist is chosen.
        "alarm_name": signal.alarm_name,
        "pagerduty_service": signal.service_hint if signal.source == Source.PAGERDUTY else None,
        # When the source saw it happen (an alarm's state change), for the postmortem's time to detect.
        "occurred_at": signal.occurred_at.isoformat() if signal.occurred_at and signal.occurred_at.tzinfo else None,
    }
    if signal.metric is not None:
        m = signal.metric
        details["metric"] = {
            "namespace": m.namespace, "name": m.name, "dimensions": dict(m.dimensions), "statistic": m.statistic,
            "period": m.period, "threshold": m.threshold, "comparison": m.comparison, "expression": m.expression,
        }
    return {k: v for k, v in details.items() if v not in (None, "")}


async def _alert_event(session: AsyncSession, *, incident: Incident, alert: Alert, signal: AlertSignal,
                       now: datetime) -> TimelineEvent:
    return await record_event(
        session, incident_id=incident.id, kind=EventKind.ALERT, actor=signal.source.value, now=now,
        text=alert.title, data={"alert_id": alert.id, "dedup_key": alert.dedup_key, "event_type": signal.event_type},
        announce=False,
    )


async def _note_alert(session: AsyncSession, *, incident: Incident, alert: Alert, signal: AlertSignal,
                      config: IncidentBotConfig, now: datetime) -> None:
    """An alert joined an open incident: keep it quiet, count it, and summarise it later."""
    await _alert_event(session, incident=incident, alert=alert, signal=signal, now=now)
    # Touch the group at most once a second: in a storm every delivery would otherwise queue
    # on this one row's lock.
    await session.execute(
        update(IncidentGroup)
        .where(IncidentGroup.incident_id == incident.id, IncidentGroup.last_alert_at < now - GROUP_TOUCH_EVERY)
        .values(last_alert_at=now)
        .execution_options(synchronize_session=False)
    )
    await enqueue(
        session, kind=OutboxKind.ALERT_SUMMARY, incident_id=incident.id, ordering_key=f"alerts:{incident.id}",
        payload={"incident_id": incident.id}, now=now, coalesce_key=f"alerts:{incident.id}",
        not_before=now + config.alerts.summary_every,
    )
    # The alert count in the headline need not move with every alert of a storm.
    await enqueue_headline_refresh(session, incident_id=incident.id, now=now, not_before=now + HEADLINE_PACE)


async def alerts_active_since(session: AsyncSession, *, incident_id: int, since: datetime) -> bool:
    """Whether an alert arrived for this incident after ``since`` (a storm still going)."""
    latest = await session.scalar(select(func.max(Alert.last_seen_at)).where(Alert.incident_id == incident_id))
    return latest is not None and latest >= since


async def alert_stats(session: AsyncSession, *, incident_id: int) -> tuple[int, int, int]:
    """(deliveries, distinct alerts, still firing) for the headline."""
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(Alert.occurrences), 0),
                func.count(Alert.id),
                func.count(Alert.id).filter(Alert.state == FIRING),
            ).where(Alert.incident_id == incident_id)
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


# --- clear --------------------------------------------------------------------------------------


async def _clear(session: AsyncSession, *, signal: AlertSignal, now: datetime) -> IngestResult:
    if signal.source == Source.PAGERDUTY and signal.pagerduty_incident_id:
        incident = await incident_for_pagerduty(session, pagerduty_incident_id=signal.pagerduty_incident_id)
        if incident is not None and incident.pagerduty_incident_id == signal.pagerduty_incident_id:
            return await _resolve_from_pagerduty(session, incident=incident, signal=signal, now=now)
    if not signal.dedup_key:
        return IngestResult(Outcome.NO_CHANGE)
    alert = await open_alert(session, dedup_key=signal.dedup_key[:300])
    if alert is None or alert.state == CLEARED:
        return IngestResult(Outcome.NO_CHANGE)
    alert.state, alert.cleared_at = CLEARED, now
    incident = await incidents.get_incident(session, incident_id=alert.incident_id)
    await record_event(
        session, incident_id=incident.id, kind=EventKind.ALERT_CLEARED, actor=signal.source.value, now=now,
        text=alert.title, data={"alert_id": alert.id}, announce=False,
    )
    _, _, firing = await alert_stats(session, incident_id=incident.id)
    if firing == 0:
        await record_event(
            session, incident_id=incident.id, kind=EventKind.ALL_ALERTS_CLEARED, actor=signal.source.value, now=now,
            text="Every alert of this incident has cleared.",
        )
    await enqueue_headline_refresh(session, incident_id=incident.id, now=now)
    return _result(Outcome.UPDATED, incident)


def _pagerduty_actor(signal: AlertSignal) -> str:
    return f"PagerDuty ({signal.actor})"[:64] if signal.actor else "PagerDuty"


async def _resolve_from_pagerduty(session: AsyncSession, *, incident: Incident, signal: AlertSignal,
                                  now: datetime) -> IngestResult:
    await session.execute(
        update(Alert)
        .where(Alert.incident_id == incident.id, Alert.pagerduty_incident_id == signal.pagerduty_incident_id)
        .values(state=CLEARED, cleared_at=now).execution_options(synchronize_session=False)
    )
    if Status(incident.status) not in OPEN_STATUSES:
        return _result(Outcome.NO_CHANGE, incident)  # our own resolve, echoed back
    changed = await _follow_pagerduty(session, incident=incident, target=Status.RESOLVED, signal=signal, now=now)
    return _result(Outcome.UPDATED, changed)


async def _follow_pagerduty(session: AsyncSession, *, incident: Incident, target: Status, signal: AlertSignal,
                            now: datetime) -> Incident:
    """Apply a status PagerDuty reports, without sending it back to PagerDuty."""
    return await incidents.transition(
        session, incident_id=incident.id, target=target, actor=_pagerduty_actor(signal), now=now,
        sync_pagerduty=False, event_data={"via": "pagerduty"},
    )


# --- other PagerDuty changes --------------------------------------------------------------------


async def _pagerduty_change(session: AsyncSession, *, signal: AlertSignal, config: IncidentBotConfig,
                            now: datetime) -> IngestResult:
    if not signal.pagerduty_incident_id:
        return IngestResult(Outcome.IGNORED)
    incident = await incident_for_pagerduty(session, pagerduty_incident_id=signal.pagerduty_incident_id)
    if incident is None:
        return IngestResult(Outcome.NO_CHANGE)
    actor = _pagerduty_actor(signal)
    status = Status(incident.status)
    match signal.kind:
        case SignalKind.ACKNOWLEDGE:
            if status != Status.TRIGGERED:
                return _result(Outcome.NO_CHANGE, incident)
            incident = await _follow_pagerduty(session, incident=incident, target=Status.ACKNOWLEDGED,
                                               signal=signal, now=now)
        case SignalKind.REOPEN:
            if status != Status.RESOLVED:
                return _result(Outcome.NO_CHANGE, incident)
            incident = await _follow_pagerduty(session, incident=incident, target=Status.TRIGGERED,
                                               signal=signal, now=now)
            await session.execute(
                update(Alert).where(Alert.pagerduty_incident_id == signal.pagerduty_incident_id,
                                    Alert.incident_id == incident.id)
                .values(state=FIRING, cleared_at=None).execution_options(synchronize_session=False)
            )
        case SignalKind.PRIORITY:
            severity = pagerduty_severity(signal, config)
            if status not in OPEN_STATUSES or incident.severity == severity.value:
                return _result(Outcome.NO_CHANGE, incident)
            incident = await incidents.set_severity(session, incident_id=incident.id, severity=severity,
                                                    actor=actor, now=now)
        case SignalKind.ANNOTATE:
            if not signal.note:
                return _result(Outcome.NO_CHANGE, incident)
            await incidents.add_note(session, incident_id=incident.id, text=signal.note, actor=actor, now=now)
        case _:
            await record_event(
                session, incident_id=incident.id, kind=EventKind.PAGERDUTY, actor=actor, now=now,
                text=_describe_pagerduty(signal), data={"event_type": signal.event_type},
            )
    return _result(Outcome.UPDATED, incident)


def _describe_pagerduty(signal: AlertSignal) -> str:
    verb = {
        SignalKind.ESCALATE: "escalated the incident",
        SignalKind.REASSIGN: "reassigned the incident",
        SignalKind.UNACKNOWLEDGE: "reports the acknowledgement timed out",
    }.get(signal.kind, signal.event_type)
    to_whom = f" to {signal.note}" if signal.note and signal.kind != SignalKind.UNACKNOWLEDGE else ""
    return f"PagerDuty {verb}{to_whom}"


async def unsummarized_alert_events(session: AsyncSession, *, incident_id: int) -> Sequence[TimelineEvent]:
    """Alert timeline events that no storm summary has counted yet, oldest first."""
    return (
        await session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == EventKind.ALERT.value,
                   TimelineEvent.summarized_at.is_(None))
            .order_by(TimelineEvent.id)
        )
    ).all()


async def mark_summarized(
    session: AsyncSession, *, incident_id: int, event_ids: list[int], now: datetime, follow_up: timedelta
) -> None:
    """Mark what a summary counted, and look again later.

    An alert whose transaction was still committing while the summary was read is not lost:
    the follow-up summary, ``follow_up`` later, finds it (and posts nothing if there is none).
    """
    for start in range(0, len(event_ids), 500):
        await session.execute(
            update(TimelineEvent).where(TimelineEvent.id.in_(event_ids[start:start + 500]))
            .values(summarized_at=now).execution_options(synchronize_session=False)
        )
    await enqueue(
        session, kind=OutboxKind.ALERT_SUMMARY, incident_id=incident_id, ordering_key=f"alerts:{incident_id}",
        payload={"incident_id": incident_id, "follow_up": True}, now=now, coalesce_key=f"alerts:{incident_id}",
        not_before=now + follow_up,
    )
