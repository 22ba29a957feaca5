"""The webhook inbox on both databases: the append (duplicates by either key, the replay window),
the apply after the ack (arrival order, one failing delivery among good ones, the lease), the
backlog, and the group commit that puts many appends in one transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.config import IncidentBotConfig
from bot.core import inbox
from bot.core.errors import OutsideReplayWindow
from bot.core.signals import AlertSignal, MetricRef, SignalKind, Source, signal_from_record, signal_record
from bot.core.unit_of_work import Core
from bot.metrics import Metrics
from handlers.jobs.inbox_processor import InboxProcessor
from handlers.webhooks.inbox_writer import InboxFull, InboxState, InboxWriter
from storage.db import create_engine_for, create_sync_engine_for, session_factory
from storage.models import Alert, Incident, WebhookDelivery
from tests.databases import migrated_sqlite_url

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CONFIG = IncidentBotConfig()


def trigger(delivery_id: str, *, title: str = "", service: str = "scoring-engine",
            webhook_id: str | None = None, occurred_at: datetime | None = NOW,
            window: timedelta | None = None) -> AlertSignal:
    return AlertSignal(source=Source.CLOUDWATCH, delivery_id=delivery_id, kind=SignalKind.TRIGGER,
                       event_type="ALARM", occurred_at=occurred_at, webhook_id=webhook_id, replay_window=window,
                       dedup_key=f"arn:aws:cloudwatch:us-east-1:1:alarm:{title or service}", title=title or service,
                       service_hint=service, alarm_name=title,
                       metric=MetricRef(namespace="AWS/ECS", name="CPUUtilization", dimensions={"ServiceName": service},
                                        threshold=80.0))


@pytest.fixture
async def core(database_url: str):
    engine = create_engine_for(database_url)
    yield Core(sessions=session_factory(engine), clock=lambda: NOW)
    await engine.dispose()


def writer_for(url: str, **kwargs) -> InboxWriter:  # type: ignore[no-untyped-def]
    return InboxWriter(engine=create_sync_engine_for(url), clock=lambda: NOW, **kwargs)


def writer_for_engine(engine) -> InboxWriter:  # type: ignore[no-untyped-def]
    return InboxWriter(engine=engine, clock=lambda: NOW, metrics=Metrics(), state=InboxState(max_backlog=10),
                       appended=lambda: None)


async def append(core: Core, signal: AlertSignal, *, now: datetime = NOW) -> inbox.Appended:
    async with core.sessions() as session, session.begin():
        (answer,) = await session.run_sync(
            lambda sync: inbox.append_many(sync.connection(), [inbox.Arrival(signal, "{}")], now=now))
    if isinstance(answer, OutsideReplayWindow):
        raise answer
    return answer


async def apply_all(core: Core) -> list[inbox.Applied]:
    async with core.sessions() as session, session.begin():
        assert await inbox.take_lease(session)
        return await inbox.apply_pending(session, config=CONFIG, now=NOW + timedelta(seconds=30), limit=100)


async def rows(core: Core) -> list[tuple[str, int | None]]:
    async with core.sessions() as session:
        return [(r.outcome, r.incident_id) for r in
                (await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))).scalars()]


def test_a_signal_survives_its_record() -> None:
    signal = trigger("m-1", webhook_id="wh-1", window=timedelta(hours=2))
    assert signal_from_record(signal_record(signal)) == signal
    with pytest.raises((KeyError, ValueError)):
        signal_from_record({"source": "smoke-signals"})


async def test_an_append_is_pending_until_applied_and_a_retry_is_a_duplicate(core: Core) -> None:
    first = await append(core, trigger("m-1"))
    again = await append(core, trigger("m-1"))
    assert not first.duplicate and again.duplicate
    assert await rows(core) == [("pending", None)]
    async with core.sessions() as session:
        assert (await inbox.backlog(session)) == inbox.Backlog(pending=1, oldest=NOW)
        assert await session.scalar(select(Incident.id)) is None  # nothing applied before the processor runs

    applied = await apply_all(core)

    assert [a.result.outcome.value for a in applied] == ["opened"]
    outcome, incident_id = (await rows(core))[0]
    assert outcome == "opened" and incident_id is not None
    async with core.sessions() as session:
        assert (await inbox.backlog(session)).pending == 0


async def test_either_key_makes_a_duplicate(core: Core) -> None:
    assert not (await append(core, trigger("m-1", webhook_id="wh-1"))).duplicate
    assert (await append(core, trigger("m-2", webhook_id="wh-1"))).duplicate  # re-labelled event, same webhook
    assert (await append(core, trigger("m-1", webhook_id="wh-2"))).duplicate  # same event, fresh webhook id
    assert len(await rows(core)) == 1


async def test_a_new_delivery_outside_its_window_is_refused_but_a_known_one_is_a_duplicate(core: Core) -> None:
    window = timedelta(hours=1)
    with pytest.raises(OutsideReplayWindow, match="older than"):
        await append(core, trigger("old", occurred_at=NOW - timedelta(hours=2), window=window))
    with pytest.raises(OutsideReplayWindow, match="future"):
        await append(core, trigger("ahead", occurred_at=NOW + timedelta(hours=1), window=window))
    with pytest.raises(OutsideReplayWindow, match="no date"):
        await append(core, trigger("undated", occurred_at=None, window=window))
    assert await rows(core) == []
    assert not (await append(core, trigger("kept", window=window))).duplicate
    later = NOW + timedelta(hours=3)
    assert (await append(core, trigger("kept", window=window), now=later)).duplicate


async def test_deliveries_apply_in_arrival_order_as_of_the_apply(core: Core) -> None:
    await append(core, trigger("m-1", title="cpu"), now=NOW)
    await append(core, trigger("m-2", title="memory"), now=NOW + timedelta(seconds=5))
    await append(core, trigger("m-3", title="cpu"), now=NOW + timedelta(seconds=9))
    applied = await apply_all(core)
    assert [a.result.outcome.value for a in applied] == ["opened", "attached", "attached"]
    assert len({a.result.incident_id for a in applied}) == 1  # one service: one incident
    async with core.sessions() as session:
        first_seen = await session.scalar(select(Alert.first_seen_at).where(Alert.title == "memory"))
        arrived = await session.scalar(select(WebhookDelivery.received_at).where(WebhookDelivery.delivery_id == "m-2"))
    # Recorded as of the apply, like every other change; the delivery keeps when it arrived.
    assert first_seen == NOW + timedelta(seconds=30)
    assert arrived == NOW + timedelta(seconds=5)


async def test_one_delivery_that_cannot_be_read_is_marked_failed_and_the_rest_apply(core: Core) -> None:
    await append(core, trigger("m-1", service="scoring-engine"))
    await append(core, trigger("m-2", service="ticket-classifier"))
    await append(core, trigger("m-3", service="ai-orchestrator"))
    async with core.sessions() as session, session.begin():
        await session.execute(update(WebhookDelivery).where(WebhookDelivery.delivery_id == "m-2")
                              .values(signal={"source": "cloudwatch", "kind": "no-such-kind"}))
    applied = await apply_all(core)
    assert [a.result.outcome.value for a in applied] == ["opened", "failed", "opened"]
    assert [outcome for outcome, _ in await rows(core)] == ["opened", "failed", "opened"]


async def test_an_apply_stops_at_its_limit_and_the_rest_stay_pending(core: Core) -> None:
    for number in range(5):
        await append(core, trigger(f"m-{number}"))
    async with core.sessions() as session, session.begin():
        assert await inbox.take_lease(session)
        assert len(await inbox.apply_pending(session, config=CONFIG, now=NOW, limit=2)) == 2
    assert [outcome for outcome, _ in await rows(core)] == ["opened", "attached", "pending", "pending", "pending"]


async def test_a_pass_reads_its_rows_a_few_at_a_time_in_order_up_to_its_limit(core: Core) -> None:
    # More rows than the first read takes, and a limit that ends inside a later read: every
    # delivery is applied once, in arrival order, and none past the limit.
    count = inbox.FIRST_READ * 3 + 1
    for number in range(count):
        await append(core, trigger(f"m-{number}", service=f"svc-{number}"))
    async with core.sessions() as session, session.begin():
        assert await inbox.take_lease(session)
        first = await inbox.apply_pending(session, config=CONFIG, now=NOW, limit=count - 2)
    async with core.sessions() as session, session.begin():
        assert await inbox.take_lease(session)
        rest = await inbox.apply_pending(session, config=CONFIG, now=NOW, limit=count)
    ids = [a.delivery_id for a in first + rest]
    assert (len(first), len(rest)) == (count - 2, 2)
    assert ids == sorted(ids) and len(set(ids)) == count
    assert all(outcome == "opened" for outcome, _ in await rows(core))


@pytest.mark.postgres
async def test_one_replica_applies_at_a_time(postgres_url: str) -> None:
    engine = create_engine_for(postgres_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as holder, holder.begin():
            assert await inbox.take_lease(holder)
            async with sessions() as other, other.begin():
                assert not await inbox.take_lease(other)  # skipped, not waited for
        async with sessions() as later, later.begin():
            assert await inbox.take_lease(later)  # released with the first transaction
    finally:
        await engine.dispose()


async def test_the_writer_commits_a_burst_in_few_transactions_and_answers_each(core: Core, database_url: str) -> None:
    metrics = Metrics()
    processor = InboxProcessor(core=core, config=CONFIG, metrics=metrics, state=InboxState(max_backlog=1000))
    writer = writer_for(database_url, metrics=metrics, state=InboxState(max_backlog=1000), appended=processor.wake)
    writer.start()
    try:
        signals = [trigger(f"m-{n % 40}", service=f"svc-{n % 4}") for n in range(60)]  # 20 repeats
        answers = await asyncio.gather(*(writer.submit(signal, "{}") for signal in signals))
    finally:
        await writer.aclose()
    assert sum(not a.duplicate for a in answers) == 40
    assert sum(a.duplicate for a in answers) == 20
    batches = metrics.inbox_batch.collect()[0].samples
    commits = next(s.value for s in batches if s.name.endswith("_count"))
    assert commits < 60 / 4, f"{commits} commits for 60 appends: the group commit did not group"
    assert await processor.drain() == 40
    assert len({incident for _, incident in await rows(core)}) == 4  # four services, four incidents


async def test_the_writer_refuses_past_the_backlog_bound(core: Core, database_url: str) -> None:
    state = InboxState(max_backlog=2)
    writer = writer_for(database_url, metrics=Metrics(), state=state, appended=lambda: None)
    writer.start()
    try:
        await writer.submit(trigger("m-1"), "{}")
        await writer.submit(trigger("m-2"), "{}")
        with pytest.raises(InboxFull):
            await writer.submit(trigger("m-3"), "{}")
        processor = InboxProcessor(core=core, config=CONFIG, metrics=Metrics(), state=state)
        await processor.drain()  # measuring the backlog after the apply frees room again
        assert not (await writer.submit(trigger("m-3"), "{}")).duplicate
    finally:
        await writer.aclose()
    assert len(await rows(core)) == 3


async def test_a_database_that_is_away_fails_every_waiting_append(tmp_path) -> None:
    # No tables: every insert fails.
    writer = writer_for(f"sqlite:///{tmp_path}/never-migrated.db", metrics=Metrics(), state=InboxState(max_backlog=10),
                        appended=lambda: None)
    writer.start()
    try:
        answers = await asyncio.gather(*(writer.submit(trigger(f"m-{n}"), "{}") for n in range(3)),
                                       return_exceptions=True)
    finally:
        await writer.aclose()
    assert all(isinstance(answer, Exception) for answer in answers)


@pytest.mark.postgres
async def test_a_delivery_the_database_refuses_is_marked_failed_and_holds_nothing_back(postgres_url: str) -> None:
    engine = create_engine_for(postgres_url)
    core = Core(sessions=session_factory(engine), clock=lambda: NOW)
    try:
        # Past the parsers (which strip NUL), a NUL in a title is refused by PostgreSQL's text type.
        await append(core, trigger("m-1", service="scoring-engine", title="nul\x00title"))
        await append(core, trigger("m-2", service="ticket-classifier"))
        applied = await apply_all(core)
        assert [a.result.outcome.value for a in applied] == ["failed", "opened"]
        assert await apply_all(core) == []  # nothing left to retry
    finally:
        await engine.dispose()


async def test_a_delivery_the_writer_cannot_store_fails_alone_and_the_writer_goes_on(core: Core,
                                                                                     database_url: str) -> None:
    writer = writer_for(database_url, metrics=Metrics(), state=InboxState(max_backlog=10), appended=lambda: None)
    writer.start()
    unstorable = trigger("m-bad", service="scoring-engine")
    object.__setattr__(unstorable, "source", object())  # a signal with no source: a bug, not bad data
    try:
        answers = await asyncio.gather(writer.submit(unstorable, "{}"), writer.submit(trigger("m-good"), "{}"),
                                       return_exceptions=True)
        assert isinstance(answers[0], ConnectionError)  # answered 503: its sender keeps it
        assert not answers[1].duplicate
        assert not (await writer.submit(trigger("m-later", service="ticket-classifier"), "{}")).duplicate
    finally:
        await writer.aclose()
    assert len(await rows(core)) == 2


async def test_an_append_waits_for_sqlites_write_lock_and_then_goes_in(tmp_path) -> None:
    # The writer's connection has no busy timeout: it asks again for the lock itself, so another
    # writer holding it makes an append late, never refused.
    url = migrated_sqlite_url(tmp_path)
    holder = create_sync_engine_for(url)
    writer = writer_for_engine(create_sync_engine_for(url, sqlite_busy_timeout_ms=0))
    writer.start()
    try:
        with holder.begin() as connection:  # BEGIN IMMEDIATE: the write lock, held
            connection.exec_driver_sql("SELECT 1")
            waiting = writer.submit(trigger("m-locked"), "{}")
            await asyncio.sleep(0.2)
            assert not waiting.done(), "the append went in while another writer held the lock"
        assert not (await asyncio.wait_for(waiting, timeout=5)).duplicate
    finally:
        await writer.aclose()
        holder.dispose()
