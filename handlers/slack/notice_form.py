"""The notice for an approval audience (the customer-facing status page draft): the draft's
"Edit and send for approval…" button and `/incident notify <audience>` open a form with the
draft; submitting it proposes the `publish_notice` action, whose confirmation asks for a second
person's approval. Nothing leaves before that approval (`bot.core.actions.publish_notice`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.core import incidents, notices
from bot.core.actions.errors import ActionInputError
from bot.core.actions.kinds import ActionKind, Permission
from bot.core.actions.requests import ActionRequest
from bot.core.errors import InvalidInput
from bot.slack import action_views, notice_blocks
from bot.slack.blocks import message_view
from bot.slack.errors import SlackError
from bot.slack.ids import ActionId, BlockId, CallbackId, InputId
from handlers.services import Services
from handlers.slack import view_state
from handlers.slack.actions import request_from_action
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
from storage.models import Incident

log = logging.getLogger(__name__)


def audience_named(services: Services, name: str) -> str:
    """``name`` if it is an approval audience; otherwise a refusal that lists them."""
    chosen = name.strip().lower()
    audiences = services.config.communication.approval_audiences()
    if chosen not in audiences:
        known = ", ".join(sorted(audiences)) or "none is configured (communication.audiences with approval: true)"
        raise InvalidInput(f"No audience {chosen[:40]!r} takes approved notices (audiences: {known}).")
    return chosen


async def open_notice_form(services: Services, request: Request, *, audience: str,
                           incident_id: int | None = None) -> None:
    """Check who asks, then open the form with the draft as the incident stands now."""
    try:
        name = audience_named(services, audience)
        incident = await _incident(services, request, incident_id)
        await services.actions.check(actor=request.user_id, incident_id=incident.id,
                                     permission=Permission.PUBLISH_NOTICE)
        draft = await services.core.read(lambda s: notices.customer_draft(
            s, incident_id=incident.id, config=services.config, now=services.core.clock()))
    except Exception as exc:  # every failure becomes a message for the person
        await respond_later(services, request, Reply(text=message_for(exc, metrics=services.metrics)))
        return
    view = notice_blocks.notice_modal(incident_id=incident.id, number=incident.number, audience=name, draft=draft,
                                      channel_id=request.channel_id)
    try:
        await services.gateway.open_view(request.trigger_id or "", view)
    except SlackError as exc:
        log.warning("could not open the notice form: %s", exc)


async def _incident(services: Services, request: Request, incident_id: int | None) -> Incident:
    if incident_id is not None:
        return await services.core.read(lambda s: incidents.get_incident(s, incident_id=incident_id))
    channel_id = request.channel_id or ""
    return await services.core.read(lambda s: incidents.require_incident_for_channel(s, channel_id=channel_id))


async def on_edit_clicked(services: Services, request: Request, body: dict[str, Any]) -> None:
    value = str(((body.get("actions") or [{}])[0] or {}).get("value") or "")
    number, _, audience = value.partition(":")
    if not number.isdigit() or not audience or len(number) > 12:
        await respond_later(services, request, Reply(text="⚠️ This button carries no notice; it may be from "
                                                          "an older message. Use `/incident notify <audience>`."))
        return
    await open_notice_form(services, request, audience=audience, incident_id=int(number))


async def on_notice_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], services: Services) -> None:
    metadata = view_metadata(view)
    user = (body.get("user") or {}).get("id", "")
    incident_id, audience = metadata.get("incident_id"), metadata.get("audience")
    if not isinstance(incident_id, int) or not isinstance(audience, str):
        await ack(response_action="update", view=message_view("Not possible", "⚠️ This form lost its notice."))
        return
    text = view_state.typed(view, BlockId.NOTICE_TEXT, InputId.NOTICE, strip=False)
    request = ActionRequest(ActionKind.PUBLISH_NOTICE, parameter=audience, text=text)
    work = asyncio.ensure_future(services.actions.propose(actor=user, incident_id=incident_id, request=request))
    done, _ = await asyncio.wait({work}, timeout=ACK_BUDGET_SECONDS)
    if work not in done:
        await ack(response_action="update", view=message_view("Notice", "⏳ Checking the notice; the confirmation "
                                                                        "follows as a message."))
        try:
            action = await work
        except Exception as exc:  # every failure becomes a message for the person
            channel = metadata.get("channel_id")
            await respond_later(services, Request(user_id=user, channel_id=channel if isinstance(channel, str)
                                                  else None), Reply(text=message_for(exc, metrics=services.metrics)))
        else:
            log.info("notice action %s proposed after the ack", action.id)
        return
    try:
        action = work.result()
    except ActionInputError as exc:
        # The form stays open with the text in it, so nothing the person wrote is lost.
        await ack(response_action="errors", errors={BlockId.NOTICE_TEXT.value: str(exc)[:500]})
        return
    except Exception as exc:  # every failure becomes a message for the person
        await ack(response_action="update",
                  view=message_view("Not possible", message_for(exc, metrics=services.metrics)))
        return
    await ack(response_action="update", view=action_views.confirm_modal(action))


async def _on_edit(ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    services = services_of(context)
    services.metrics.slack_requests.labels(kind="action", name=ActionId.EDIT_NOTICE.value).inc()
    await on_edit_clicked(services, request_from_action(body), body)


async def _on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext) -> None:
    services = services_of(context)
    services.metrics.slack_requests.labels(kind="view", name=CallbackId.NOTICE_MODAL.value).inc()
    await on_notice_submitted(ack, body, view, services)


def register(app: AsyncApp) -> None:
    app.action(ActionId.EDIT_NOTICE.value)(_on_edit)
    app.view(CallbackId.NOTICE_MODAL.value)(_on_submit)
