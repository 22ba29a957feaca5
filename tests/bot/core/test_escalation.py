"""The escalation policy over real databases, on a clock the test moves: hours in milliseconds.

Each test declares incidents through the core, moves the clock, and runs the timer job as the
scheduler would. What reaches Slack and PagerDuty is read from the outbox rows the firings
queued (the Slack side has scenario tests of its own).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.config import IncidentBotConfig
from bot.config.severity import Severity
from bot.core import incidents, timers
from bot.core.errors import InvalidInput
from bot.core.escalation import EscalationPolicy, Targets, escalate_by_hand
from bot.core.lifecycle import Status
from bot.core.outbox import OutboxKind
from bot.core.timers import TimerKind, TimerState
from bot.core.unit_of_work import Core
from handlers.jobs.fire_timers import TimerJob
from storage.db import create_engine_for, session_factory
from storage.models import Incident, OutboxMessage, TimelineEvent, Timer

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

CONFIG = IncidentBotConfig.from_mapping({
    "escalation": {
        "default": [
            {"after": "0m", "notify": {"users": ["U0ONCALL1"]}},
            {"after": "30m", "notify": {"users": ["U0MLLEAD1"]}, "routing_key": "LEADKEY"},
            {"after": "1h", "notify": {"users": ["U0ENGMGR1"]}},
            {"after": "2h", "notify": {"users": ["U0VPENG01"]}},
        ],
        "by_severity": {"P0": [{"after": "0m", "notify": {"users": ["U0ONCALL1", "U0MLLEAD1"]}},
                               {"after": "15m", "notify": {"users": ["U0ENGMGR1"]}}]},
        "by_runbook": {"security": [{"after": "0m", "notify": {"usergroups": ["S0SECURTY"]}}]},
    },
})


@dataclass
class ManualClock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    core: Core
    clock: ManualClock
    job: TimerJob

    async def declare(self, *, severity: Severity = Severity.P1, runbook: str | None = None,
                      title: str = "p95 latency high") -> int:
        incident = await self.core.change(
            actor="U0ALICE", action="incident.declare", incident_id=None,
            apply=lambda s, now: incidents.declare(s, title=title, severity=severity, declared_by="U0ALICE",
                                                   now=now, runbook_class=runbook),
        )
        return incident.id

    async def at(self, minutes: float) -> int:
        """Move the clock to START + minutes and fire whatever fell due."""
        self.clock.now = START + timedelta(minutes=minutes)
        return await self.job.run()

    async def change(self, incident_id: int, fn, **kwargs):  # type: ignore[no-untyped-def]
        return await self.core.change(
            actor="U0BOB", action="test", incident_id=incident_id,
            apply=lambda s, now: fn(s, incident_id=incident_id, actor="U0BOB", now=now, **kwargs),
        )

    async def escalations(self, incident_id: int) -> list[TimelineEvent]:
        return await self._events(incident_id, "escalated")

    async def _events(self, incident_id: int, kind: str) -> list[TimelineEvent]:
        async with self.core.sessions() as s:
            rows = await s.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id,
                                                               TimelineEvent.kind == kind).order_by(TimelineEvent.id))
            return list(rows)

    async def outbox(self, incident_id: int, kind: OutboxKind) -> list[OutboxMessage]:
        async with self.core.sessions() as s:
            rows = await s.scalars(select(OutboxMessage).where(OutboxMessage.incident_id == incident_id,
                                                               OutboxMessage.kind == kind.value)
                                   .order_by(OutboxMessage.id))
            return list(rows)

    async def pending(self, incident_id: int) -> list[tuple[str, datetime]]:
        async with self.core.sessions() as s:
            return [(t.kind, t.due_at) for t in await timers.pending(s, incident_id=incident_id)]

    async def incident(self, incident_id: int) -> Incident:
        async with self.core.sessions() as s:
            return await incidents.get_incident(s, incident_id=incident_id)


def _world(database_url: str, config: IncidentBotConfig = CONFIG, *, name: str = "test-replica"):
    engine = create_engine_for(database_url)
    clock = ManualClock()
    core = Core(sessions=session_factory(engine), clock=clock)
    return engine, World(core=core, clock=clock, job=TimerJob(core=core, policy=EscalationPolicy(config),
                                                              fired_by=name))


@pytest.fixture
async def world(database_url: str):
    engine, built = _world(database_url)
    yield built
    await engine.dispose()


def _paged(events: list[TimelineEvent]) -> list[tuple[int | None, list[str]]]:
    return [(e.data["level"], e.data["users"] + e.data["usergroups"]) for e in events]


async def test_an_unacknowledged_p1_escalates_level_by_level_on_schedule(world: World) -> None:
    incident_id = await world.declare()
    await world.at(0)
    assert _paged(await world.escalations(incident_id)) == [(0, ["U0ONCALL1"])]
    assert await world.outbox(incident_id, OutboxKind.MANAGER_THREAD) == []  # paging on-call is no escalation

    await world.at(29.9)
    assert len(await world.escalations(incident_id)) == 1
    await world.at(30)
    assert _paged(await world.escalations(incident_id))[-1] == (1, ["U0MLLEAD1"])
    page = await world.outbox(incident_id, OutboxKind.PAGERDUTY_EVENT)
    assert [p.payload["routing_key"] for p in page] == ["LEADKEY"]
    assert page[0].payload["dedup_key"] == f"incident-bot-{incident_id}-level-1"
    assert len(await world.outbox(incident_id, OutboxKind.MANAGER_THREAD)) == 1

    await world.at(60)
    assert _paged(await world.escalations(incident_id))[-1] == (2, ["U0ENGMGR1"])
    breaches = await world._events(incident_id, "response_breached")
    assert len(breaches) == 1 and "1h" in breaches[0].text  # P1 responds within 1h

    await world.at(200)
    assert [level for level, _ in _paged(await world.escalations(incident_id))] == [0, 1, 2, 3]
    assert (await world.incident(incident_id)).escalation_level == 3
    # Each level fired once, at its own time, however often the job looked.
    await world.at(300)
    assert len(await world.escalations(incident_id)) == 4


async def test_acknowledging_stops_the_escalation_but_not_the_reminders(world: World) -> None:
    incident_id = await world.declare()
    await world.at(0)
    world.clock.now = START + timedelta(minutes=10)
    await world.change(incident_id, incidents.acknowledge)
    await world.at(300)
    assert [level for level, _ in _paged(await world.escalations(incident_id))] == [0]
    assert await world._events(incident_id, "response_breached") == []
    reminders = await world._events(incident_id, "update_reminder")
    assert reminders, "an acknowledged incident still owes status updates"


async def test_resolving_cancels_every_timer(world: World) -> None:
    incident_id = await world.declare()
    await world.at(0)
    assert {kind for kind, _ in await world.pending(incident_id)} == {
        "escalate", "response_due", "status_reminder", "mitigate_due", "resolve_due"}  # P1's deadlines by default
    world.clock.now = START + timedelta(minutes=5)
    await world.change(incident_id, incidents.resolve)
    assert await world.pending(incident_id) == []
    await world.at(600)
    assert len(await world.escalations(incident_id)) == 1
    assert await world._events(incident_id, "update_reminder") == []


async def test_a_p3_is_a_notice_that_pages_nobody(world: World) -> None:
    # The seeds' warnings ("Slack notification") route to P3: the channel and the announcement, no page.
    incident_id = await world.declare(severity=Severity.P3)
    await world.at(0)
    await world.at(120)
    assert await world.escalations(incident_id) == []


async def test_a_security_incident_pages_the_security_team_at_once(world: World) -> None:
    incident_id = await world.declare(runbook="security", severity=Severity.P2)
    await world.at(0)
    assert _paged(await world.escalations(incident_id)) == [(0, ["S0SECURTY"])]
    await world.at(600)
    assert len(await world.escalations(incident_id)) == 1  # the security policy has one level


async def test_severity_picks_its_own_levels_and_a_raise_replans_at_once(world: World) -> None:
    incident_id = await world.declare(severity=Severity.P2)
    await world.at(0)
    await world.at(20)
    assert len(await world.escalations(incident_id)) == 1
    await world.change(incident_id, incidents.set_severity, severity=Severity.P0)
    await world.at(20)
    # P0's second level (15m) was already overdue under the new severity.
    assert _paged(await world.escalations(incident_id))[-1] == (1, ["U0ENGMGR1"])


async def test_reminders_come_at_the_cadence_and_the_second_miss_reaches_managers(world: World) -> None:
    incident_id = await world.declare()
    await world.at(0)
    await world.change(incident_id, incidents.acknowledge)
    await world.at(29)
    assert await world._events(incident_id, "update_reminder") == []
    await world.at(30)
    await world.at(60)
    misses = [e.data["misses"] for e in await world._events(incident_id, "update_reminder")]
    assert misses == [1, 2]
    assert len(await world.outbox(incident_id, OutboxKind.UPDATE_REMINDER)) == 2
    reminders = {e.id for e in await world._events(incident_id, "update_reminder")}
    threads = [t for t in await world.outbox(incident_id, OutboxKind.MANAGER_THREAD)
               if t.payload["event_id"] in reminders]  # the missed 1 h mitigation deadline is there too
    assert len(threads) == 1, "the second miss is noted in the escalation thread"

    world.clock.now = START + timedelta(minutes=61)
    await world.change(incident_id, incidents.post_status_update, text="Rolled back; watching p95.")
    await world.at(62)
    # The update restarts the cadence from its own time and clears the misses.
    assert [(k, due) for k, due in await world.pending(incident_id)] == [
        ("status_reminder", START + timedelta(minutes=91)), ("resolve_due", START + timedelta(hours=4))]
    await world.at(91)
    assert [e.data["misses"] for e in await world._events(incident_id, "update_reminder")] == [1, 2, 1]


async def test_escalating_by_hand_pages_the_next_level_or_named_people(world: World) -> None:
    incident_id = await world.declare()
    await world.at(0)
    policy = world.job._policy
    await world.change(incident_id, escalate_by_hand, policy=policy)
    assert _paged(await world.escalations(incident_id))[-1] == (1, ["U0MLLEAD1"])
    await world.change(incident_id, escalate_by_hand, policy=policy, targets=Targets(users=("U0DBA0001",)))
    assert _paged(await world.escalations(incident_id))[-1] == (None, ["U0DBA0001"])
    # The timer for level 1 no longer pages it again.
    await world.at(45)
    assert [level for level, _ in _paged(await world.escalations(incident_id))] == [0, 1, None]
    with pytest.raises(InvalidInput, match="no escalation level 9"):
        await world.change(incident_id, escalate_by_hand, policy=policy, level=9)
    await world.change(incident_id, escalate_by_hand, policy=policy, level=3)
    with pytest.raises(InvalidInput, match="already reached the last"):
        await world.change(incident_id, escalate_by_hand, policy=policy)


async def test_a_timer_that_fails_to_fire_is_retried_and_does_not_stall_the_others(world: World) -> None:
    first = await world.declare()
    await world.at(0)
    async with world.core.sessions() as s, s.begin():
        # A row this version cannot make sense of (no level): its firing raises.
        await timers.schedule(s, incident_id=first, kind=TimerKind.ESCALATE, due_at=START, now=START, payload={})
    second = await world.declare()
    await world.at(0)
    assert len(await world.escalations(second)) == 1
    async with world.core.sessions() as s:
        broken = await s.scalar(select(Timer).where(Timer.incident_id == first, Timer.attempts > 0))
    assert broken is not None and broken.state == TimerState.PENDING and "KeyError" in (broken.last_error or "")
    assert broken.due_at > START  # tried again later, not in a tight loop
    for minute in range(1, 10):
        await world.at(minute)
    async with world.core.sessions() as s:
        broken = await s.get(Timer, broken.id, populate_existing=True)
    assert broken is not None and broken.state == TimerState.FAILED and broken.attempts == 5


async def test_timers_that_fell_due_while_nobody_looked_fire_on_the_first_look(world: World) -> None:
    incident_id = await world.declare()
    # The bot was down for three hours: nothing fired. The first pass works off the backlog.
    fired = await world.at(180)
    assert fired >= 5
    assert [level for level, _ in _paged(await world.escalations(incident_id))] == [0, 1, 2, 3]


@pytest.mark.postgres
async def test_two_replicas_on_one_postgres_fire_each_timer_exactly_once(postgres_url: str) -> None:
    engine_a, first = _world(postgres_url, name="replica-a")
    engine_b, second = _world(postgres_url, name="replica-b")
    try:
        for _ in range(60):
            await first.declare()
        first.clock.now = second.clock.now = START + timedelta(hours=3)
        # Both replicas look at the same moment, over and over, as their schedulers would.
        for _ in range(3):
            await asyncio.gather(first.job.run(), second.job.run())
        async with first.core.sessions() as s:
            escalated = await s.scalar(select(func.count()).select_from(TimelineEvent)
                                       .where(TimelineEvent.kind == "escalated"))
            distinct = await s.scalar(select(func.count()).select_from(
                select(TimelineEvent.incident_id, TimelineEvent.data["level"].as_string())
                .where(TimelineEvent.kind == "escalated").distinct().subquery()))
            fired_by = dict((await s.execute(select(Timer.fired_by, func.count()).where(Timer.state == "fired")
                                             .group_by(Timer.fired_by))).all())
        assert escalated == distinct == 60 * 4
        assert set(fired_by) <= {"replica-a", "replica-b"}
        # plan, four levels, response due, first reminder, and P1's 1 h mitigation deadline (4 h to resolve)
        assert sum(fired_by.values()) == 60 * 8
        async with first.core.sessions() as s:
            missed = (await s.execute(select(TimelineEvent.incident_id, TimelineEvent.data["deadline"].as_string())
                                      .where(TimelineEvent.kind == "deadline_missed"))).all()
        assert len(missed) == len(set(missed)) == 60 and {deadline for _, deadline in missed} == {"mitigate"}
    finally:
        await engine_a.dispose()
        await engine_b.dispose()


UNTIL_CONFIG = IncidentBotConfig.from_mapping({
    "oncall": {"users": ["U0ONCALL1"], "backup": {"users": ["U0BOB"]}, "backup_after": "10m"},
    "severities": {"P1": {"mitigate_within": "45m", "resolve_within": "3h"}},
    "escalation": {"default": [
        {"after": "0m", "notify": {"users": ["U0ONCALL1"]}},
        {"after": "30m", "notify": {"users": ["U0MLLEAD1"]}},
        {"after": "1h", "notify": {"users": ["U0ENGMGR1"]}, "until": "mitigated"},
        {"after": "2h", "notify": {"users": ["U0VPENG01"]}, "until": "resolved"},
    ]},
})


@pytest.fixture
async def until_world(database_url: str):
    engine, built = _world(database_url, UNTIL_CONFIG)
    yield built
    await engine.dispose()


async def _missed(world: World, incident_id: int) -> list[str]:
    return [e.data["deadline"] for e in await world._events(incident_id, "deadline_missed")]


async def test_levels_page_until_their_status_and_deadlines_are_missed_once(until_world: World) -> None:
    world = until_world
    incident_id = await world.declare()
    await world.at(0)
    world.clock.now = START + timedelta(minutes=5)
    await world.change(incident_id, incidents.acknowledge)  # before the backup's 10 minutes
    await world.at(44)
    assert [level for level, _ in _paged(await world.escalations(incident_id))] == [0]  # level 1: until ack
    assert await _missed(world, incident_id) == []
    await world.at(45)
    assert await _missed(world, incident_id) == ["mitigate"]
    missed = (await world._events(incident_id, "deadline_missed"))[0]
    assert "45m" in missed.text and "level 2" in missed.text, "says the deadline and who is paged next"
    await world.at(60)
    assert [level for level, _ in _paged(await world.escalations(incident_id))] == [0, 2]
    world.clock.now = START + timedelta(minutes=70)
    await world.change(incident_id, incidents.mitigate)
    await world.at(130)
    # Mitigated: level 2's `until` is reached, level 3 (until resolved) still pages.
    assert [level for level, _ in _paged(await world.escalations(incident_id))] == [0, 2, 3]
    await world.at(400)
    assert await _missed(world, incident_id) == ["mitigate", "resolve"]
    assert [e.data.get("backup") for e in await world.escalations(incident_id)] == [None, None, None]


async def test_the_backup_is_paged_once_when_nobody_acknowledges(until_world: World) -> None:
    world = until_world
    incident_id = await world.declare()
    await world.at(0)
    await world.at(10)
    await world.at(11)
    backups = [e for e in await world.escalations(incident_id) if e.data.get("backup")]
    assert [(e.data["level"], e.data["users"]) for e in backups] == [(None, ["U0BOB"])]
    await world.change(incident_id, incidents.set_severity, severity=Severity.P0)  # a replan pages no second backup
    await world.at(12)
    assert len([e for e in await world.escalations(incident_id) if e.data.get("backup")]) == 1


async def test_a_raise_brings_the_deadline_forward_and_a_runbook_clock_is_earlier(until_world: World) -> None:
    world = until_world
    p2 = await world.declare(severity=Severity.P2)  # P2: no mitigation deadline by default
    regression = await world.declare(runbook="model_regression")  # seed 001: mitigated within 30m
    await world.at(0)
    await world.at(40)
    assert await _missed(world, p2) == []
    assert await _missed(world, regression) == ["mitigate"]
    text = (await world._events(regression, "deadline_missed"))[0].text
    assert "30m" in text and "model_regression" in text
    await world.change(p2, incidents.set_severity, severity=Severity.P0)  # P0 mitigates within 30m: overdue
    await world.at(41)
    assert await _missed(world, p2) == ["mitigate"]


async def test_a_reopen_starts_the_deadlines_and_the_backup_again(until_world: World) -> None:
    world = until_world
    incident_id = await world.declare()
    await world.at(0)
    await world.at(50)
    assert await _missed(world, incident_id) == ["mitigate"]
    world.clock.now = START + timedelta(minutes=55)
    await world.change(incident_id, incidents.resolve)
    world.clock.now = START + timedelta(minutes=60)
    await world.change(incident_id, incidents.transition, target=Status.TRIGGERED)  # the alarm fires again
    await world.at(100)
    assert await _missed(world, incident_id) == ["mitigate"], "45 minutes from the reopen are not up"
    await world.at(105)
    assert await _missed(world, incident_id) == ["mitigate", "mitigate"]
    assert len([e for e in await world.escalations(incident_id) if e.data.get("backup")]) == 2
