"""The checklist's controls: a step's action button, a manual step's checkbox, the runbook picker.

An action step's button opens that action's form prefilled from the step (Scale with the
step's count, or the current count plus its delta; Roll back with its target chosen; Flags with
its flag and value), or, for the emergency stop and redeploy, their confirmation. The action
still goes through the whole guarded pipeline, and the step ticks when it succeeds. A check's
button runs Diagnose with the step's checks and ticks the step when they have run. An
investigation's button runs it read-only and posts its finding in the checklist's thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.core import checklists
from bot.core.actions.kinds import ActionKind
from bot.core.actions.requests import ActionRequest, stop
from bot.core.actions.snapshot import ServiceSnapshot
from bot.core.checklists import StepRef
from bot.core.errors import InvalidInput
from bot.slack.ids import ActionId, BlockId
from handlers.payloads import object_or_empty
from handlers.services import Services
from handlers.slack.action_buttons import (
    incident_here,
    open_action_modal,
    propose_into_modal,
    service_for,
    tell,
)
from handlers.slack.actions import request_from_action
from handlers.slack.commands.diagnose import start_diagnostics
from handlers.slack.commands.evidence import preserve
from handlers.slack.context import Ack, Reply, Request, respond_later, services_of
from handlers.slack.investigate_buttons import run_step_investigation
from runbooks.engine.schema import Runbook, Step
from runbooks.investigations.base import InvestigationKind
from storage.models import Incident, IncidentRunbook

STEP_BLOCK_PREFIX = f"{BlockId.RUNBOOK_STEP.value}-"


def _first_action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions")
    return object_or_empty(actions[0]) if isinstance(actions, list) and actions else {}


@dataclass(frozen=True)
class _StepHere:
    incident: Incident
    runbook: Runbook
    step: Step
    checklist: IncidentRunbook  # the runbook choice, with where its checklist message is


async def _step_here(services: Services, request: Request, step_id: str) -> _StepHere:
    """The incident of this channel, its runbook, and the step; refused if the checklist is stale."""
    incident = await incident_here(services, request)
    choice = await services.core.read(lambda s: checklists.current(s, incident_id=incident.id))
    runbook = services.runbooks.get(choice.runbook) if choice is not None and choice.runbook else None
    step = next((s for _, s in runbook.steps() if s.id == step_id), None) if runbook is not None else None
    if choice is None or runbook is None or step is None:
        raise InvalidInput("That step is not in this incident's runbook any more; the pinned checklist is current.")
    return _StepHere(incident, runbook, step, choice)


def _checklist_thread(here: _StepHere, body: dict[str, Any]) -> str | None:
    """Where a step's own run posts: the thread of the pinned checklist, so a reader finds each
    step's findings (each names its step) under the message the step's button is on.

    The checklist's ts is kept with the runbook choice (``checklists.record_message``), so every
    replica and every later click finds the same thread; the clicked message stands in only
    before that is saved. None (the channel) when neither is in the incident's channel.
    """
    channel = here.incident.channel_id
    if here.checklist.message_ts and here.checklist.channel_id == channel:
        return here.checklist.message_ts
    container = object_or_empty(body.get("container"))
    clicked = container.get("message_ts")
    if isinstance(clicked, str) and clicked and container.get("channel_id") == channel:
        return clicked
    return None


# --- an action or a check ---------------------------------------------------------------------


def _scale_prefill(step: Step) -> Callable[[ServiceSnapshot], dict[str, Any]]:
    scale = step.action.scale if step.action else None

    def prefill(snapshot: ServiceSnapshot) -> dict[str, Any]:
        if scale is None:
            return {}
        if scale.count is not None:
            return {"count": scale.count, "note": f"Prefilled from the runbook step “{step.title}”."}
        current = snapshot.ecs_state.desired if snapshot.ecs_state is not None else None
        if current is None:
            return {"note": f"The runbook step asks for {scale.delta:+d} tasks, but the current count "
                            "could not be read; enter the new count."}
        return {"count": current + (scale.delta or 0),
                "note": f"Prefilled from the runbook step “{step.title}”: {current} {scale.delta:+d}."}

    return prefill


def _rollback_prefill(step: Step, service_models: tuple[str, ...],
                      flags_prefix: str = "") -> Callable[[ServiceSnapshot], dict[str, Any]]:
    """A config target may be the parameter's name or its full path (the seeds write
    ``/multimodal/prod/max_batch_size``); the form lists names, so the service's prefix goes."""
    rollback = step.action.rollback if step.action else None

    def prefill(snapshot: ServiceSnapshot) -> dict[str, Any]:
        if rollback is None:
            return {}
        note = f"Prefilled from the runbook step “{step.title}”."
        if rollback.kind == "deploy":
            return {"preselect": "deploy", "note": note}
        if rollback.kind == "config":
            target = rollback.target.removeprefix(flags_prefix) if rollback.target and flags_prefix else rollback.target
            return {"preselect": f"config:{target}" if target else None, "note": note}
        models = [m.name for m in snapshot.models] or list(service_models)
        model = rollback.target or (models[0] if models else None)
        return {"preselect": f"model:{model}" if model else None, "note": note}

    return prefill


