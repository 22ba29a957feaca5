"""Buttons on the headline: Acknowledge and Resolve."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.core import incidents
from bot.slack.ids import ActionId
from handlers.services import Services
from handlers.slack.context import (
    Ack,
    Reply,
    Request,
    ack_after,
    respond_later,
    services_of,
)
from handlers.slack.errors import message_for
from storage.models import Incident

Change = Callable[..., Awaitable[Incident]]

_BUTTONS: dict[ActionId, tuple[str, Change]] = {
    ActionId.ACKNOWLEDGE: ("incident.acknowledge", incidents.acknowledge),
    ActionId.RESOLVE: ("incident.resolve", incidents.resolve),
}


def request_from_action(body: dict[str, Any]) -> Request:
    return Request(
        user_id=(body.get("user") or {}).get("id", ""),
        channel_id=(body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id"),
        response_url=body.get("response_url"),
        trigger_id=body.get("trigger_id"),
        team_id=(body.get("team") or {}).get("id"),
    )


async def run_button(action_id: ActionId, services: Services, request: Request) -> Reply | None:
    """The change; the word back if it was refused or failed, for the caller to send after the ack.

    On success the headline itself changes, which is the answer people look for. The refusal is
    not sent here because that is a call to Slack, and under load Slack is slow: the ack must
    wait for the database change only.
    """
    action, change = _BUTTONS[action_id]
    actor = request.user_id
    try:
        channel_id = request.channel_id or ""
        incident = await services.core.read(
            lambda session: incidents.require_incident_for_channel(session, channel_id=channel_id)
        )
        await services.core.change(
            actor=actor, action=action, incident_id=incident.id, detail={"via": "button"},
            apply=lambda session, now: change(session, incident_id=incident.id, actor=actor, now=now),
        )
    except Exception as exc:  # every failure becomes a message for the person
        return Reply(text=message_for(exc, metrics=services.metrics))
    return None


def _listener(action_id: ActionId) -> Callable[..., Awaitable[None]]:
    async def on_click(ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
        services = services_of(context)
        services.metrics.slack_requests.labels(kind="action", name=action_id.value).inc()
        # Applying the change before the ack (it takes milliseconds) keeps one person's clicks
        # and commands in the order they made them; a slow database still gets its ack in time.
        request = request_from_action(body)
        refusal = await ack_after(ack, run_button(action_id, services, request))
        if refusal is not None:
            await respond_later(services, request, refusal)

    return on_click


def register(app: AsyncApp) -> None:
    for action_id in _BUTTONS:
        app.action(action_id.value)(_listener(action_id))
