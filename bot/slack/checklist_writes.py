"""What the checklist outbox row does: choose the runbook if none is chosen, then post or edit
the pinned checklist in the incident channel.

The choice goes routing rule, then the runbooks' own match rules, then the incident-text model
(only when it is sure enough; otherwise its guess is shown and a person picks). The model is
asked with no database session open, and on the checklist's own lane, so a slow worker delays
neither slash commands nor the headline. The message ts is saved as soon as Slack returns it,
so a retried row edits the message it posted instead of posting a second one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config.models import RunbooksConfig
from bot.core import checklists
from bot.core.checklists import ChosenBy
from bot.core.clock import Clock
from bot.core.delivery import NotReady
from bot.core.incidents import get_incident
from bot.core.outbox import OutboxKind
from bot.core.ports.worker import WorkerError, WorkerPrediction
from bot.slack import checklist_blocks
from bot.slack.errors import SlackRejected
from bot.slack.gateway import SlackGateway
from runbooks.engine.loader import Library
from runbooks.engine.matching import AlertFacts, match_by_rules, runbook_for_class
from storage.models import Alert, Incident, IncidentRunbook

log = logging.getLogger(__name__)

KINDS = frozenset({OutboxKind.RUNBOOK_CHECKLIST})
# Edits to a message that is gone (deleted by someone) post a fresh checklist instead.
_GONE = {"message_not_found", "cant_update_message", "channel_not_found"}


class TextClassifier(Protocol):
    async def classify_text(self, text: str, *, model: str = ...) -> WorkerPrediction: ...


class ChecklistWrites:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], gateway: SlackGateway, clock: Clock,
                 library: Library, classifier: TextClassifier, config: RunbooksConfig, text_model: str) -> None:
        self._sessions = sessions
        self._gateway = gateway
        self._clock = clock
        self._library = library
        self._classifier = classifier
        self._config = config
        self._text_model = text_model

    async def perform(self, kind: str, payload: dict[str, Any]) -> None:
        incident_id = int(payload["incident_id"])
        async with self._sessions() as session:
            incident = await get_incident(session, incident_id=incident_id)
            choice = await checklists.current(session, incident_id=incident_id)
            alerts = list((await session.scalars(select(Alert).where(Alert.incident_id == incident_id)
                                                 .order_by(Alert.first_seen_at, Alert.id))).all())
        if not incident.channel_id:
            raise NotReady(f"incident {incident_id} has no channel yet")
        if choice is None:
            choice = await self._choose(incident, alerts)
        await self._show(incident, choice)

    # --- choosing ----------------------------------------------------------------------------

    async def _choose(self, incident: Incident, alerts: Sequence[Alert]) -> IncidentRunbook:
        decided = self._by_rules(incident, alerts)
        if decided is None:
            decided = await self._by_model(incident, alerts)
        runbook, chosen_by, reason, confidence, suggestion = decided
        async with self._sessions() as session, session.begin():
            return await checklists.choose_first(session, incident_id=incident.id, runbook=runbook,
                                                 chosen_by=chosen_by, reason=reason, confidence=confidence,
                                                 suggestion=suggestion, now=self._clock())

    def _by_rules(self, incident: Incident, alerts: Sequence[Alert]) -> _Decision | None:
        if incident.runbook_class and self._library.get(incident.runbook_class):
            return incident.runbook_class, ChosenBy.ROUTING, "a routing rule of the configuration", None, None
        found = match_by_rules(self._library, [_facts(alert) for alert in alerts])
        if found is not None:
            return found.runbook, ChosenBy.MATCH, f"{found.reason} ({found.runbook})", None, None
        return None

    async def _by_model(self, incident: Incident, alerts: Sequence[Alert]) -> _Decision:
        text = "\n".join(dict.fromkeys([incident.title, *(a.title for a in alerts[:5])]))[:2000]
        try:
            prediction = await asyncio.wait_for(self._classifier.classify_text(text, model=self._text_model),
                                                timeout=self._config.predict_timeout)
        except (WorkerError, TimeoutError) as exc:
            reason = f"No rule matched, and the incident-text model could not be asked ({_why(exc)})."
            return None, ChosenBy.NONE, reason, None, None
        runbook = runbook_for_class(self._library, prediction.label)
        guess = {"runbook": runbook, "label": prediction.label, "confidence": round(prediction.confidence, 4),
                 "model": self._text_model, "version": prediction.model_version}
        if runbook is None:
            return None, ChosenBy.NONE, f"The model's class {prediction.label} has no runbook.", None, guess
        if prediction.confidence < self._config.min_confidence:
            reason = f"No rule matched; the model's best guess is under {self._config.min_confidence:.0%} sure."
            return None, ChosenBy.NONE, reason, None, guess
        reason = f"incident-text {prediction.model_version or ''} read the title as {prediction.label}".strip()
        return runbook, ChosenBy.MODEL, reason, prediction.confidence, guess

    # --- showing -----------------------------------------------------------------------------

    async def _show(self, incident: Incident, choice: IncidentRunbook) -> None:
        runbook = self._library.get(choice.runbook) if choice.runbook else None
        if runbook is None:
            names = [(name, self._library.runbooks[name].title) for name in self._library.names()]
            if choice.runbook:  # the team's folder no longer has it
                choice.reason = f"The runbook {choice.runbook} is not in the library any more."
            text, blocks = checklist_blocks.no_runbook(incident=incident, choice=choice, names=names)
        else:
            provable = [checklists.ProvableStep(step.id, step.title, step.done_when)
                        for _, step in runbook.steps() if step.done_when]
            async with self._sessions() as session, session.begin():
                proofs = await checklists.tick_proven(session, incident_id=incident.id, runbook=runbook.name,
                                                      provable=provable, now=self._clock())
                rows = await checklists.steps(session, incident_id=incident.id, runbook=runbook.name)
            text, blocks = checklist_blocks.checklist(incident=incident, runbook=runbook, choice=choice, rows=rows,
                                                      proofs=proofs)
        channel_id = incident.channel_id or ""
        if choice.message_ts and choice.channel_id:
            try:
                await self._gateway.update(choice.channel_id, choice.message_ts, text=text, blocks=blocks)
                return
            except SlackRejected as exc:
                if exc.code not in _GONE:
                    raise
                log.info("the checklist of incident %s is gone (%s); posting it again", incident.id, exc.code)
        posted = await self._gateway.post(channel_id, text=text, blocks=blocks)
        async with self._sessions() as session, session.begin():
            await checklists.record_message(session, incident_id=incident.id, channel_id=posted.channel_id,
                                            message_ts=posted.ts)
        try:
            await self._gateway.pin(posted.channel_id, posted.ts)
        except SlackRejected as exc:  # a checklist that cannot be pinned is still in the channel
            log.warning("could not pin the checklist of incident %s: %s", incident.id, exc)


_Decision = tuple[str | None, ChosenBy, str, float | None, dict[str, Any] | None]


def _facts(alert: Alert) -> AlertFacts:
    details = alert.details or {}
    metric = details.get("metric") or {}
    alarm = details.get("alarm_name") or (alert.title if alert.source != "pagerduty" else None)
    # A metric-math alarm fires on its expression; the metric stored with it is only an input
    # (the RequestCount an error rate divides by), so it must not outvote the alarm's own name.
    metric_name = None if metric.get("expression") else metric.get("name")
    return AlertFacts(alarm_name=str(alarm) if alarm else None,
                      metric_name=str(metric_name) if metric_name else None,
                      pagerduty_service=str(details["pagerduty_service"]) if details.get("pagerduty_service") else None)


def _why(exc: BaseException) -> str:
    return "no answer in time" if isinstance(exc, TimeoutError) else str(exc)
