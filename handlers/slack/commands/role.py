"""`/incident role <commander|scribe|comms> <@user>`: hand someone a role."""

from bot.core import incidents
from handlers.slack.commands.base import (
    Invocation,
    Subcommand,
    UsageError,
    change_channel_incident,
    parse_role,
    parse_user,
)


async def run(invocation: Invocation) -> None:
    tokens = invocation.args.split()
    if len(tokens) != 2:
        raise UsageError("Name a role and a person.")
    role, user = parse_role(tokens[0]), parse_user(tokens[1])
    await change_channel_incident(
        invocation, action="incident.role", change=incidents.assign_role,
        done=lambda incident: f"👤 <@{user}> is now {role.value} of incident #{incident.number}.",
        role=role, user_id=user,
    )


SUBCOMMAND = Subcommand(name="role", usage="role <commander|scribe|comms> <@user>",
                        summary="Give someone an incident role.", run=run)
