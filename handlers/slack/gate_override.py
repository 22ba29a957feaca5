"""Approve on a model version under the accuracy gate: a form for the approver's reason.

The Approve button of such an action opens the form instead of approving; submitting it calls
``ActionPipeline.approve(..., reason=...)``, which checks everything again (the action may have
been decided, denied or expired meanwhile; the submitter must be an approver and not the
requester) and puts the reason in the audit row. A second submission finds the action decided
and only says so. Every other approval stays one click.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.core.actions import store
from bot.core.actions.gate_override import clean_reason, gate_to_override
from bot.core.actions.kinds import ActionState
from bot.core.actions.plans import ModelGate
from bot.core.errors import CoreError, InvalidInput
from bot.slack.action_blocks import decision_reply
from bot.slack.blocks import message_view
from bot.slack.errors import SlackError
from bot.slack.ids import BlockId, CallbackId, InputId
from bot.slack.override_views import override_modal
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

log = logging.getLogger(__name__)


async def reason_needed(services: Services, *, actor: str, action_id: int) -> tuple[ResponseAction, ModelGate] | None:
    """The action and the gate its approval would override, when ``actor`` may approve it.

    None sends the click down the ordinary path: an approval without a gate, or one the
    pipeline refuses anyway (the requester's own, someone without the approver role), where the
    refusal is audited and said at once rather than after a form.
    """
    action = await services.core.read(lambda s: store.get_action(s, action_id=action_id))
    gate = gate_to_override(action)
    if gate is None or actor == action.requested_by:
        return None
    if not (await services.actions.authorizer.may_approve(actor)).allowed:
        return None
    return action, gate


async def open_reason_form(services: Services, request: Request, action: ResponseAction, gate: ModelGate) -> None:
    try:
        await services.gateway.open_view(request.trigger_id or "",
                                         override_modal(action, gate, channel_id=request.channel_id))
    except SlackError as exc:
        log.warning("could not open the gate override form of action %s: %s", action.id, exc)
        await respond_later(services, request, Reply(text=f"⚠️ Slack would not open the form ({exc}). Try again."))



def _reason_error(message: str) -> dict[str, Any]:
    return {"response_action": "errors", "errors": {BlockId.OVERRIDE_REASON.value: message[:500]}}


async def on_reason_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], services: Services) -> None:
    metadata = view_metadata(view)
    action_id = metadata.get("action_id")
    user = str((body.get("user") or {}).get("id") or "")
    channel = metadata.get("channel_id")
    request = Request(user_id=user, channel_id=channel if isinstance(channel, str) else None)
    try:
        reason = clean_reason(view_state.typed(view, BlockId.OVERRIDE_REASON, InputId.REASON))
    except InvalidInput as exc:
        await ack(**_reason_error(str(exc)))
        return
    if not isinstance(action_id, int) or isinstance(action_id, bool):
        await ack(**_reason_error("This form lost its action; close it and press Approve again."))
        return
    work = asyncio.ensure_future(services.actions.approve(actor=user, action_id=action_id, reason=reason))
    done, _ = await asyncio.wait({work}, timeout=ACK_BUDGET_SECONDS)
    if work not in done:
        # Slow (the role lookup, the database): close the form and answer in the channel.
        await ack()
        await respond_later(services, request, Reply(text=await _outcome(services, work)))
        return
    try:
        action = work.result()
    except CoreError as exc:
        await ack(response_action="update", view=message_view("Not approved", f"⚠️ {exc}"))
        return
    except Exception as exc:  # every failure becomes a message for the person
        await ack(response_action="update",
                  view=message_view("Not approved", message_for(exc, metrics=services.metrics)))
        return
    # A second submission (or someone else's decision first) finds the action moved on.
    approved_now = action.decided_by == user and action.state == ActionState.RUNNING.value
    await ack(response_action="update", view=message_view("Approved" if approved_now else "Approval",
                                                           decision_reply(action)))


async def _outcome(services: Services, work: asyncio.Future[ResponseAction]) -> str:
    try:
        return decision_reply(await work)
    except Exception as exc:  # every failure becomes a message for the person
        return message_for(exc, metrics=services.metrics)


def register(app: AsyncApp) -> None:
    async def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext) -> None:
        services = services_of(context)
        services.metrics.slack_requests.labels(kind="view", name=CallbackId.GATE_OVERRIDE_MODAL.value).inc()
        await on_reason_submitted(ack, body, view, services)

    app.view(CallbackId.GATE_OVERRIDE_MODAL.value)(on_submit)
