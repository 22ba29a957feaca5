"""`/incident timeline`: what has happened so far, shown to you."""

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import timeline as core_timeline
from bot.slack import blocks
from handlers.slack.commands.base import (
    Invocation,
    Subcommand,
    UsageError,
    channel_incident,
)
from handlers.slack.context import Reply, answer_within_budget
from storage.models import TimelineEvent

SHOWN = 40


async def run(invocation: Invocation) -> None:
    if invocation.args.strip():
        raise UsageError("`timeline` takes no arguments.")

    async def work() -> Reply:
        incident = await channel_incident(invocation)

        async def load(session: AsyncSession) -> list[TimelineEvent]:
            events = await core_timeline.list_events(session, incident_id=incident.id)
            return list(events)

        events = await invocation.services.core.read(load)
        shown = events[-SHOWN:]
        return Reply(
            text=f"Timeline of incident #{incident.number}: {len(events)} events",
            blocks=blocks.timeline_listing(incident, shown, total=len(events)),
        )

    await answer_within_budget(invocation.ack, invocation.services, invocation.request, work())


SUBCOMMAND = Subcommand(name="timeline", usage="timeline", summary="Show the incident's timeline to you.", run=run)
