"""The incident core against a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from bot.config.severity import Severity
from bot.core import incidents
from bot.core.errors import IncidentNotFound, InvalidInput, InvalidTransition
from bot.core.lifecycle import Status
from bot.core.outbox import OutboxKind
from bot.core.roles import Role
from bot.core.timeline import list_events
from bot.core.unit_of_work import Core
from storage.models import AuditEntry, Incident, OutboxMessage, RoleAssignment

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Ticking:
    """A clock that moves a minute each time it is read."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def core(sessions) -> Core:
    return Core(sessions=sessions, clock=Ticking())


async def declare(core: Core, title: str = "Latency above SLO", severity: Severity = Severity.P1) -> Incident:
    return await core.change(
        actor="U0ALICE", action="incident.declare", incident_id=None,
        apply=lambda s, now: incidents.declare(s, title=title, severity=severity, declared_by="U0ALICE", now=now),
    )


async def outbox_kinds(core: Core, incident_id: int) -> list[str]:
    async def load(session):
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.incident_id == incident_id).order_by(OutboxMessage.id)
        )
        return [row.kind for row in rows]

    return await core.read(load)


async def test_declare_numbers_incidents_and_queues_the_channel(core: Core) -> None:
    first = await declare(core)
    second = await declare(core, "Error rate above 1%")
    assert (first.number, second.number) == (1, 2)
    assert first.status == Status.TRIGGERED
    assert first.version == 1
    assert await outbox_kinds(core, first.id) == [OutboxKind.PROVISION_CHANNEL, OutboxKind.RUNBOOK_CHECKLIST]
    events = await core.read(lambda s: list_events(s, incident_id=first.id))
    assert [e.kind for e in events] == ["declared"]
    assert events[0].data == {"severity": "P1", "service": None}


async def test_full_title_is_kept_exactly(core: Core) -> None:
    title = "Model 🔥 <!channel> " + "x" * 1500
    incident = await declare(core, title)
    stored = await core.read(lambda s: incidents.get_incident(s, incident_id=incident.id))
    assert stored.title == title


async def test_lifecycle_records_timestamps_events_and_refreshes(core: Core) -> None:
    incident = await declare(core)
    acked = await core.change(actor="U0BOB", action="incident.acknowledge", incident_id=incident.id,
                              apply=lambda s, now: incidents.acknowledge(s, incident_id=incident.id, actor="U0BOB",
                                                                         now=now))
    mitigated = await core.change(actor="U0BOB", action="incident.mitigate", incident_id=incident.id,
                                  apply=lambda s, now: incidents.mitigate(s, incident_id=incident.id, actor="U0BOB",
                                                                          now=now, note="scaled to 10"))
    resolved = await core.change(actor="U0BOB", action="incident.resolve", incident_id=incident.id,
                                 apply=lambda s, now: incidents.resolve(s, incident_id=incident.id, actor="U0BOB",
                                                                        now=now, summary="rolled back v5"))
    assert acked.status == "acknowledged" and acked.acknowledged_at is not None
    assert mitigated.mitigated_at > acked.acknowledged_at
    assert resolved.status == "resolved" and resolved.summary == "rolled back v5"
    assert resolved.version == 4
    events = await core.read(lambda s: list_events(s, incident_id=incident.id))
    assert [(e.kind, e.data.get("to")) for e in events] == [
        ("declared", None), ("status_changed", "acknowledged"), ("status_changed", "mitigated"),
        ("status_changed", "resolved"),
    ]
    kinds = await outbox_kinds(core, incident.id)
    assert kinds.count(OutboxKind.POST_TIMELINE_EVENT) == 3
    # Three changes in a row coalesce into one waiting headline refresh.
    assert kinds.count(OutboxKind.REFRESH_HEADLINE) == 1


