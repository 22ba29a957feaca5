"""Choosing an incident's runbook, once: a routing rule, the runbooks' own match rules, then the model.

The incident-text model decides only when it is sure enough; otherwise its guess is kept as a
suggestion and a person picks. The model is asked with no database session open, so a slow
worker holds no connection, and a worker that is down or slow leaves the choice to a person
rather than failing. The choice is recorded through the checklist core, which keeps the first
one made (a person's, or a concurrent writer's) and returns it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config.models import RunbooksConfig
from bot.core import checklists
from bot.core.alerts import alerts_of
from bot.core.checklists import ChosenBy
from bot.core.clock import Clock
from bot.core.incidents import get_incident
from bot.core.ports.worker import WorkerError, WorkerPrediction
from runbooks.engine.loader import Library
from runbooks.engine.matching import AlertFacts, match_by_rules, runbook_for_class
from storage.models import Alert, Incident, IncidentRunbook

# The model reads the incident's title and its first alerts' titles, no more.
_MODEL_ALERTS = 5
_MODEL_TEXT_MAX = 2000


class TextClassifier(Protocol):
    """What choosing asks of the model worker (``bot.core.ports.worker.WorkerClient`` is one)."""

    async def classify_text(self, text: str, *, model: str = ...) -> WorkerPrediction: ...


@dataclass(frozen=True)
class Decision:
    """A runbook choice before it is recorded; ``runbook`` None leaves the pick to a person."""

    runbook: str | None
    chosen_by: ChosenBy
    reason: str  # for people: why this runbook, or why none
    confidence: float | None = None
    suggestion: dict[str, Any] | None = None  # the model's guess, shown whether or not it decided


def decide_by_rules(*, incident: Incident, alerts: Sequence[Alert], library: Library) -> Decision | None:
    """The routing rule's runbook, else the best match rule's; None when no rule decides."""
    if incident.runbook_class and library.get(incident.runbook_class):
        return Decision(incident.runbook_class, ChosenBy.ROUTING, "a routing rule of the configuration")
    found = match_by_rules(library, [alert_facts(alert) for alert in alerts])
    if found is not None:
        return Decision(found.runbook, ChosenBy.MATCH, f"{found.reason} ({found.runbook})")
    return None


async def decide_by_model(*, incident: Incident, alerts: Sequence[Alert], library: Library,
                          classifier: TextClassifier, text_model: str, policy: RunbooksConfig) -> Decision:
    """The incident-text model's runbook when it is sure enough; otherwise no runbook, and why."""
    titles = [incident.title, *(alert.title for alert in alerts[:_MODEL_ALERTS])]
    text = "\n".join(dict.fromkeys(titles))[:_MODEL_TEXT_MAX]
    try:
        prediction = await asyncio.wait_for(classifier.classify_text(text, model=text_model),
                                            timeout=policy.predict_timeout)
    except (WorkerError, TimeoutError) as exc:
        reason = f"No rule matched, and the incident-text model could not be asked ({_why(exc)})."
        return Decision(None, ChosenBy.NONE, reason)
    runbook = runbook_for_class(library, prediction.label)
    guess = {"runbook": runbook, "label": prediction.label, "confidence": round(prediction.confidence, 4),
             "model": text_model, "version": prediction.model_version}
    if runbook is None:
        return Decision(None, ChosenBy.NONE, f"The model's class {prediction.label} has no runbook.", suggestion=guess)
    if prediction.confidence < policy.min_confidence:
        reason = f"No rule matched; the model's best guess is under {policy.min_confidence:.0%} sure."
        return Decision(None, ChosenBy.NONE, reason, suggestion=guess)
    reason = f"incident-text {prediction.model_version or ''} read the title as {prediction.label}".strip()
    return Decision(runbook, ChosenBy.MODEL, reason, confidence=prediction.confidence, suggestion=guess)


@dataclass(frozen=True)
class RunbookChooser:
    """Chooses and records an incident's runbook the first time its checklist is shown."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    library: Library
    classifier: TextClassifier
    policy: RunbooksConfig
    text_model: str

    async def choose(self, *, incident_id: int) -> IncidentRunbook:
        """The incident's runbook choice: the one already made, else one made and recorded now."""
        async with self.sessions() as session:
            existing = await checklists.current(session, incident_id=incident_id)
            if existing is not None:
                return existing
            incident = await get_incident(session, incident_id=incident_id)
            alerts = await alerts_of(session, incident_id=incident_id)
        decided = decide_by_rules(incident=incident, alerts=alerts, library=self.library)
        if decided is None:
            decided = await decide_by_model(incident=incident, alerts=alerts, library=self.library,
                                            classifier=self.classifier, text_model=self.text_model,
                                            policy=self.policy)
        async with self.sessions() as session, session.begin():
            return await checklists.choose_first(
                session, incident_id=incident_id, runbook=decided.runbook, chosen_by=decided.chosen_by,
                reason=decided.reason, confidence=decided.confidence, suggestion=decided.suggestion,
                now=self.clock())


def alert_facts(alert: Alert) -> AlertFacts:
    """What a stored alert says about itself, as the match rules read it."""
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
