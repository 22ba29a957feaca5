"""Events: brief people who join an incident channel after it opened, and put the join on the record."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.core import incidents
from bot.core.timeline import EventKind, record_event
from bot.slack import blocks
from bot.slack.errors import SlackError
from handlers.slack.context import services_of


async def on_member_joined(event: dict[str, Any], context: AsyncBoltContext) -> None:
    services = services_of(context)
    channel_id, user_id = event.get("channel"), event.get("user")
    if not isinstance(channel_id, str) or not isinstance(user_id, str) or not 0 < len(user_id) <= 32 \
            or user_id == context.bot_user_id:
        return
    incident = await services.core.read(lambda s: incidents.incident_for_channel(s, channel_id=channel_id))
    if incident is None:
        return
    services.metrics.slack_requests.labels(kind="event", name="member_joined_channel").inc()
    # On the record, because a runbook step ("join the incident channel") ticks itself by it.
    await services.core.change(
        actor=user_id, action="incident.join", incident_id=incident.id,
        apply=lambda session, now: record_event(session, incident_id=incident.id, kind=EventKind.JOINED,
                                                actor=user_id, now=now, text="joined the incident channel",
                                                announce=False))
    try:
        await services.gateway.post_ephemeral(
            channel_id, user_id, text=f"Welcome to incident #{incident.number}",
            blocks=blocks.welcome(incident, severity_names=services.severity_names),
        )
    except SlackError:
        # A welcome is a courtesy; the pinned headline holds the same facts.
        return


def register(app: AsyncApp) -> None:
    app.event("member_joined_channel")(on_member_joined)
