"""An incident's record written through the core on a clock the test moves, for postmortem tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config.severity import Severity
from bot.core import incidents
from bot.core.audit import Outcome, record_entry
from bot.core.timeline import EventKind, record_event
from bot.core.unit_of_work import Core
from storage.models import Alert, ResponseAction

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@dataclass
class ManualClock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def at(self, minutes: float) -> datetime:
        self.now = START + timedelta(minutes=minutes)
        return self.now


@dataclass
class Record:
    core: Core
    clock: ManualClock

    async def declare(self, title: str, *, minutes: float = 0, service: str | None = "multimodal-api") -> int:
        self.clock.at(minutes)
        incident = await self.core.change(
            actor="U0ALICE", action="incident.declare", incident_id=None,
            apply=lambda s, now: incidents.declare(s, title=title, severity=Severity.P1, declared_by="U0ALICE",
                                                   now=now, service=service, source="cloudwatch"))
        return incident.id

    async def alerts(self, incident_id: int, *, count: int, minutes: float, started_minutes: float,
                     title: str = "multimodal-prod-p95-latency") -> None:
        """``count`` deliveries of one alarm, the way ingest records them: one alert, one event each."""
        self.clock.at(minutes)
        started = START + timedelta(minutes=started_minutes)

        async def apply(session, now):  # type: ignore[no-untyped-def]
            alert = Alert(incident_id=incident_id, source="cloudwatch", dedup_key=f"arn:{title}", title=title,
                          state="firing", occurrences=count, first_seen_at=now, last_seen_at=now,
                          details={"occurred_at": started.isoformat(), "description": "p95 above 1s"})
            session.add(alert)
            await session.flush()
            for index in range(count):
                await record_event(session, incident_id=incident_id, kind=EventKind.ALERT, actor="cloudwatch",
                                   now=now + timedelta(seconds=index), text=title, announce=False,
                                   data={"alert_id": alert.id})

        await self.core.change(actor="cloudwatch", action="test.alerts", incident_id=incident_id, apply=apply)

    async def change(self, incident_id: int, fn: Any, *, minutes: float, actor: str = "U0BOB", **kwargs: Any) -> Any:
        self.clock.at(minutes)
        return await self.core.change(actor=actor, action="test", incident_id=incident_id,
                                      apply=lambda s, now: fn(s, incident_id=incident_id, actor=actor, now=now,
                                                              **kwargs))

    async def action(self, incident_id: int, *, minutes: float, summary: str, state: str,
                     approved_by: str | None = None) -> None:
        """A finished guarded action as the pipeline leaves it: its row, audit entries and timeline step."""
        self.clock.at(minutes)

        async def apply(session, now):  # type: ignore[no-untyped-def]
            row = ResponseAction(incident_id=incident_id, kind="rollback_model", service="multimodal-api",
                                 target="model:incident-text", summary=summary, before={"version": "v5"},
                                 after={"version": "v4"}, state=state, requested_by="U0BOB", requested_at=now,
                                 decided_by=approved_by, finished_at=now, result={"verified": "v4 answered"})
            session.add(row)
            await session.flush()
            for outcome in (Outcome.REQUESTED, Outcome.OK):
                record_entry(session, actor="U0BOB", action="action.rollback_model", outcome=outcome, now=now,
                             incident_id=incident_id,
                             detail={"action_id": row.id, "summary": summary, "requested_by": "U0BOB",
                                     "decided_by": approved_by, "state": state,
                                     "result": {"verified": "v4 answered"}})
            await record_event(session, incident_id=incident_id, kind=EventKind.ACTION, actor="U0BOB", now=now,
                               text=f"{summary}: {state}", announce=False,
                               data={"action_id": row.id, "state": state, "summary": summary})

        await self.core.change(actor="U0BOB", action="test.action", incident_id=incident_id, apply=apply)

    async def diagnostic(self, incident_id: int, *, minutes: float, step: str, verdict: str, headline: str,
                         lines: tuple[str, ...] = (), file_id: str | None = None) -> None:
        self.clock.at(minutes)

        async def apply(session, now):  # type: ignore[no-untyped-def]
            await record_event(session, incident_id=incident_id, kind=EventKind.DIAGNOSTIC, actor="U0BOB", now=now,
                               text=headline, announce=False,
                               data={"step": step, "verdict": verdict, "lines": list(lines), "file_id": file_id})

        await self.core.change(actor="U0BOB", action="test.diagnostic", incident_id=incident_id, apply=apply)
