"""What the burn check does with a verdict, against a real database: a fast burn opens a P1
incident or raises the service's open one, once; a slow burn waits in the next digest; the
timers are scheduled once however many replicas try."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import yaml
from sqlalchemy import select

from bot.config import IncidentBotConfig
from bot.config.severity import Severity
from bot.core import budget_schedule, incidents
from bot.core.budget_burns import check_burns
from bot.core.budget_measure import Measurement
from bot.core.budgets import Budget, Burn, BurnVerdict, Counts
from bot.core.ports.budgets import EventBucket
from sandbox.budget_seed import error_budget_yaml
from storage.models import Incident, IncidentBudget, TimelineEvent, Timer

NOW = datetime(2026, 12, 7, 12, 30, tzinfo=UTC)
CONFIG = IncidentBotConfig.from_mapping(yaml.safe_load("services:\n  scoring-api:\n" + error_budget_yaml()))


def measurement(burn: Burn, *, rate: float = 25.0) -> Measurement:
    slo = CONFIG.services["scoring-api"].error_budget
    assert slo is not None
    rule = CONFIG.error_budgets.fast_burn if burn == Burn.FAST else CONFIG.error_budgets.slow_burn
    buckets = tuple(EventBucket(start=NOW - timedelta(minutes=m), total=1000, bad=1000 * rate / 1000)
                    for m in range(60, 0, -1))
    return Measurement(service="scoring-api", slo=slo, measured_at=NOW, buckets=buckets,
                       budget=Budget(target=0.999, start=NOW.replace(day=1, hour=0, minute=0),
                                     counts=Counts(total=5_000_000, bad=2000)),
                       verdict=BurnVerdict(burn=burn, long_rate=rate, short_rate=rate, rule=rule))


async def test_a_fast_burn_opens_one_p1_incident_and_a_second_check_adds_none(sessions) -> None:
    for minute in range(2):
        async with sessions() as session, session.begin():
            await check_burns(session, measurements=[measurement(Burn.FAST)], config=CONFIG,
                              now=NOW + timedelta(minutes=minute))
    async with sessions() as session:
        found = (await session.scalars(select(Incident))).all()
        assert [(i.severity, i.service, i.declared_by) for i in found] == [("P1", "scoring-api", "error-budget")]
        row = await session.get(IncidentBudget, found[0].id)
        assert row is not None and row.incident_bad == pytest.approx(60 * 25) and row.window_bad == 2000


async def test_a_fast_burn_raises_the_open_incident_to_p1(sessions) -> None:
    async with sessions() as session, session.begin():
        incident = await incidents.declare(session, title="scores inconsistent", severity=Severity.P3,
                                           declared_by="U0ALICE", now=NOW - timedelta(minutes=5),
                                           service="scoring-api")
    async with sessions() as session, session.begin():
        await check_burns(session, measurements=[measurement(Burn.FAST)], config=CONFIG, now=NOW)
    async with sessions() as session:
        found = (await session.scalars(select(Incident))).all()
        assert [(i.id, i.severity) for i in found] == [(incident.id, "P1")]
        kinds = list(await session.scalars(select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident.id)))
        assert "budget_burn" in kinds and "severity_changed" in kinds


async def test_a_slow_burn_waits_in_the_next_digest_and_pages_nobody(sessions) -> None:
    async with sessions() as session, session.begin():
        await budget_schedule.ensure_scheduled(session, now=NOW, check_every=timedelta(minutes=5),
                                               digest_at=time(9, 0))
        await check_burns(session, measurements=[measurement(Burn.SLOW, rate=3.0)], config=CONFIG, now=NOW)
    async with sessions() as session:
        assert (await session.scalars(select(Incident))).all() == []
        digest = await session.scalar(select(Timer).where(Timer.kind == "budget_digest"))
        assert digest is not None and digest.payload["slow_burns"]["scoring-api"]["peak"] == 3.0


async def test_every_replica_schedules_the_same_rows_once(sessions) -> None:
    for _ in range(3):
        async with sessions() as session, session.begin():
            await budget_schedule.ensure_scheduled(session, now=NOW + timedelta(seconds=20),
                                                   check_every=timedelta(minutes=5), digest_at=time(9, 0))
    async with sessions() as session:
        rows = (await session.scalars(select(Timer).order_by(Timer.id))).all()
        assert [(r.kind, r.unique_key, r.incident_id) for r in rows] == [
            ("burn_check", "burn_check:2026-12-07T12:35:00+00:00", None),
            ("budget_digest", "budget_digest:2026-12-08", None)]
