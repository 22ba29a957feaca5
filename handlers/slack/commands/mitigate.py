"""`/incident mitigate [note]`: the impact has stopped; the cause is not fixed yet."""

from bot.core import incidents
from handlers.slack.commands.base import Invocation, Subcommand, change_channel_incident


async def run(invocation: Invocation) -> None:
    await change_channel_incident(
        invocation, action="incident.mitigate", change=incidents.mitigate,
        done=lambda incident: f"🩹 Incident #{incident.number} is marked mitigated.",
        note=invocation.args.strip() or None,
    )


SUBCOMMAND = Subcommand(name="mitigate", usage="mitigate [note]",
                        summary="Impact stopped, cause not yet fixed.", run=run)
