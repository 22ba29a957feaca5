"""The follow-up list's Done and Reopen buttons: change the item, then redraw the list in place."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import followups, incidents
from bot.core.errors import InvalidInput
from bot.core.followups import FollowUpState
from bot.slack.errors import SlackError
from bot.slack.ids import ActionId
from bot.slack.postmortem_blocks import follow_up_list
from handlers.services import Services
from handlers.slack.actions import request_from_action
from handlers.slack.context import (
    Ack,
    Reply,
    Request,
    ack_after,
    respond_later,
    services_of,
)
from handlers.slack.errors import message_for
from storage.models import FollowUp, Incident

_STATES = {ActionId.FOLLOW_UP_DONE: FollowUpState.DONE, ActionId.FOLLOW_UP_REOPEN: FollowUpState.OPEN}


def _follow_up_id(body: dict[str, Any]) -> int:
    value = str(((body.get("actions") or [{}])[0]).get("value") or "")
    if not (value.isascii() and value.isdigit() and 0 < len(value) < 19):
        raise InvalidInput("This button has lost its follow-up; list them again with `/incident followup`.")
    return int(value)


async def _set(services: Services, request: Request, body: dict[str, Any], state: FollowUpState) -> None:
    actor = request.user_id
    try:
        follow_up_id = _follow_up_id(body)
        incident_id = await services.core.read(lambda s: followups.incident_of(s, follow_up_id=follow_up_id))

        async def apply(session: AsyncSession, now: datetime) -> tuple[Incident, list[FollowUp]]:
            await followups.set_state(session, follow_up_id=follow_up_id, state=state, actor=actor, now=now)
            incident = await incidents.get_incident(session, incident_id=incident_id)
            return incident, list(await followups.list_for(session, incident_id=incident_id))

        incident, items = await services.core.change(actor=actor, action=f"followup.{state.value}",
                                                     incident_id=incident_id, apply=apply,
                                                     detail={"follow_up_id": follow_up_id})
    except Exception as exc:  # every failure becomes a message for the person
        await respond_later(services, request, Reply(text=message_for(exc, metrics=services.metrics)))
        return
    blocks = follow_up_list(incident, items, today=services.core.clock().date())
    if request.response_url:
        try:
            await services.gateway.respond(request.response_url, text=f"Follow-ups of incident #{incident.number}",
                                           blocks=blocks, replace_original=True)
        except SlackError:
            return  # the change is made; the list shows it next time


def _listener(action_id: ActionId) -> Callable[[Ack, dict[str, Any], AsyncBoltContext], Coroutine[Any, Any, None]]:
    async def on_click(ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
        services = services_of(context)
        services.metrics.slack_requests.labels(kind="action", name=action_id.value).inc()
        await ack_after(ack, _set(services, request_from_action(body), body, _STATES[action_id]))

    return on_click


def register(app: AsyncApp) -> None:
    for action_id in _STATES:
        app.action(action_id.value)(_listener(action_id))
