"""The headline's Investigate menu, and the runbook steps bound to an investigation.

The listener acks at once; the investigation runs in the background (handlers/jobs/investigate.py)
and posts "looking…" and then its finding in the channel, or, for a step, in the checklist's thread.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.core.checklists import StepRef
from bot.core.errors import InvalidInput
from bot.slack.ids import ActionId
from handlers.payloads import object_or_empty
from handlers.services import Services
from handlers.slack.action_buttons import incident_here, tell
from handlers.slack.actions import request_from_action
from handlers.slack.context import Ack, Reply, Request, respond_later, services_of
from runbooks.investigations.base import InvestigationKind
from storage.models import Incident


def chosen_kind(body: dict[str, Any]) -> InvestigationKind:
    actions = body.get("actions")
    clicked = object_or_empty(actions[0]) if isinstance(actions, list) and actions else {}
    value = str(object_or_empty(clicked.get("selected_option")).get("value") or clicked.get("value") or "")
    try:
        return InvestigationKind(value)
    except ValueError:
        raise InvalidInput("That investigation is not one the bot knows; the headline's menu lists them.") from None


def start_investigation(services: Services, incident: Incident, kind: InvestigationKind, *, actor: str,
                        thread_ts: str | None = None, runbook_step: StepRef | None = None,
                        correlation_id: str | None = None) -> Reply | None:
    """Start it; the word back only when it did not start (it posts its own progress)."""
    if services.investigator.start(incident, kind, actor=actor, thread_ts=thread_ts, runbook_step=runbook_step,
                                   correlation_id=correlation_id):
        return None
    where = "the checklist's thread" if thread_ts else "the channel"
    return Reply(text=f"🔎 The {kind.value} investigation of incident #{incident.number} is already running; "
                      f"its finding will show in {where}.")


async def on_investigate(services: Services, request: Request, body: dict[str, Any]) -> None:
    try:
        kind = chosen_kind(body)
        incident = await incident_here(services, request)
        reply = start_investigation(services, incident, kind, actor=request.user_id)
    except Exception as exc:  # every failure becomes a message for the person
        await tell(services, request, exc)
        return
    if reply is not None:
        await respond_later(services, request, reply)


async def _on_select(ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    services = services_of(context)
    services.metrics.slack_requests.labels(kind="action", name=ActionId.INVESTIGATE.value).inc()
    await on_investigate(services, request_from_action(body), body)


def register(app: AsyncApp) -> None:
    app.action(ActionId.INVESTIGATE.value)(_on_select)


async def run_step_investigation(services: Services, request: Request, incident: Incident, kind: InvestigationKind,
                                 *, step: StepRef, thread_ts: str | None = None) -> None:
    """A checklist step's button: run its investigation, posting in ``thread_ts`` (the checklist's
    thread); the step ticks once it has read something."""
    try:
        reply = start_investigation(services, incident, kind, actor=request.user_id, thread_ts=thread_ts,
                                    runbook_step=step)
    except Exception as exc:  # every failure becomes a message for the person
        await tell(services, request, exc)
        return
    if reply is not None:
        await respond_later(services, request, reply)
