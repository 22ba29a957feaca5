"""Submissions of the guarded-action modals.

Scale, Rollback and Flags propose the action and turn the modal into its confirmation (before
and after); a refusal shows on the field it concerns. Submitting the confirmation confirms.
Proposing reads live state, so it gets most of the ack budget; if a provider is slower than
that, the modal closes and the confirmation arrives as a message only the requester sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.core.actions.errors import ActionInputError
from bot.core.actions.kinds import ActionKind
from bot.core.actions.requests import ActionRequest
from bot.core.checklists import StepRef
from bot.core.errors import CoreError
from bot.slack import action_views
from bot.slack.action_blocks import decision_reply, proposal
from bot.slack.blocks import message_view
from bot.slack.ids import BlockId, CallbackId, InputId
from handlers.services import Services
from handlers.slack import view_state
from handlers.slack.context import (
    ACK_BUDGET_SECONDS,
    Ack,
    Reply,
    Request,
    respond_later,
    services_of,
    view_metadata,
)
from handlers.slack.errors import message_for
from storage.models import ResponseAction

Parse = Callable[[dict[str, Any], str], tuple[ActionRequest, BlockId]]



def parse_scale(view: dict[str, Any], service: str) -> tuple[ActionRequest, BlockId]:
    raw = view_state.typed(view, BlockId.SCALE_COUNT, InputId.COUNT)
    count = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 7 else None
    return ActionRequest(ActionKind.SCALE, service=service, count=count, value=raw), BlockId.SCALE_COUNT


def parse_rollback(view: dict[str, Any], service: str) -> tuple[ActionRequest, BlockId]:
    version = view_state.selected(view, BlockId.ROLLBACK_VERSION, InputId.VERSION)
    if version:
        model, _, wanted = version.partition("@")
        return ActionRequest(ActionKind.LOAD_MODEL, service=service, model=model, version=wanted), \
            BlockId.ROLLBACK_VERSION
    target = view_state.selected(view, BlockId.ROLLBACK_TARGET, InputId.TARGET)
    kind, _, name = target.partition(":")
    if kind == "model":
        return ActionRequest(ActionKind.ROLLBACK_MODEL, service=service, model=name), BlockId.ROLLBACK_TARGET
    if kind == "deploy":
        return ActionRequest(ActionKind.ROLLBACK_DEPLOY, service=service), BlockId.ROLLBACK_TARGET
    if kind == "config":
        return ActionRequest(ActionKind.ROLLBACK_CONFIG, service=service, parameter=name), BlockId.ROLLBACK_TARGET
    raise _FieldError(BlockId.ROLLBACK_TARGET, "Choose what to roll back, or a model version to serve.")


def parse_flag(view: dict[str, Any], service: str) -> tuple[ActionRequest, BlockId]:
    name = view_state.selected(view, BlockId.FLAG_NAME, InputId.FLAG)
    value = view_state.typed(view, BlockId.FLAG_VALUE, InputId.VALUE, strip=False)
    return ActionRequest(ActionKind.SET_FLAG, service=service, parameter=name, value=value), BlockId.FLAG_VALUE


class _FieldError(Exception):
    def __init__(self, block: BlockId, message: str) -> None:
        super().__init__(message)
        self.block = block


_PARSERS: dict[CallbackId, Parse] = {
    CallbackId.SCALE_MODAL: parse_scale,
    CallbackId.ROLLBACK_MODAL: parse_rollback,
    CallbackId.FLAGS_MODAL: parse_flag,
}



async def on_action_form(callback: CallbackId, ack: Ack, body: dict[str, Any], view: dict[str, Any],
                         services: Services) -> None:
    metadata = view_metadata(view)
    user = (body.get("user") or {}).get("id", "")
    request = Request(user_id=user, channel_id=metadata.get("channel_id"))
    incident_id = metadata.get("incident_id")
    try:
        action_request, block = _PARSERS[callback](view, str(metadata.get("service") or ""))
    except _FieldError as exc:
        await ack(response_action="errors", errors={exc.block.value: str(exc)})
        return
    if not isinstance(incident_id, int):
        await ack(response_action="update", view=message_view("Not possible", "⚠️ This form lost its incident."))
        return
    step = StepRef.from_metadata(metadata.get("runbook_step"))
    work = asyncio.ensure_future(services.actions.propose(actor=user, incident_id=incident_id,
                                                          request=action_request, runbook_step=step))
    done, _ = await asyncio.wait({work}, timeout=ACK_BUDGET_SECONDS)
    if work not in done:
        await ack()
        await _confirm_by_message(services, request, work)
        return
    try:
        action = work.result()
    except ActionInputError as exc:
        if block.value in view_state.values(view):
            await ack(response_action="errors", errors={block.value: str(exc)[:500]})
        else:
            await ack(response_action="update", view=message_view("Not possible", f"⚠️ {exc}"))
        return
    except Exception as exc:  # every failure becomes a message for the person
        await ack(response_action="update",
                  view=message_view("Not possible", message_for(exc, metrics=services.metrics)))
        return
    await ack(response_action="update", view=action_views.confirm_modal(action))


async def _confirm_by_message(services: Services, request: Request, work: asyncio.Future[ResponseAction]) -> None:
    try:
        action = await work
    except Exception as exc:  # every failure becomes a message for the person
        await respond_later(services, request, Reply(text=message_for(exc, metrics=services.metrics)))
        return
    text, blocks = proposal(action)
    await respond_later(services, request, Reply(text=text, blocks=blocks))


async def on_confirm_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], services: Services) -> None:
    action_id = view_metadata(view).get("action_id")
    user = (body.get("user") or {}).get("id", "")
    if not isinstance(action_id, int):
        await ack(response_action="update", view=message_view("Not possible", "⚠️ This form lost its action."))
        return
    try:
        action = await services.actions.confirm(actor=user, action_id=action_id)
    except CoreError as exc:
        await ack(response_action="update", view=message_view("Not done", f"⚠️ {exc}"))
        return
    except Exception as exc:  # every failure becomes a message for the person
        await ack(response_action="update", view=message_view("Not done", message_for(exc, metrics=services.metrics)))
        return
    await ack(response_action="update", view=message_view("Confirmed", decision_reply(action)))


def _form_listener(callback: CallbackId) -> Callable[..., Any]:
    async def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext) -> None:
        services = services_of(context)
        services.metrics.slack_requests.labels(kind="view", name=callback.value).inc()
        await on_action_form(callback, ack, body, view, services)

    return on_submit


def register(app: AsyncApp) -> None:
    for callback in _PARSERS:
        app.view(callback.value)(_form_listener(callback))

    async def on_confirm(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext) -> None:
        services = services_of(context)
        services.metrics.slack_requests.labels(kind="view", name=CallbackId.CONFIRM_MODAL.value).inc()
        await on_confirm_submitted(ack, body, view, services)

    app.view(CallbackId.CONFIRM_MODAL.value)(on_confirm)
