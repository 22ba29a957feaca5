"""The webhook inbox: a delivery is appended durably before its 2xx and applied after it.

Accepting a delivery is one insert into ``webhook_deliveries`` with ``outcome = 'pending'``; many
of them share one transaction (the group commit in ``handlers/webhooks/inbox_writer.py``), so a
storm costs a commit per batch rather than a commit, and a whole ingest, per delivery. The row's
unique keys (the signed event id; PagerDuty's ``X-Webhook-Id``) make a retry, or a replay
however re-labelled, a duplicate at the append, so it is counted once and applied once.

The processor (``handlers/jobs/inbox_processor.py``) then applies pending rows in arrival order,
a batch per transaction, with ``bot.core.ingest.apply_signal``. Only one process applies at a
time: each batch first locks the single ``inbox_lease`` row (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL: another replica that finds it locked skips its turn; SQLite has one writer anyway),
so grouping and storm coalescing see the deliveries one after another, in order, as they did
when each was applied inside its own request. A process killed between the ack and the apply
loses nothing: the rows are still pending when it, or another replica, comes back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import IncidentBotConfig
from bot.core.errors import OutsideReplayWindow
from bot.core.ingest import IngestResult, Outcome, apply_signal
from bot.core.signals import AlertSignal, signal_from_record, signal_record
from observability import correlation
from storage.models import InboxLease, WebhookDelivery

log = logging.getLogger(__name__)

PENDING = "pending"
# How far ahead of our clock a sender's timestamp may be before it is not believed.
CLOCK_SKEW = timedelta(minutes=5)
INBOX_LEASE_ID = 1


@dataclass(frozen=True)
class Appended:
    """One delivery's place in the inbox: its row id, or None when it was already there."""

    delivery_id: int | None

    @property
    def duplicate(self) -> bool:
        return self.delivery_id is None


@dataclass(frozen=True)
class Applied:
    delivery_id: int
    source: str
    result: IngestResult


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest: datetime | None

    def oldest_age(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest).total_seconds()) if self.oldest is not None else 0.0


@dataclass(frozen=True)
class Arrival:
    """A verified delivery on its way into the inbox, with the signal's record made as it
    arrived: in a storm, that is work done beside the commit ahead of it, not inside its own."""

    signal: AlertSignal
    body: str
    record: dict[str, object] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "record", signal_record(self.signal))


def append_many(connection: Connection, arrivals: Sequence[Arrival], *,
                now: datetime) -> list[Appended | OutsideReplayWindow]:
    """Add deliveries to the inbox in the caller's transaction, in one INSERT, unless known
    already: each one's place in the inbox, or ``OutsideReplayWindow`` for a new one dated
    outside its sender's retry window (nothing of it written). A known delivery is a duplicate
    whatever its age: the window bounds how long a captured delivery stays worth replaying once
    its keys are no longer kept.

    Synchronous: the inbox writer runs it in a thread of its own, where a whole batch is one
    hand-off from the event loop (``handlers/webhooks/inbox_writer.py``)."""
    answers: list[Appended | OutsideReplayWindow | None] = [None] * len(arrivals)
    rows: list[dict[str, object]] = []
    row_of: dict[tuple[str, str], int] = {}  # (source, delivery id) -> index in arrivals
    seen_webhook_ids: set[tuple[str, str]] = set()
    for index, arrival in enumerate(arrivals):
        signal = arrival.signal
        key = (signal.source.value, signal.delivery_id[:200])
        webhook_key = (signal.source.value, signal.webhook_id[:200]) if signal.webhook_id else None
        if not _within_replay_window(signal, now=now):
            known = _known(connection, signal) or key in row_of or webhook_key in seen_webhook_ids
            answers[index] = Appended(None) if known else OutsideReplayWindow(_replay_reason(signal, now=now))
            continue
        if key in row_of or (webhook_key is not None and webhook_key in seen_webhook_ids):
            answers[index] = Appended(None)  # the same delivery twice in one batch
            continue
        row_of[key] = index
        if webhook_key is not None:
            seen_webhook_ids.add(webhook_key)
        rows.append({
            "source": key[0], "delivery_id": key[1],
            "webhook_id": webhook_key[1] if webhook_key else None,
            "event_type": signal.event_type[:100], "outcome": PENDING, "received_at": now,
            "body": arrival.body.replace("\x00", ""), "signal": arrival.record,
        })
    if rows:
        # Either unique key taken means a duplicate; DO NOTHING (no conflict target) covers both, on
        # both databases, and the rows it did insert come back with their ids: one statement and
        # one round trip for the whole batch.
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        table = WebhookDelivery.__table__
        statement = dialect.insert(table).on_conflict_do_nothing() \
            .returning(table.c.id, table.c.source, table.c.delivery_id)
        # Executed with many parameter sets: SQLAlchemy sends them as multi-row INSERTs
        # ("insertmanyvalues"), and the statement compiles once, whatever the batch's size.
        for row_id, source, delivery_id in connection.execute(statement, rows).all():
            answers[row_of[(source, delivery_id)]] = Appended(row_id)
    # A row left unanswered met a delivery already stored, by either key.
    return [answer if answer is not None else Appended(None) for answer in answers]


def _known(connection: Connection, signal: AlertSignal) -> bool:
    keys = [WebhookDelivery.delivery_id == signal.delivery_id[:200]]
    if signal.webhook_id:
        keys.append(WebhookDelivery.webhook_id == signal.webhook_id[:200])
    found = connection.scalar(
        select(WebhookDelivery.id).where(WebhookDelivery.source == signal.source.value, or_(*keys)).limit(1))
    return found is not None


