"""`/incident status <text>`: a status update for everyone following the incident. Without
text, a form opens with a draft of the update written from what the bot knows."""

from __future__ import annotations

import asyncio
from functools import partial

from bot.core import notices
from handlers.slack.commands.base import (
    Invocation,
    Subcommand,
    UsageError,
    change_channel_incident,
)
from handlers.slack.context import ACK_BUDGET_SECONDS, Reply, respond_later
from handlers.slack.errors import message_for
from handlers.slack.update_modal import prepare_modal, show_modal


async def run(invocation: Invocation) -> None:
    text = invocation.args.strip()
    if not text:
        await open_draft(invocation)
        return
    await change_channel_incident(
        # Also to the named audiences the config sends this severity's updates to.
        invocation, action="incident.status_update",
        change=partial(notices.post_update, config=invocation.services.config),
        done=lambda incident: f"📣 Status update posted to incident #{incident.number}.",
        text=text,
    )


async def open_draft(invocation: Invocation) -> None:
    """A refusal (not an incident channel, a resolved incident) is the command's answer; the
    form opens after the ack, while the trigger id is still good."""
    services, request = invocation.services, invocation.request
    if not request.trigger_id:
        raise UsageError("Write the update after `status`: what is known, what is being done, what is next.")
    prepared = asyncio.ensure_future(prepare_modal(services, request))
    await asyncio.wait({prepared}, timeout=ACK_BUDGET_SECONDS)
    refusal = prepared.exception() if prepared.done() else None
    if refusal is not None:
        await invocation.ack(**Reply(text=message_for(refusal, metrics=services.metrics)).ack_kwargs())
        return
    await invocation.ack()
    try:
        view = await prepared
    except Exception as exc:  # every failure becomes a message for the person
        await respond_later(services, request, Reply(text=message_for(exc, metrics=services.metrics)))
        return
    await show_modal(services, request, view)


SUBCOMMAND = Subcommand(name="status", usage="status [text]",
                        summary="Post a status update. Without text, a form opens with a draft.", run=run,
                        aliases=("update",))
