"""`/incident list`: the open incidents."""

from bot.core import incidents
from bot.core.confidential import is_confidential
from bot.slack import blocks
from handlers.slack.commands.base import Invocation, Subcommand, UsageError
from handlers.slack.context import Reply, answer_within_budget


async def run(invocation: Invocation) -> None:
    if invocation.args.strip():
        raise UsageError("`list` takes no arguments.")
    services = invocation.services

    async def work() -> Reply:
        open_incidents = list(await services.core.read(lambda session: incidents.list_open(session)))
        # A confidential incident shows its title only inside its own (private) channel.
        hidden = {i.id for i in open_incidents
                  if is_confidential(i, services.config) and i.channel_id != invocation.request.channel_id}
        return Reply(
            text=f"{len(open_incidents)} open incidents",
            blocks=blocks.open_incidents_listing(
                open_incidents, now=services.core.clock(), severity_names=services.severity_names,
                confidential=hidden,
            ),
        )

    await answer_within_budget(invocation.ack, services, invocation.request, work())


SUBCOMMAND = Subcommand(name="list", usage="list", summary="List the open incidents.", run=run, aliases=("ls",))
