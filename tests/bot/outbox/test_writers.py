"""The outbox's kind -> writer table: complete for the app, and an unknown kind fails its row."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.config.settings import Settings
from bot.core.outbox import OutboxKind, OutboxState
from bot.metrics import Metrics
from bot.outbox.dispatcher import OutboxDispatcher
from bot.outbox.errors import MissingWriters
from bot.outbox.writers import OutboxWriters
from storage.db import create_engine_for, session_factory
from storage.models import OutboxMessage

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
UNKNOWN_KIND = "send_carrier_pigeon"


def app_settings(database_url: str) -> Settings:
    # Nothing listens at this Slack address: no row in these tests may reach Slack.
    return Settings(slack_bot_token="xoxb-x", slack_signing_secret="s", database_url=database_url,
                    slack_api_url="http://127.0.0.1:9/api/", outbox_poll_interval=0.05)


class RecordingWriter:
    """Stands in for the Slack and PagerDuty writers: remembers what it was handed."""

    def __init__(self) -> None:
        self.handed: list[str] = []

    async def __call__(self, kind: str, payload: dict[str, Any], attempt: int) -> None:
        self.handed.append(kind)


async def add_row(sessions: async_sessionmaker[AsyncSession], kind: str, *, key: str) -> int:
    async with sessions() as session, session.begin():
        row = OutboxMessage(kind=kind, incident_id=None, ordering_key=key, payload={}, state=OutboxState.PENDING.value,
                            attempts=0, created_at=NOW, next_attempt_at=NOW)
        session.add(row)
        await session.flush()
        return row.id


async def row_state(sessions: async_sessionmaker[AsyncSession], row_id: int) -> tuple[str, str | None]:
    async with sessions() as session:
        row = (await session.scalars(select(OutboxMessage).where(OutboxMessage.id == row_id))).one()
        return row.state, row.last_error


def test_the_app_has_a_writer_for_every_kind(tmp_path) -> None:
    app = create_app(app_settings(f"sqlite:///{tmp_path / 'bot.db'}"))
    assert app.state.outbox_writers.kinds() == frozenset(OutboxKind)


def test_a_table_that_leaves_a_kind_without_a_writer_is_refused() -> None:
    writer = RecordingWriter()
    with pytest.raises(MissingWriters) as refused:
        OutboxWriters({kind: writer for kind in OutboxKind if kind != OutboxKind.PAGERDUTY_EVENT})
    assert refused.value.kinds == (OutboxKind.PAGERDUTY_EVENT.value,)


async def test_an_unknown_kind_fails_its_row_and_reaches_no_writer(sessions) -> None:
    writer = RecordingWriter()
    dispatcher = OutboxDispatcher(sessions=sessions,
                                  perform=OutboxWriters({kind: writer for kind in OutboxKind}).perform,
                                  clock=lambda: NOW, metrics=Metrics())
    unknown = await add_row(sessions, UNKNOWN_KIND, key="incident:1")
    # The same lane goes on after it: a refused row is final, not a block on what follows.
    known = await add_row(sessions, OutboxKind.REFRESH_HEADLINE.value, key="incident:1")

    await dispatcher.drain_once()

    state, error = await row_state(sessions, unknown)
    assert state == OutboxState.FAILED.value
    assert error is not None and UNKNOWN_KIND in error
    assert await row_state(sessions, known) == (OutboxState.DELIVERED.value, None)
    assert writer.handed == [OutboxKind.REFRESH_HEADLINE.value]


async def test_the_apps_outbox_fails_an_unknown_kind_instead_of_posting_it(database_url: str) -> None:
    engine = create_engine_for(database_url)
    sessions = session_factory(engine)
    try:
        row_id = await add_row(sessions, UNKNOWN_KIND, key="incident:1")
        app = create_app(app_settings(database_url))
        async with app.router.lifespan_context(app):
            async with asyncio.timeout(10):
                while (await row_state(sessions, row_id))[0] == OutboxState.PENDING.value:  # noqa: ASYNC110  polls the database row
                    await asyncio.sleep(0.05)
        state, error = await row_state(sessions, row_id)
        assert state == OutboxState.FAILED.value
        assert error == f"no writer for outbox kind {UNKNOWN_KIND!r}"
    finally:
        await engine.dispose()