async def on_step_button(services: Services, request: Request, body: dict[str, Any]) -> None:
    step_id = str(_first_action(body).get("value") or "")
    try:
        here = await _step_here(services, request, step_id)
    except Exception as exc:  # every failure becomes a message for the person
        await tell(services, request, exc)
        return
    incident, runbook, step = here.incident, here.runbook, here.step
    ref = StepRef(runbook=runbook.name, step_id=step.id, title=step.title)
    action = step.action
    if action is None:
        return
    match action.kind:
        case "diagnose":
            only = tuple(action.diagnose.steps) if action.diagnose else ()
            reply = start_diagnostics(services, incident, actor=request.user_id, only=only, runbook_step=ref,
                                      thread_ts=_checklist_thread(here, body))
            await respond_later(services, request, reply)
        case "scale":
            await open_action_modal(ActionId.OPEN_SCALE, services, request, prefill=_scale_prefill(step),
                                    runbook_step=ref)
        case "rollback":
            service = services.config.services.get(incident.service or "")
            models = tuple(service.models) if service is not None else ()
            prefix = service.flags.prefix if service is not None and service.flags else ""
            await open_action_modal(ActionId.OPEN_ROLLBACK, services, request,
                                    prefill=_rollback_prefill(step, models, prefix), runbook_step=ref)
        case "flag":
            flag = action.flag
            note = f"Prefilled from the runbook step “{step.title}”."
            await open_action_modal(ActionId.OPEN_FLAGS, services, request, runbook_step=ref,
                                    prefill=lambda _snapshot: {"preselect": flag.name if flag else None,
                                                               "value": flag.value if flag else None, "note": note})
        case "stop":
            await propose_into_modal(services, request, lambda inc: stop(service_for(services, inc)),
                                     runbook_step=ref)
        case "redeploy":
            await propose_into_modal(services, request,
                                     lambda inc: ActionRequest(ActionKind.REDEPLOY, service=service_for(services, inc)),
                                     runbook_step=ref)
        case "failover" | "restore_provider":
            # No service named: the planner takes the incident's, or the only one with providers.
            kind = ActionKind.FAILOVER if action.kind == "failover" else ActionKind.RESTORE_PROVIDER
            await propose_into_modal(services, request, lambda _inc: ActionRequest(kind, service=""),
                                     runbook_step=ref)
        case "evidence":
            await _preserve_evidence(services, request, incident, step=ref)
        case "investigate":
            await run_step_investigation(services, request, incident, InvestigationKind(action.investigate or ""),
                                         step=ref, thread_ts=_checklist_thread(here, body))


async def _preserve_evidence(services: Services, request: Request, incident: Incident, *, step: StepRef) -> None:
    """The evidence step: the snapshot, then the step ticks (a refusal or failure leaves it open)."""
    try:
        reply = await preserve(services, actor=request.user_id, incident_id=incident.id)
        if services.evidence is not None:
            await checklists.mark_step(services.core, incident_id=incident.id, actor=request.user_id, step=step,
                                       via="evidence")
    except Exception as exc:  # every failure becomes a message for the person
        await tell(services, request, exc)
        return
    await respond_later(services, request, reply)


# --- a manual step's checkbox ------------------------------------------------------------------


async def on_step_checkbox(services: Services, request: Request, body: dict[str, Any]) -> None:
    clicked = _first_action(body)
    step_id = str(clicked.get("block_id") or "").removeprefix(STEP_BLOCK_PREFIX)
    selected = clicked.get("selected_options")
    done = isinstance(selected, list) and bool(selected)
    actor = request.user_id
    try:
        here = await _step_here(services, request, step_id)
        incident, runbook, step = here.incident, here.runbook, here.step
        if step.action is not None:
            raise InvalidInput("That step is done by its button, not by hand.")
        await checklists.mark_step(services.core, incident_id=incident.id, actor=actor, done=done,
                                   step=StepRef(runbook=runbook.name, step_id=step.id, title=step.title))
    except Exception as exc:  # every failure becomes a message for the person
        await tell(services, request, exc)


# --- picking a runbook ---------------------------------------------------------------------------


async def on_pick(services: Services, request: Request, body: dict[str, Any]) -> None:
    name = str(object_or_empty(_first_action(body).get("selected_option")).get("value") or "")
    actor = request.user_id
    try:
        if services.runbooks.get(name) is None:
            raise InvalidInput("That runbook is not in the library any more; `/incident runbook` lists them.")
        incident = await incident_here(services, request)
        await services.core.change(
            actor=actor, action="runbook.choose", incident_id=incident.id, detail={"runbook": name, "via": "picker"},
            apply=lambda session, now: checklists.choose_by_person(
                session, incident_id=incident.id, runbook=name, actor=actor, now=now))
    except Exception as exc:  # every failure becomes a message for the person
        await tell(services, request, exc)
        return
    await respond_later(services, request, Reply(text=f"📘 Following the {services.runbooks.runbooks[name].title} "
                                                      "runbook; the checklist is pinned above."))


# --- registration ----------------------------------------------------------------------------

_HANDLERS: dict[ActionId, Callable[[Services, Request, dict[str, Any]], Awaitable[None]]] = {
    ActionId.RUNBOOK_STEP: on_step_button,
    ActionId.RUNBOOK_STEP_CHECK: on_step_checkbox,
    ActionId.RUNBOOK_PICK: on_pick,
}


def _listener(action_id: ActionId) -> Callable[..., Awaitable[None]]:
    async def on_action(ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        services = services_of(context)
        services.metrics.slack_requests.labels(kind="action", name=action_id.value).inc()
        await _HANDLERS[action_id](services, request_from_action(body), body)

    return on_action


def register(app: AsyncApp) -> None:
    for action_id in _HANDLERS:
        app.action(action_id.value)(_listener(action_id))
