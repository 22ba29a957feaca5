"""Races between people: an ack arriving during a resolve must never reopen the incident.

On PostgreSQL the two changes run on separate connections at the same time, and a barrier holds
the resolve's transaction open after it has written, so the ack is guaranteed to read the old
state and then meet the newer row.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.config.severity import Severity
from bot.core import incidents
from bot.core.errors import InvalidTransition
from bot.core.outbox import enqueue_headline_refresh
from bot.core.unit_of_work import Core
from storage.db import create_engine_for, session_factory
from storage.models import OutboxMessage

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def pg_core(postgres_url: str):
    engine = create_engine_for(postgres_url)
    yield Core(sessions=session_factory(engine))
    await engine.dispose()


async def _declare(core: Core) -> int:
    incident = await core.change(
        actor="U0ALICE", action="incident.declare", incident_id=None,
        apply=lambda s, now: incidents.declare(s, title="race", severity=Severity.P1, declared_by="U0ALICE", now=now),
    )
    return incident.id


@pytest.mark.postgres
async def test_ack_racing_a_resolve_never_reopens_it(pg_core: Core) -> None:
    incident_id = await _declare(pg_core)
    resolve_written = asyncio.Event()
    ack_has_read = asyncio.Event()

    async def resolve() -> None:
        async def apply(session, now):
            changed = await incidents.resolve(session, incident_id=incident_id, actor="U0BOB", now=now)
            resolve_written.set()
            # Keep the transaction open until the ack has read the still-triggered row.
            await asyncio.wait_for(ack_has_read.wait(), timeout=10)
            return changed

        await pg_core.change(actor="U0BOB", action="incident.resolve", incident_id=incident_id, apply=apply)

    async def acknowledge() -> None:
        await resolve_written.wait()

        async def apply(session, now):
            stale = await incidents.get_incident(session, incident_id=incident_id)
            assert stale.status == "triggered"  # the resolve is not committed yet
            ack_has_read.set()
            return await incidents.acknowledge(session, incident_id=incident_id, actor="U0CAROL", now=now)

        await pg_core.change(actor="U0CAROL", action="incident.acknowledge", incident_id=incident_id, apply=apply)

    results = await asyncio.gather(resolve(), acknowledge(), return_exceptions=True)
    assert results[0] is None
    assert isinstance(results[1], InvalidTransition), results[1]
    final = await pg_core.read(lambda s: incidents.get_incident(s, incident_id=incident_id))
    assert final.status == "resolved"
    assert final.acknowledged_at is None
    assert final.version == 2


@pytest.mark.postgres
async def test_many_concurrent_changes_serialise(pg_core: Core) -> None:
    """Twenty acks, mitigations and resolves at once: exactly one of each kind can win, in order."""
    incident_id = await _declare(pg_core)
    changes = [incidents.acknowledge, incidents.mitigate, incidents.resolve] * 7

    async def attempt(change, i: int) -> bool:
        try:
            await pg_core.change(actor=f"U0USER{i}", action=change.__name__, incident_id=incident_id,
                                 apply=lambda s, now: change(s, incident_id=incident_id, actor=f"U0USER{i}", now=now))
            return True
        except InvalidTransition:
            return False

    outcomes = await asyncio.gather(*(attempt(c, i) for i, c in enumerate(changes)))
    final = await pg_core.read(lambda s: incidents.get_incident(s, incident_id=incident_id))
    assert final.status == "resolved"
    # The version counts exactly the changes that won; none was lost or applied twice.
    assert final.version == 1 + sum(outcomes)
    assert 1 <= sum(outcomes) <= 3


@pytest.mark.postgres
async def test_a_refresh_claimed_while_a_change_joins_it_renders_that_change(pg_core: Core) -> None:
    """A change that finds a headline refresh waiting joins it instead of queueing another. The
    dispatcher must not claim and render that refresh before the change commits, or the change
    would never be shown: joining holds the row, so the claim waits for the commit."""
    incident_id = await _declare(pg_core)
    async with pg_core.sessions() as session, session.begin():
        await enqueue_headline_refresh(session, incident_id=incident_id, now=NOW)
    joined = asyncio.Event()
    release = asyncio.Event()

    async def change_that_joins() -> None:
        async with pg_core.sessions() as session, session.begin():
            await enqueue_headline_refresh(session, incident_id=incident_id, now=NOW)
            joined.set()
            await release.wait()

    async def claim() -> float:
        await joined.wait()
        started = asyncio.get_running_loop().time()
        async with pg_core.sessions() as session, session.begin():
            row_id = await session.scalar(select(OutboxMessage.id).where(
                OutboxMessage.coalesce_key == f"headline:{incident_id}"))
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                                  .values(coalesce_key=None, claimed_until=NOW + timedelta(minutes=2)))
        return asyncio.get_running_loop().time() - started

    changer = asyncio.create_task(change_that_joins())
    claimer = asyncio.create_task(claim())
    await asyncio.sleep(0.5)
    assert not claimer.done()  # the claim waits on the joined row
    release.set()
    await changer
    assert await claimer >= 0.4

    async def refreshes(session):  # type: ignore[no-untyped-def]
        return list((await session.scalars(select(OutboxMessage.id).where(
            OutboxMessage.kind == "refresh_headline", OutboxMessage.incident_id == incident_id))).all())

    assert len(await pg_core.read(refreshes)) == 1  # joined, not duplicated
