"""`/incident resolve [summary]`: the impact is over and the cause is dealt with."""

from bot.core import incidents
from handlers.slack.commands.base import Invocation, Subcommand, change_channel_incident


async def run(invocation: Invocation) -> None:
    await change_channel_incident(
        invocation, action="incident.resolve", change=incidents.resolve,
        done=lambda incident: f"✅ Incident #{incident.number} is resolved.",
        summary=invocation.args.strip() or None,
    )


SUBCOMMAND = Subcommand(name="resolve", usage="resolve [summary]",
                        summary="Resolve the incident, with an optional summary.", run=run)
