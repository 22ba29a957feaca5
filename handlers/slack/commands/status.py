"""`/incident status <text>`: a status update for everyone following the incident."""

from bot.core import incidents
from handlers.slack.commands.base import Invocation, Subcommand, UsageError, change_channel_incident


async def run(invocation: Invocation) -> None:
    text = invocation.args.strip()
    if not text:
        raise UsageError("Write the update after `status`: what is known, what is being done, what is next.")
    await change_channel_incident(
        invocation, action="incident.status_update", change=incidents.post_status_update,
        done=lambda incident: f"📣 Status update posted to incident #{incident.number}.",
        text=text,
    )


SUBCOMMAND = Subcommand(name="status", usage="status <text>", summary="Post a status update.", run=run,
                        aliases=("update",))
