"""`/incident note <text>`: add a note to the timeline."""

from bot.core import incidents
from handlers.slack.commands.base import (
    Invocation,
    Subcommand,
    UsageError,
    change_channel_incident,
)


async def run(invocation: Invocation) -> None:
    text = invocation.args.strip()
    if not text:
        raise UsageError("Write the note after `note`.")
    await change_channel_incident(
        invocation, action="incident.note", change=incidents.add_note,
        done=lambda incident: f"📝 Note added to the timeline of incident #{incident.number}.",
        text=text,
    )


SUBCOMMAND = Subcommand(name="note", usage="note <text>", summary="Add a note to the timeline.", run=run)
