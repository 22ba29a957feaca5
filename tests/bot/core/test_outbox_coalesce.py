"""Coalesced outbox writes within one transaction: joined once, and never lost to a savepoint
rolled back (bot.core.outbox.enqueue)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from bot.core.outbox import OutboxKind, enqueue, enqueue_headline_refresh
from storage.models import OutboxMessage

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


class _Statements:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, _conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        self.seen.append(statement)

    def on(self, text: str) -> int:
        return sum(1 for statement in self.seen if text in statement)


async def waiting(sessions, key: str) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.coalesce_key == key)) or 0)


async def test_a_transaction_joins_a_waiting_write_once_however_often_it_asks(sessions) -> None:
    async with sessions() as session, session.begin():
        await enqueue_headline_refresh(session, incident_id=7, now=NOW)  # waiting from before
    statements = _Statements()
    async with sessions() as session, session.begin():
        engine = session.bind.sync_engine if hasattr(session.bind, "sync_engine") else session.bind
        event.listen(engine, "before_cursor_execute", statements)
        try:
            for _ in range(5):
                await enqueue_headline_refresh(session, incident_id=7, now=NOW)
        finally:
            event.remove(engine, "before_cursor_execute", statements)
    assert statements.on("UPDATE slack_outbox") == 1  # the join, once
    assert statements.on("INSERT INTO slack_outbox") == 0
    assert await waiting(sessions, "headline:7") == 1
    # A later transaction joins again: what it holds ended with the one before.
    async with sessions() as session, session.begin():
        await enqueue_headline_refresh(session, incident_id=7, now=NOW)
    assert await waiting(sessions, "headline:7") == 1


@pytest.mark.parametrize("joined_first", [False, True])
async def test_a_write_added_in_a_savepoint_rolled_back_is_added_again(sessions, joined_first: bool) -> None:
    async with sessions() as session, session.begin():
        if joined_first:  # the key known to this transaction before the savepoint, too
            await enqueue(session, kind=OutboxKind.ALERT_SUMMARY, incident_id=3, ordering_key="alerts:3",
                          payload={"incident_id": 3}, now=NOW, coalesce_key="alerts:3")
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                await enqueue(session, kind=OutboxKind.ALERT_SUMMARY, incident_id=3, ordering_key="alerts:3",
                              payload={"incident_id": 3}, now=NOW, coalesce_key="alerts:3")
                await enqueue_headline_refresh(session, incident_id=3, now=NOW)
                raise RuntimeError("this delivery failed")
        await enqueue_headline_refresh(session, incident_id=3, now=NOW)
        await enqueue(session, kind=OutboxKind.ALERT_SUMMARY, incident_id=3, ordering_key="alerts:3",
                      payload={"incident_id": 3}, now=NOW, coalesce_key="alerts:3")
    assert await waiting(sessions, "headline:3") == 1
    assert await waiting(sessions, "alerts:3") == 1
