"""`/incident postmortem`: write a new postmortem draft now and post it for review."""

from __future__ import annotations

from bot.core import postmortems
from handlers.slack.commands.base import (
    Invocation,
    Subcommand,
    UsageError,
    channel_incident,
)
from handlers.slack.context import Reply, answer_within_budget


async def run(invocation: Invocation) -> None:
    if invocation.args.strip():
        raise UsageError("`postmortem` takes no arguments.")
    services, actor = invocation.services, invocation.request.user_id

    async def work() -> Reply:
        incident = await channel_incident(invocation)
        await services.core.change(
            actor=actor, action="postmortem.draft", incident_id=incident.id,
            apply=lambda session, now: postmortems.request_draft(session, incident_id=incident.id,
                                                                 reason=f"asked for by <@{actor}>", actor=actor,
                                                                 now=now))
        return Reply(text=f"📝 Writing a postmortem draft for incident #{incident.number}; it will be posted here "
                          "for review in a moment.")

    await answer_within_budget(invocation.ack, services, invocation.request, work())


SUBCOMMAND = Subcommand(name="postmortem", usage="postmortem",
                        summary="Write a postmortem draft from the record and post it for review.", run=run,
                        aliases=("pm", "review"))
