"""`/incident ack`: someone is on it."""

from bot.core import incidents
from handlers.slack.commands.base import (
    Invocation,
    Subcommand,
    UsageError,
    change_channel_incident,
)


async def run(invocation: Invocation) -> None:
    if invocation.args.strip():
        raise UsageError("`ack` takes no arguments.")
    await change_channel_incident(
        invocation, action="incident.acknowledge", change=incidents.acknowledge,
        done=lambda incident: f"👀 You acknowledged incident #{incident.number}.",
    )


SUBCOMMAND = Subcommand(name="ack", usage="ack", summary="Acknowledge the incident: you are on it.",
                        run=run, aliases=("acknowledge",))