async def test_invalid_transition_is_refused_and_audited(core: Core) -> None:
    incident = await declare(core)
    await core.change(actor="U0BOB", action="incident.resolve", incident_id=incident.id,
                      apply=lambda s, now: incidents.resolve(s, incident_id=incident.id, actor="U0BOB", now=now))
    with pytest.raises(InvalidTransition, match="is resolved, so it can't be acknowledged"):
        await core.change(actor="U0BOB", action="incident.acknowledge", incident_id=incident.id,
                          apply=lambda s, now: incidents.acknowledge(s, incident_id=incident.id, actor="U0BOB",
                                                                     now=now))
    stored = await core.read(lambda s: incidents.get_incident(s, incident_id=incident.id))
    assert stored.status == "resolved" and stored.acknowledged_at is None
    audit = await core.read(lambda s: s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    rows = [(a.action, a.outcome) for a in audit]
    assert rows == [("incident.declare", "ok"), ("incident.resolve", "ok"), ("incident.acknowledge", "denied")]


async def test_severity_and_roles(core: Core) -> None:
    incident = await declare(core, severity=Severity.P2)
    changed = await core.change(actor="U0BOB", action="incident.severity", incident_id=incident.id,
                                apply=lambda s, now: incidents.set_severity(s, incident_id=incident.id,
                                                                            severity=Severity.P0, actor="U0BOB",
                                                                            now=now))
    assert changed.severity == "P0"
    with pytest.raises(InvalidInput, match="already P0"):
        await core.change(actor="U0BOB", action="incident.severity", incident_id=incident.id,
                          apply=lambda s, now: incidents.set_severity(s, incident_id=incident.id, severity=Severity.P0,
                                                                      actor="U0BOB", now=now))
    for user in ("U0ALICE", "U0BOB"):
        await core.change(actor="U0BOB", action="incident.role", incident_id=incident.id,
                          apply=lambda s, now, u=user: incidents.assign_role(s, incident_id=incident.id,
                                                                             role=Role.COMMANDER, user_id=u,
                                                                             actor="U0BOB", now=now))
    await core.change(actor="U0BOB", action="incident.role", incident_id=incident.id,
                      apply=lambda s, now: incidents.assign_role(s, incident_id=incident.id, role=Role.SCRIBE,
                                                                 user_id="U0CAROL", actor="U0BOB", now=now))
    roles = await core.read(lambda s: incidents.current_roles(s, incident_id=incident.id))
    assert roles == {Role.COMMANDER: "U0BOB", Role.SCRIBE: "U0CAROL"}
    stored = await core.read(lambda s: incidents.get_incident(s, incident_id=incident.id))
    assert stored.commander == "U0BOB"
    history = await core.read(lambda s: s.scalars(select(RoleAssignment).order_by(RoleAssignment.id)))
    assert [(r.user_id, r.ended_at is None) for r in history] == [
        ("U0ALICE", False), ("U0BOB", True), ("U0CAROL", True),
    ]


async def test_status_updates_need_text_and_an_open_incident(core: Core) -> None:
    incident = await declare(core)
    with pytest.raises(InvalidInput, match="can't be empty"):
        await core.change(actor="U0BOB", action="incident.status_update", incident_id=incident.id,
                          apply=lambda s, now: incidents.post_status_update(s, incident_id=incident.id, text="  ",
                                                                            actor="U0BOB", now=now))
    await core.change(actor="U0BOB", action="incident.resolve", incident_id=incident.id,
                      apply=lambda s, now: incidents.resolve(s, incident_id=incident.id, actor="U0BOB", now=now))
    with pytest.raises(InvalidTransition, match="only for open incidents"):
        await core.change(actor="U0BOB", action="incident.status_update", incident_id=incident.id,
                          apply=lambda s, now: incidents.post_status_update(s, incident_id=incident.id, text="ok",
                                                                            actor="U0BOB", now=now))


async def test_unknown_channel_is_a_clear_error(core: Core) -> None:
    with pytest.raises(IncidentNotFound, match="isn't an incident channel"):
        await core.read(lambda s: incidents.require_incident_for_channel(s, channel_id="C0NOPE"))


async def test_list_open_leaves_out_resolved(core: Core) -> None:
    keep = await declare(core, "open one")
    gone = await declare(core, "resolved one")
    await core.change(actor="U0BOB", action="incident.resolve", incident_id=gone.id,
                      apply=lambda s, now: incidents.resolve(s, incident_id=gone.id, actor="U0BOB", now=now))
    listed = await core.read(incidents.list_open)
    assert [i.id for i in listed] == [keep.id]


async def test_concurrent_declarations_get_distinct_numbers(core: Core) -> None:
    created = await asyncio.gather(*(declare(core, f"storm {i}") for i in range(8)))
    assert sorted(i.number for i in created) == list(range(1, 9))


async def test_audit_log_is_append_only(core: Core, database_url: str) -> None:
    await declare(core)
    for statement in ("UPDATE audit_log SET outcome = 'forged'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with core.sessions() as session, session.begin():
                await session.execute(text(statement))
    rows = await core.read(lambda s: s.scalars(select(AuditEntry)))
    assert [r.outcome for r in rows] == ["ok"]
