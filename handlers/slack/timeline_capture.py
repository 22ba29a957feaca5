"""Putting Slack messages on the timeline: a 📌 reaction, the "Add to timeline" shortcut, and edits.

Events are acked by Bolt as they arrive; the work after is a couple of reads from Slack and
one transaction. Messages outside incident channels are passed over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import captures, incidents
from bot.core.errors import CoreError
from bot.slack.captured import PIN_REACTIONS, captured_from
from bot.slack.errors import SlackError
from bot.slack.ids import CallbackId
from handlers.payloads import object_or_empty
from handlers.services import Services
from handlers.slack.context import Ack, Reply, Request, respond_later, services_of
from storage.models import Incident, TimelineEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pin:
    """A 📌 added or taken back on a message in an incident channel."""

    services: Services
    incident: Incident
    channel_id: str
    ts: str
    user: str


async def _pin(event: dict[str, Any], context: AsyncBoltContext) -> Pin | None:
    """The pin this reaction event is about, or None for any other reaction or channel."""
    item = object_or_empty(event.get("item"))
    if event.get("reaction") not in PIN_REACTIONS or item.get("type") != "message":
        return None
    channel_id, ts, user = (str(v) if isinstance(v, str) else "" for v in
                            (item.get("channel"), item.get("ts"), event.get("user")))
    if not (channel_id and ts and user):
        return None
    services = services_of(context)
    incident = await _incident(services, channel_id)
    if incident is None:
        return None
    services.metrics.slack_requests.labels(kind="event", name=str(event.get("type"))).inc()
    return Pin(services, incident, channel_id, ts, user)


async def _incident(services: Services, channel_id: str) -> Incident | None:
    return await services.core.read(lambda s: incidents.incident_for_channel(s, channel_id=channel_id))


async def _capture(services: Services, *, incident: Incident, channel_id: str, message: dict[str, Any], by: str,
                   how: str) -> bool:
    permalink = ""
    try:
        permalink = await services.gateway.permalink(channel_id, str(message.get("ts")))
    except SlackError as exc:  # the entry is still worth having without its link
        log.warning("no permalink for %s/%s: %s", channel_id, message.get("ts"), exc)
    captured = captured_from(message, permalink=permalink)
    if not captured.ts:
        return False

    async def apply(session: AsyncSession, now: datetime) -> bool:
        _, new = await captures.capture(session, incident_id=incident.id, message=captured, by=by, how=how, now=now)
        return new

    return await services.core.change(actor=by, action="timeline.capture", incident_id=incident.id, apply=apply,
                                      detail={"ts": captured.ts, "how": how})


async def on_reaction_added(event: dict[str, Any], context: AsyncBoltContext) -> None:
    pin = await _pin(event, context)
    if pin is None:
        return
    try:
        message = await pin.services.gateway.get_message(pin.channel_id, pin.ts)
        new = await _capture(pin.services, incident=pin.incident, channel_id=pin.channel_id, message=message,
                             by=pin.user, how="reaction")
    except (SlackError, CoreError) as exc:
        log.warning("could not capture %s/%s: %s", pin.channel_id, pin.ts, exc)
        return
    if new:
        await _tell(pin.services, pin.channel_id, pin.user,
                    f"📌 Added to the timeline of incident #{pin.incident.number}. "
                    "Remove your 📌 to take it off again.")


async def on_reaction_removed(event: dict[str, Any], context: AsyncBoltContext) -> None:
    pin = await _pin(event, context)
    if pin is None:
        return
    incident_id, ts, user = pin.incident.id, pin.ts, pin.user
    try:
        await pin.services.core.change(
            actor=user, action="timeline.release", incident_id=incident_id, detail={"ts": ts},
            apply=lambda session, now: captures.release(session, incident_id=incident_id, message_ts=ts, by=user))
    except CoreError as exc:
        log.warning("could not release %s/%s: %s", pin.channel_id, ts, exc)


async def on_message(event: dict[str, Any], context: AsyncBoltContext) -> None:
    """Edits to a captured message follow it onto the timeline; every other message is ignored."""
    if event.get("subtype") != "message_changed":
        return
    message = object_or_empty(event.get("message"))
    channel_id = event.get("channel")
    if not isinstance(message.get("ts"), str) or not isinstance(channel_id, str) or not channel_id:
        return
    services = services_of(context)
    incident = await _incident(services, channel_id)
    if incident is None:
        return
    edited = captured_from(message)

    async def apply(session: AsyncSession, now: datetime) -> TimelineEvent | None:
        return await captures.edit(session, incident_id=incident.id, message=edited, now=now)

    async def is_captured(session: AsyncSession) -> TimelineEvent | None:
        return await captures.find_capture(session, incident_id=incident.id, message_ts=edited.ts)

    # Most edits are of messages nobody pinned: look before writing an audit row for each.
    if await services.core.read(is_captured) is None:
        return
    services.metrics.slack_requests.labels(kind="event", name="message_changed").inc()
    await services.core.change(actor=str(message.get("user") or "slack"), action="timeline.edit",
                               incident_id=incident.id, apply=apply, detail={"ts": edited.ts})


async def on_add_to_timeline(ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await ack()
    services = services_of(context)
    services.metrics.slack_requests.labels(kind="shortcut", name=CallbackId.ADD_TO_TIMELINE_SHORTCUT.value).inc()
    channel_id = str(object_or_empty(body.get("channel")).get("id") or "")
    user = str(object_or_empty(body.get("user")).get("id") or "")
    message = object_or_empty(body.get("message"))
    response_url = body.get("response_url") if isinstance(body.get("response_url"), str) else None
    request = Request(user_id=user, channel_id=channel_id or None, response_url=response_url)
    incident = await _incident(services, channel_id) if channel_id else None
    if incident is None or not isinstance(message.get("ts"), str) or not message.get("ts"):
        await respond_later(services, request, Reply(
            text="⚠️ Only messages in an incident channel can go on a timeline."))
        return
    try:
        new = await _capture(services, incident=incident, channel_id=channel_id, message=message, by=user,
                             how=captures.SHORTCUT)
    except CoreError as exc:
        await respond_later(services, request, Reply(text=f"⚠️ {exc}"))
        return
    said = "Added to" if new else "Already on"
    await respond_later(services, request, Reply(text=f"📌 {said} the timeline of incident #{incident.number}."))


async def _tell(services: Services, channel_id: str, user: str, text: str) -> None:
    try:
        await services.gateway.post_ephemeral(channel_id, user, text=text)
    except SlackError as exc:  # a courtesy; the entry is made either way
        log.info("could not tell %s: %s", user, exc)


def register(app: AsyncApp) -> None:
    app.event("reaction_added")(on_reaction_added)
    app.event("reaction_removed")(on_reaction_removed)
    app.event("message")(on_message)
    app.shortcut(CallbackId.ADD_TO_TIMELINE_SHORTCUT.value)(on_add_to_timeline)
