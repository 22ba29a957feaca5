"""Buttons of guarded actions: the headline's Scale, Rollback, Flags and Disable auto-apply, the
Emergency stop in the Scale modal, and Confirm, Cancel, Approve and Deny on action messages
(Approve on a version under the accuracy gate opens a form for the reason: gate_override.py).
Also the headline's Diagnose, which starts the diagnostic suite.

Each acks at once. Modals open with a "reading the current state" view (a trigger id lasts
3 s) and are filled in when the providers have answered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.core import incidents
from bot.core.actions.errors import ActionInputError
from bot.core.actions.kinds import Permission
from bot.core.actions.requests import disable_auto_apply, stop
from bot.core.actions.snapshot import ServiceSnapshot, read_snapshot
from bot.core.checklists import StepRef
from bot.slack import action_views
from bot.slack.action_blocks import decision_reply
from bot.slack.errors import SlackError
from bot.slack.ids import ActionId, CallbackId
from handlers.services import Services
from handlers.slack import gate_override
from handlers.slack.actions import request_from_action
from handlers.slack.commands.diagnose import start_diagnostics
from handlers.slack.context import Ack, Reply, Request, respond_later, services_of
from handlers.slack.errors import message_for
from storage.models import Incident

log = logging.getLogger(__name__)

ModalBuilder = Callable[..., dict[str, Any]]

_MODALS: dict[ActionId, tuple[CallbackId, str, Permission, ModalBuilder]] = {
    ActionId.OPEN_SCALE: (CallbackId.SCALE_MODAL, "Scale", Permission.SCALE, action_views.scale_modal),
    ActionId.OPEN_ROLLBACK: (CallbackId.ROLLBACK_MODAL, "Roll back", Permission.ROLLBACK,
                             action_views.rollback_modal),
    ActionId.OPEN_FLAGS: (CallbackId.FLAGS_MODAL, "Flags", Permission.FLAG, action_views.flags_modal),
}


def _action_value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def _action_id(body: dict[str, Any]) -> int:
    value = _action_value(body)
    if not value.isdigit():
        raise ActionInputError("This button carries no action; it may come from an older message.")
    return int(value)


async def incident_here(services: Services, request: Request) -> Incident:
    channel_id = request.channel_id or ""
    return await services.core.read(lambda s: incidents.require_incident_for_channel(s, channel_id=channel_id))


def service_for(services: Services, incident: Incident) -> str:
    """The incident's own service, or the only configured one."""
    if incident.service:
        return incident.service
    names = list(services.config.services)
    if len(names) == 1:
        return names[0]
    raise ActionInputError("This incident has no service. Use the subcommands, which name one: "
                           "`/incident scale <service> <count>`, `/incident rollback …`, `/incident flag …`.")


async def tell(services: Services, request: Request, exc: BaseException) -> None:
    await respond_later(services, request, Reply(text=message_for(exc, metrics=services.metrics)))


# --- headline buttons that open modals -----------------------------------------------------


Prefill = Callable[[ServiceSnapshot], dict[str, Any]]


async def open_action_modal(action_id: ActionId, services: Services, request: Request, *,
                            prefill: Prefill | None = None, runbook_step: StepRef | None = None) -> None:
    """Open Scale, Rollback or Flags; a runbook step's button passes what to fill in and itself."""
    callback, title, permission, build = _MODALS[action_id]
    try:
        incident = await incident_here(services, request)
        service = service_for(services, incident)
        await services.actions.check(actor=request.user_id, incident_id=incident.id, permission=permission)
    except Exception as exc:  # every failure becomes a message for the person
        await tell(services, request, exc)
        return
    metadata: dict[str, Any] = {"incident_id": incident.id, "service": service, "channel_id": request.channel_id}
    if runbook_step is not None:
        metadata["runbook_step"] = runbook_step.as_metadata()
    try:
        view_id = await services.gateway.open_view(request.trigger_id or "",
                                                   action_views.loading_modal(callback, title, metadata=metadata))
    except SlackError as exc:
        log.warning("could not open the %s modal: %s", title, exc)
        return
    snapshot = await read_snapshot(config=services.config, providers=services.action_providers, service=service)
    extra = prefill(snapshot) if prefill is not None else {}
    try:
        await services.gateway.update_view(view_id, build(snapshot, metadata=metadata, **extra))
    except SlackError as exc:
        log.warning("could not fill the %s modal: %s", title, exc)


async def open_disable_auto_apply(services: Services, request: Request) -> None:
    """One click to the confirmation: the seeds' first move when a model regresses."""
    await propose_into_modal(services, request, lambda incident: disable_auto_apply(service_for(services, incident)))


