"""The status-update modal: opened from a reminder's "Post update" button or from `/incident
status` without text, prefilled with a draft; submitting it publishes the update.

The draft comes from the database in milliseconds, so the modal opens with it directly (a
trigger id lasts 3 s). Submitting applies the update before the ack when that is quick, so a
refusal shows on the text field and the person keeps what they wrote.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import incidents, notices
from bot.core.errors import InvalidInput, InvalidTransition
from bot.core.lifecycle import Status
from bot.core.status_templates import (
    render_status_update,
    unfilled_prompts,
    update_context,
)
from bot.core.text import escape_mrkdwn
from bot.slack.errors import SlackError
from bot.slack.ids import ActionId, BlockId, CallbackId, InputId
from bot.slack.update_views import status_update_modal
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

ERROR_TEXT_MAX = 500


# --- opening -----------------------------------------------------------------------------------


async def prepare_modal(services: Services, request: Request, *, incident_id: int | None = None) -> dict[str, Any]:
    """The modal for ``incident_id``, else for the incident whose channel the request came from."""
    now = services.core.clock()

    async def build(session: AsyncSession) -> dict[str, Any]:
        incident = await _incident(session, request, incident_id=incident_id)
        if not Status(incident.status).is_open:
            raise InvalidTransition(f"Incident #{incident.number} is {incident.status}; "
                                    "a status update is only for open incidents.")
        context = await update_context(session, incident_id=incident.id, config=services.config, now=now)
        return status_update_modal(incident_id=incident.id, number=incident.number,
                                   draft=render_status_update(context),
                                   channel_id=request.channel_id or incident.channel_id)

    return await services.core.read(build)


async def _incident(session: AsyncSession, request: Request, *, incident_id: int | None) -> Incident:
    if incident_id is not None:
        return await incidents.get_incident(session, incident_id=incident_id)
    if not request.channel_id:
        raise InvalidInput("Run this in an incident channel.")
    return await incidents.require_incident_for_channel(session, channel_id=request.channel_id)


async def show_modal(services: Services, request: Request, view: dict[str, Any]) -> None:
    try:
        await services.gateway.open_view(request.trigger_id or "", view)
    except SlackError as exc:
        log.warning("could not open the status update modal: %s", exc)
        await respond_later(services, request, Reply(
            text=f"⚠️ Slack would not open the form ({exc}). Use `/incident status <text>` in the incident channel."))


async def open_update_modal(services: Services, request: Request, *, incident_id: int | None = None) -> None:
    try:
        view = await prepare_modal(services, request, incident_id=incident_id)
    except Exception as exc:  # every failure becomes a message for the person
        await respond_later(services, request, Reply(text=message_for(exc, metrics=services.metrics)))
        return
    await show_modal(services, request, view)


def _button_incident_id(body: dict[str, Any]) -> int | None:
    value = str(((body.get("actions") or [{}])[0]).get("value") or "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


async def on_post_update_clicked(ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    services = services_of(context)
    services.metrics.slack_requests.labels(kind="action", name=ActionId.POST_UPDATE.value).inc()
    await open_update_modal(services, request_from_action(body), incident_id=_button_incident_id(body))


# --- submitting --------------------------------------------------------------------------------



def submitted_text(view: dict[str, Any]) -> str:
    return view_state.typed(view, BlockId.UPDATE_TEXT, InputId.UPDATE)


def problem_with(text: str) -> str | None:
    """Why this text can't be posted as it is, or None."""
    if not text:
        return "Write the update: what is known, what is being done, what is next."
    left = unfilled_prompts(text)
    if left:
        return f"Replace these prompts with what you know, or delete them: {', '.join(left)}"[:ERROR_TEXT_MAX]
    return None


async def on_update_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], services: Services) -> None:
    metadata = view_metadata(view)
    user = (body.get("user") or {}).get("id", "")
    incident_id = metadata.get("incident_id")
    channel = metadata.get("channel_id")
    text = submitted_text(view)
    problem = problem_with(text)
    if problem is not None or not isinstance(incident_id, int):
        problem = problem or (
            "This form lost its incident. Close it and use `/incident status <text>` in the incident channel.")
        await ack(response_action="errors", errors={BlockId.UPDATE_TEXT.value: problem})
        return
    work = asyncio.ensure_future(services.core.change(
        actor=user, action="incident.status_update", incident_id=incident_id, detail={"via": "modal"},
        apply=lambda session, now: notices.post_update(
            session, incident_id=incident_id, text=text, actor=user, now=now, config=services.config),
    ))
    done, _ = await asyncio.wait({work}, timeout=ACK_BUDGET_SECONDS)
    if work in done:
        error = work.exception()
        if error is None:
            await ack()
        else:
            # The modal stays open with the text in it, so nothing the person wrote is lost.
            await ack(response_action="errors",
                      errors={BlockId.UPDATE_TEXT.value: message_for(error, metrics=services.metrics)[:ERROR_TEXT_MAX]})
        return
    await ack()
    try:
        await work
    except Exception as exc:  # every failure becomes a message for the person
        request = Request(user_id=user, channel_id=channel if isinstance(channel, str) else None)
        await respond_later(services, request, Reply(
            text=f"{message_for(exc, metrics=services.metrics)}\nYour update was not posted. What you wrote:\n"
                 f"```{escape_mrkdwn(text[:2500])}```"))


async def on_update_modal(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext) -> None:
    services = services_of(context)
    services.metrics.slack_requests.labels(kind="view", name=CallbackId.STATUS_UPDATE_MODAL.value).inc()
    await on_update_submitted(ack, body, view, services)


def register(app: AsyncApp) -> None:
    app.action(ActionId.POST_UPDATE.value)(on_post_update_clicked)
    app.view(CallbackId.STATUS_UPDATE_MODAL.value)(on_update_modal)
