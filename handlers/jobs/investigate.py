"""Run one read-only investigation for an incident, post what it found, and keep it.

Started by the headline's Investigate menu, `/incident investigate`, or a runbook step's button
after the ack; a step's run posts in the checklist's thread (``thread_ts``) and names the step.
One run per incident and kind at a time in this process. The finding goes on the timeline as a
Diagnose-style event (``data.kind == "investigation"``), so the postmortem lists it with the
checks; it is posted as a short summary, with the long output as a file.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import IncidentBotConfig
from bot.config.models import ServiceConfig
from bot.core import checklists
from bot.core.alerts import alerts_of
from bot.core.background import BackgroundTasks
from bot.core.checklists import StepRef
from bot.core.errors import InvalidInput
from bot.core.timeline import EventKind, record_event
from bot.core.unit_of_work import Core
from bot.slack.errors import SlackError
from bot.slack.gateway import PostedMessage, SlackGateway
from bot.slack.investigate_blocks import finding_message, looking_message
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import (
    Finding,
    Investigation,
    InvestigationKind,
    Scope,
    configured_kinds,
    investigate,
)
from storage.models import Alert, Incident

log = logging.getLogger(__name__)

LOOKBACK = timedelta(minutes=30)  # the window opens this long before the first alarm
AFTER_RESOLVE = timedelta(minutes=5)
# An alarm that says it began long before the incident (a replayed or stale one) does not stretch
# the window past this before the declaration.
EARLIEST = timedelta(hours=6)


@dataclass
class Investigator:
    core: Core
    config: IncidentBotConfig
    gateway: SlackGateway
    investigations: Mapping[InvestigationKind, Investigation]
    timeout_factor: float = 1.0
    lookback: timedelta = LOOKBACK
    _runs: BackgroundTasks = field(default_factory=BackgroundTasks)

    def service_of(self, incident: Incident) -> tuple[str, ServiceConfig]:
        name = incident.service or (next(iter(self.config.services)) if len(self.config.services) == 1 else None)
        service = self.config.services.get(name) if name else None
        if name is None or service is None:
            raise InvalidInput("This incident has no configured service, so there is nothing to investigate.")
        return name, service

    def offered(self, service: ServiceConfig) -> tuple[InvestigationKind, ...]:
        return tuple(kind for kind in configured_kinds(service) if kind in self.investigations)

    def start(self, incident: Incident, kind: InvestigationKind, *, actor: str, thread_ts: str | None = None,
              runbook_step: StepRef | None = None, correlation_id: str | None = None) -> bool:
        """Start a run in the background; False if this kind is already running for the incident.

        Raises ``InvalidInput`` when the incident's service is not configured for ``kind``.
        """
        name, service = self.service_of(incident)
        if kind not in self.offered(service):
            raise InvalidInput(f"Service {name} is not configured for the {kind.value} investigation "
                               "(see docs/configuration.md, Investigations).")
        task_name = f"investigate-{incident.id}-{kind.value}"
        if self._runs.running(task_name):
            return False
        self._runs.spawn(self._run(incident, kind, actor=actor, thread_ts=thread_ts, runbook_step=runbook_step,
                                   correlation_id=correlation_id, service=(name, service)), name=task_name)
        return True

    async def aclose(self) -> None:
        await self._runs.aclose()

    async def _run(self, incident: Incident, kind: InvestigationKind, *, actor: str, thread_ts: str | None,
                   runbook_step: StepRef | None, correlation_id: str | None,
                   service: tuple[str, ServiceConfig]) -> None:
        channel = incident.channel_id or ""
        try:
            scope = await self._scope(incident, service, correlation_id)
            step = runbook_step.title if runbook_step is not None else None
            posted = await self._post_looking(channel, incident.number, kind, scope, thread_ts, step=step)
            finding = await investigate(self.investigations[kind], scope, timeout_factor=self.timeout_factor)
            file_id, file_note = await self._upload(channel, finding, thread_ts)
            await self._record(incident.id, actor=actor, finding=finding, file_id=file_id)
            text, blocks = finding_message(number=incident.number, finding=finding, file_note=file_note, step=step)
            await self._show(channel, posted, thread_ts, text, blocks)
            if runbook_step is not None and finding.verdict != Verdict.UNAVAILABLE:
                # The check ran, whatever it found: its findings are on the timeline for people to read.
                await checklists.mark_step(self.core, incident_id=incident.id, step=runbook_step, actor=actor,
                                           via="investigate")
        except Exception:  # a background run logs what it cannot report
            log.exception("the %s investigation of incident %s failed", kind.value, incident.id)

    async def _scope(self, incident: Incident, service: tuple[str, ServiceConfig],
                     correlation_id: str | None) -> Scope:
        async with self.core.sessions() as session:
            alerts = await alerts_of(session, incident_id=incident.id)
        now = self.core.clock()
        declared = _utc(incident.declared_at)
        began = max(declared - EARLIEST,
                    min([declared, *(started for a in alerts if (started := _alert_started(a)))]))
        resolved = _utc(incident.resolved_at) if incident.resolved_at else None
        end = min(now, resolved + AFTER_RESOLVE) if resolved else now
        alarm = next((str(a.details.get("alarm_name")) for a in alerts if (a.details or {}).get("alarm_name")), None)
        name, config = service
        return Scope(incident_number=incident.number, service_name=name, service=config, start=began - self.lookback,
                     end=end, alarm_name=alarm, correlation_id=correlation_id)

    async def _post_looking(self, channel: str, number: int, kind: InvestigationKind, scope: Scope,
                            thread_ts: str | None, *, step: str | None) -> PostedMessage | None:
        text, blocks = looking_message(number=number, kind=kind, service=scope.service_name, step=step,
                                       correlation_id=scope.correlation_id)
        try:
            return await self.gateway.post(channel, text=text, blocks=blocks, thread_ts=thread_ts)
        except SlackError as exc:
            log.warning("could not post the investigation's first message: %s", exc)
            return None

    async def _upload(self, channel: str, finding: Finding, thread_ts: str | None) -> tuple[str | None, str | None]:
        if finding.attachment is None:
            return None, None
        try:
            file_id = await self.gateway.upload_file(channel, filename=finding.attachment.filename,
                                                     content=finding.attachment.content, thread_ts=thread_ts)
        except SlackError as exc:
            log.warning("could not upload %s: %s", finding.attachment.filename, exc)
            return None, "the full output could not be uploaded"
        return file_id or None, f"full output in {finding.attachment.filename}"

    async def _show(self, channel: str, posted: PostedMessage | None, thread_ts: str | None, text: str,
                    blocks: list[dict[str, Any]]) -> None:
        try:
            if posted is not None:
                await self.gateway.update(posted.channel_id, posted.ts, text=text, blocks=blocks)
            else:
                await self.gateway.post(channel, text=text, blocks=blocks, thread_ts=thread_ts)
        except SlackError as exc:
            log.warning("could not post the investigation's finding: %s", exc)

    async def _record(self, incident_id: int, *, actor: str, finding: Finding, file_id: str | None) -> None:
        async with self.core.sessions() as session, session.begin():
            await record_event(session, incident_id=incident_id, kind=EventKind.DIAGNOSTIC, actor=actor,
                               now=self.core.clock(), text=finding.headline, announce=False,
                               data={"run": uuid.uuid4().hex, "kind": "investigation", "step": finding.kind.value,
                                     "verdict": finding.verdict.value, "lines": list(finding.lines),
                                     "data": finding.data, "file_id": file_id, "seconds": finding.seconds})



def _alert_started(alert: Alert) -> datetime | None:
    occurred = (alert.details or {}).get("occurred_at")
    if isinstance(occurred, str):
        try:
            return _utc(datetime.fromisoformat(occurred))
        except ValueError:
            pass
    return _utc(alert.first_seen_at) if alert.first_seen_at else None


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