async def propose_into_modal(services: Services, request: Request, make: Callable[[Incident], Any],
                             view_id: str | None = None, runbook_step: StepRef | None = None) -> None:
    """Propose at once and show the confirmation: for actions that have nothing to choose."""
    try:
        incident = await incident_here(services, request)
        action = await services.actions.propose(actor=request.user_id, incident_id=incident.id,
                                                request=make(incident), runbook_step=runbook_step)
    except Exception as exc:  # every failure becomes a message for the person
        await tell(services, request, exc)
        return
    view = action_views.confirm_modal(action)
    try:
        if view_id:
            await services.gateway.update_view(view_id, view)
        else:
            await services.gateway.open_view(request.trigger_id or "", view)
    except SlackError as exc:
        log.warning("could not show the confirmation of action %s: %s", action.id, exc)


async def on_emergency_stop(services: Services, request: Request, body: dict[str, Any]) -> None:
    """From inside the Scale modal: replace it with the stop's confirmation."""
    view = body.get("view") or {}
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    service = str(metadata.get("service") or _action_value(body))
    channel = metadata.get("channel_id") or request.channel_id
    scoped = Request(user_id=request.user_id, channel_id=channel, trigger_id=request.trigger_id)
    await propose_into_modal(services, scoped, lambda _incident: stop(service), view_id=view.get("id"))


async def on_diagnose(services: Services, request: Request) -> None:
    try:
        incident = await incident_here(services, request)
        reply = start_diagnostics(services, incident, actor=request.user_id)
    except Exception as exc:  # every failure becomes a message for the person
        await tell(services, request, exc)
        return
    await respond_later(services, request, reply)


# --- buttons on proposals and action messages ------------------------------------------------


async def on_decision(action_id: ActionId, services: Services, request: Request, body: dict[str, Any]) -> None:
    pipeline = services.actions
    steps = {ActionId.CONFIRM: pipeline.confirm, ActionId.CANCEL: pipeline.cancel,
             ActionId.APPROVE: pipeline.approve, ActionId.DENY: pipeline.deny}
    try:
        action = await steps[action_id](actor=request.user_id, action_id=_action_id(body))
    except Exception as exc:  # every failure becomes a message for the person
        await tell(services, request, exc)
        return
    if action_id in (ActionId.CONFIRM, ActionId.CANCEL) and request.response_url:
        # The proposal was only ever shown to the requester; replace it with what happened.
        try:
            await services.gateway.respond(request.response_url, text=decision_reply(action), replace_original=True)
        except SlackError as exc:
            log.warning("could not answer %s: %s", request.user_id, exc)
    elif action.decided_by != request.user_id:
        # A click on an approval request that someone else already decided: say what became of it.
        await respond_later(services, request, Reply(text=decision_reply(action)))


async def on_approve(services: Services, request: Request, body: dict[str, Any]) -> None:
    """One click approves; a version under the accuracy gate first asks the approver why."""
    try:
        needed = await gate_override.reason_needed(services, actor=request.user_id, action_id=_action_id(body))
    except Exception as exc:  # every failure becomes a message for the person
        await tell(services, request, exc)
        return
    if needed is None:
        await on_decision(ActionId.APPROVE, services, request, body)
    else:
        await gate_override.open_reason_form(services, request, *needed)


# --- registration ----------------------------------------------------------------------------


def _listener(action_id: ActionId) -> Callable[..., Awaitable[None]]:
    async def on_click(ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        services = services_of(context)
        services.metrics.slack_requests.labels(kind="action", name=action_id.value).inc()
        request = request_from_action(body)
        if action_id in _MODALS:
            await open_action_modal(action_id, services, request)
        elif action_id == ActionId.DISABLE_AUTO_APPLY:
            await open_disable_auto_apply(services, request)
        elif action_id == ActionId.EMERGENCY_STOP:
            await on_emergency_stop(services, request, body)
        elif action_id == ActionId.DIAGNOSE:
            await on_diagnose(services, request)
        elif action_id == ActionId.APPROVE:
            await on_approve(services, request, body)
        else:
            await on_decision(action_id, services, request, body)

    return on_click


def register(app: AsyncApp) -> None:
    for action_id in (*_MODALS, ActionId.DISABLE_AUTO_APPLY, ActionId.EMERGENCY_STOP, ActionId.DIAGNOSE,
                      ActionId.CONFIRM, ActionId.CANCEL, ActionId.APPROVE, ActionId.DENY):
        app.action(action_id.value)(_listener(action_id))
