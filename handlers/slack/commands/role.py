"""`/incident role <commander|scribe|comms> <@user>`: hand someone a role, if you may."""

from bot.core.actions import role_assignment
from handlers.slack.commands.base import (
    Invocation,
    Subcommand,
    UsageError,
    channel_incident,
    parse_role,
    parse_user,
)
from handlers.slack.context import Reply, answer_within_budget


async def run(invocation: Invocation) -> None:
    tokens = invocation.args.split()
    if len(tokens) != 2:
        raise UsageError("Name a role and a person.")
    role, user = parse_role(tokens[0]), parse_user(tokens[1])
    services = invocation.services

    async def work() -> Reply:
        incident = await channel_incident(invocation)
        changed = await role_assignment.assign_role(
            core=services.core, authorizer=services.actions.authorizer, actor=invocation.request.user_id,
            incident_id=incident.id, role=role, user_id=user, via="command",
        )
        return Reply(text=f"👤 <@{user}> is now {role.value} of incident #{changed.number}.")

    await answer_within_budget(invocation.ack, services, invocation.request, work())


SUBCOMMAND = Subcommand(name="role", usage="role <commander|scribe|comms> <@user>",
                        summary="Give someone an incident role.", run=run)
