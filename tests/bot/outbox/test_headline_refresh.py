"""The headline refresher queues a refresh per open incident, and outlives a database outage."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import delete, select

from bot.config.severity import Severity
from bot.core import incidents
from bot.core.outbox import OutboxKind
from bot.core.unit_of_work import Core
from bot.outbox.headline_refresh import keep_headlines_current
from storage.db import create_engine_for, session_factory
from storage.models import OutboxMessage


class Nudges:
    def __init__(self) -> None:
        self.count = 0
        self.nudged = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self.nudged.set()


@contextlib.asynccontextmanager
async def running(core: Core, *, interval: float):
    task = asyncio.create_task(keep_headlines_current(core=core, interval=interval))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_open_incident_with_a_headline_gets_a_refresh_and_the_outbox_a_nudge(sessions) -> None:
    nudges = Nudges()
    core = Core(sessions=sessions, outbox_ready=nudges)
    incident = await core.change(
        actor="U0ALICE", action="incident.declare", incident_id=None,
        apply=lambda s, now: incidents.declare(s, title="slow", severity=Severity.P2, declared_by="U0ALICE", now=now),
    )
    async with sessions() as session, session.begin():
        await incidents.record_headline(session, incident_id=incident.id, headline_ts="1.0")
        await session.execute(delete(OutboxMessage))
    nudges.count = 0
    nudges.nudged.clear()

    async with running(core, interval=0.05), asyncio.timeout(10):
        await nudges.nudged.wait()

    async with sessions() as session:
        kinds = (await session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.incident_id == incident.id)
        )).all()
    assert kinds == [OutboxKind.REFRESH_HEADLINE.value]


async def test_a_database_error_is_logged_and_the_next_round_tries_again(tmp_path, caplog) -> None:
    # An empty SQLite file has no tables: every round fails as a database error.
    engine = create_engine_for(f"sqlite:///{tmp_path / 'empty.db'}")
    nudges = Nudges()
    core = Core(sessions=session_factory(engine), outbox_ready=nudges)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.outbox.headline_refresh"):
            async with running(core, interval=0.02) as task, asyncio.timeout(10):
                while len([r for r in caplog.records if "could not queue headline refreshes" in r.message]) < 2:  # noqa: ASYNC110  polls the captured log
                    await asyncio.sleep(0.02)
                assert not task.done()
    finally:
        await engine.dispose()
    assert nudges.count == 0