def _within_replay_window(signal: AlertSignal, *, now: datetime) -> bool:
    if signal.replay_window is None:
        return True
    if signal.occurred_at is None:
        return False
    return now - signal.replay_window <= signal.occurred_at <= now + CLOCK_SKEW


def _replay_reason(signal: AlertSignal, *, now: datetime) -> str:
    if signal.occurred_at is None:
        return "the delivery has no date to hold to the sender's retry window"
    if signal.occurred_at > now + CLOCK_SKEW:
        return "the delivery is dated in the future"
    return "the delivery is older than the sender's retry window"


async def take_lease(session: AsyncSession) -> bool:
    """Whether this transaction may apply deliveries: it holds the inbox lease until it ends."""
    held = await session.scalar(
        select(InboxLease.id).where(InboxLease.id == INBOX_LEASE_ID).with_for_update(skip_locked=True))
    return held is not None


async def apply_pending(session: AsyncSession, *, config: IncidentBotConfig, now: datetime, limit: int,
                        seconds: float | None = None) -> list[Applied]:
    """Apply up to ``limit`` pending deliveries in arrival order, in the caller's transaction,
    which must hold the lease (``take_lease``), stopping early once ``seconds`` have passed.
    Each is applied in a savepoint of its own, so one that raises is marked failed (and
    logged) without undoing the others."""
    deadline = None if seconds is None else time.monotonic() + seconds
    applied: list[Applied] = []
    async with aclosing(_pending(session, limit=limit)) as pending:
        async for row_id, source, delivery_id, record in pending:
            if deadline is not None and applied and time.monotonic() > deadline:
                break
            # The work is the delivery's: what it queues (Slack posts, pages) logs under its id.
            with correlation.bound(correlation.scoped(source, delivery_id)):
                result = await _apply_one(session, row_id=row_id, record=record, config=config, now=now)
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == row_id)
                .values(outcome=result.outcome.value, incident_id=result.incident_id)
                .execution_options(synchronize_session=False))
            applied.append(Applied(delivery_id=row_id, source=source, result=result))
    return applied


# Pending rows are read a few at a time, more as a pass goes on: a pass that its time limit
# ends after a handful would otherwise have read (and decoded the JSON of) its whole limit.
FIRST_READ = 4


PendingRow = tuple[int, str, str, dict[str, object] | None]  # id, source, delivery id, record


async def _pending(session: AsyncSession, *, limit: int) -> AsyncGenerator[PendingRow, None]:
    """Up to ``limit`` pending deliveries in arrival order: id, source, delivery id, record."""
    after, size, given = 0, FIRST_READ, 0
    while given < limit:
        rows = (await session.execute(
            select(WebhookDelivery.id, WebhookDelivery.source, WebhookDelivery.delivery_id, WebhookDelivery.signal)
            .where(WebhookDelivery.outcome == PENDING, WebhookDelivery.id > after)
            .order_by(WebhookDelivery.id).limit(min(size, limit - given))
        )).all()
        for row_id, source, delivery_id, record in rows:
            yield row_id, source, delivery_id, record
        given += len(rows)
        if len(rows) < size:
            return
        after, size = rows[-1][0], size * 2


async def _apply_one(session: AsyncSession, *, row_id: int, record: dict[str, object] | None,
                     config: IncidentBotConfig, now: datetime) -> IngestResult:
    try:
        signal = signal_from_record(dict(record or {}))
    except (KeyError, TypeError, ValueError):
        log.error("inbox row %s holds no signal this version can read; marked failed", row_id)
        return IngestResult(Outcome.FAILED)
    try:
        # Applied as of now, as every other change is: the timeline stays in the order things
        # happened here, and what the apply schedules (a headline refresh a second on, an alert
        # summary) is paced from now, not from an arrival a backlog ago, when it would all be due
        # at once. The arrival is kept on the delivery (received_at).
        async with session.begin_nested():
            return await apply_signal(session, signal=signal, config=config, now=now)
    except (IntegrityError, DataError):
        # This delivery's data, not the database: retrying it would fail the same way forever
        # and hold back every alert behind it. Its savepoint is rolled back; the batch goes on.
        log.exception("inbox row %s (%s) was refused by the database; marked failed", row_id, signal.event_type)
        return IngestResult(Outcome.FAILED)
    except SQLAlchemyError:
        raise  # the database itself (gone, locked): the batch is retried as a whole
    except Exception:  # a bug in one delivery must not hold back every other alert
        log.exception("inbox row %s (%s) failed to apply; marked failed", row_id, signal.event_type)
        return IngestResult(Outcome.FAILED)


async def backlog(session: AsyncSession) -> Backlog:
    """How many deliveries wait to be applied, and since when the oldest has."""
    pending, oldest = (await session.execute(
        select(func.count(WebhookDelivery.id), func.min(WebhookDelivery.received_at))
        .where(WebhookDelivery.outcome == PENDING))).one()
    return Backlog(pending=int(pending or 0), oldest=oldest)


def outcomes(applied: Sequence[Applied]) -> dict[tuple[str, str], int]:
    """How many of ``applied`` came out each way, by source and outcome (for the metrics)."""
    counts: dict[tuple[str, str], int] = {}
    for item in applied:
        key = (item.source, item.result.outcome.value)
        counts[key] = counts.get(key, 0) + 1
    return counts
